"""Ingestion: cleaning, passage splitting, corpus files, and bad sources."""

from __future__ import annotations

import hashlib
import time
import os
import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa_service.cli import main
from qa_service.errors import CorpusError, IngestError
from qa_service.ingest import (
    clean_lines,
    ingest_bytes,
    ingest_file,
    ingest_paths,
    ingest_to,
    load_corpus,
    split_passages,
    update_corpus,
    write_corpus,
)
from qa_service.values import Corpus
from qa_service.text import sentence_spans, word_count

ROOT = Path(__file__).resolve().parent.parent
SEED = next((ROOT / "seeds").glob("*.txt"))


def test_cleaning_drops_navigation_and_duplicates_and_keeps_headline() -> None:
    lines = [
        "Skip to content", "", "Storm hits the coast of Norway", "", "Latest", "Share this article",
        "The storm reached the coast on Monday night.", "The storm reached the coast on Monday night.",
        "Storm hits the coast of Norway", "  1. Roads were closed across the region.",
        "- Ferries stopped running.", "Read also:", "Weather", "Advertisement",
    ]
    title, paragraphs = clean_lines(lines)
    assert title == "Storm hits the coast of Norway"
    assert paragraphs == ["The storm reached the coast on Monday night.",
                          "Roads were closed across the region.", "Ferries stopped running."]


def test_bundled_article_is_cleaned() -> None:
    document, passages = ingest_file(SEED)
    assert document.title.startswith("Armenia withdraws envoy from Belarus")
    for junk in ("Skip to content", "Read also", "Latest"):
        assert junk not in document.text
    assert document.text.count("Russia feels provoked by Armenia's friendly overtures towards Ukraine.") == 1
    assert "1. The ongoing troubles" not in document.text and "The ongoing troubles" in document.text
    # the headline is the title, and the text's first paragraph (searchable, citable), once
    assert document.text.startswith(document.title + "\n\n")
    assert document.text.count("Armenia withdraws envoy") == 1


def test_passages_have_stable_ids_offsets_and_whole_sentences() -> None:
    document, passages = ingest_file(SEED)
    assert [p.id for p in passages] == [f"{document.id}-p{i:03d}" for i in range(1, len(passages) + 1)]
    sentences = {document.text[s:e] for s, e in sentence_spans(document.text)}
    for p in passages:
        assert document.text[p.start : p.end] == p.text
        # every passage is a run of whole sentences: it starts and ends on sentence boundaries
        inner = [p.text[s:e] for s, e in sentence_spans(p.text)]
        assert all(s in sentences for s in inner), p.id
    words = [word_count(p.text) for p in passages]
    assert max(words) <= 90 and sum(words) / len(words) >= 30


@pytest.mark.parametrize("target", [20, 40, 60, 120], ids=lambda t: f"target-{t}")
def test_split_respects_target_size(target: int) -> None:
    sentence = "The committee met on Tuesday and agreed on a new budget for the year. "
    text = "\n\n".join(sentence * n for n in (1, 2, 9, 3, 14, 1))
    passages = split_passages("doc", text.strip(), target)
    for p in passages:
        assert word_count(p.text) <= target * 3 // 2 or len(sentence_spans(p.text)) == 1
        assert p.text.endswith(".")
    assert "".join(p.text for p in passages).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")


def test_a_single_long_sentence_is_never_cut() -> None:
    text = " ".join(["word"] * 300) + "."
    (passage,) = split_passages("doc", text, 40)
    assert passage.text == text


def test_html_and_markdown_sources(tmp_path: Path) -> None:
    html = tmp_path / "page.html"
    html.write_text(
        "<html><head><title>Site | Page</title><script>var x = 'secret script';</script></head><body>"
        "<nav><a href='/'>Home</a> <a href='/news'>News about everything today</a></nav>"
        "<h1>Bridge reopens after repairs</h1><p>The old bridge reopened on Friday after two years of work.</p>"
        "<ul><li>Cars may cross again from Monday.</li></ul><footer>Copyright notice for the site.</footer>"
        "</body></html>",
        encoding="utf-8",
    )
    md = tmp_path / "notes.md"
    md.write_text("# Garden notes\n\nTomatoes need **full sun** and [regular](http://x) watering.\n\n"
                  "* Basil grows well beside them.\n", encoding="utf-8")
    corpus = ingest_paths([tmp_path], target_words=30)
    docs = {d.id: d for d in corpus.documents}
    assert docs["page"].title == "Bridge reopens after repairs"
    assert "secret script" not in docs["page"].text and "News about" not in docs["page"].text
    assert "Copyright" not in docs["page"].text
    assert "Cars may cross again from Monday." in docs["page"].text
    assert docs["notes"].title == "Garden notes"
    assert docs["notes"].text == ("Garden notes\n\nTomatoes need full sun and regular watering.\n\n"
                                  "Basil grows well beside them.")
    assert docs["page"].text.startswith("Bridge reopens after repairs\n\n")
    assert docs["page"].text.count("Bridge reopens after repairs") == 1


def test_rebuilding_the_bundled_corpus_gives_identical_files(tmp_path: Path) -> None:
    manifest = json.loads((ROOT / "corpus" / "manifest.json").read_text())
    code = main(["index", str(ROOT / "seeds"), "--out", str(tmp_path), "--passage-words", str(manifest["passage_words"])])
    assert code == 0
    for name in ("documents.jsonl", "passages.jsonl", "manifest.json"):
        assert (tmp_path / name).read_bytes() == (ROOT / "corpus" / name).read_bytes(), name


# sha256 of the article as published to us (seed 000_c4eb1e42974b06b8.txt)
SEED_SHA256 = "5001881d312c6187b2bdfad8c9e2db6c9c34e44df7e761ff92341f28c134117f"


def test_seed_is_the_shared_article_byte_for_byte() -> None:
    assert hashlib.sha256(SEED.read_bytes()).hexdigest() == SEED_SHA256
    document, _ = ingest_file(SEED)
    assert document.sha256 == SEED_SHA256  # the corpus records which version it was built from


BAD_SOURCES = {
    "missing": None,
    "empty": b"",
    "blank": b"   \n\n  ",
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "latin1": "Caf\xe9 cr\xe8me".encode("latin-1"),
    "only-boilerplate": b"Skip to content\nLatest\nRead also:\n",
}


@pytest.mark.parametrize("kind", list(BAD_SOURCES), ids=list(BAD_SOURCES))
def test_bad_source_gives_one_line_error_and_non_zero_exit(tmp_path: Path, kind: str) -> None:
    src = tmp_path / f"{kind}.txt"
    if BAD_SOURCES[kind] is not None:
        src.write_bytes(BAD_SOURCES[kind])
    result = subprocess.run(
        [sys.executable, "-m", "qa_service", "index", str(src), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(src) in lines[0]
    with pytest.raises(IngestError):
        ingest_file(src)


def test_unsupported_suffix_and_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "data.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")  # old Word: not taken
    with pytest.raises(IngestError, match="unsupported"):
        ingest_paths([tmp_path / "data.doc"])
    with pytest.raises(IngestError, match="no .txt"):
        ingest_paths([tmp_path])


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("passages.jsonl", "{not json\n", "invalid JSON"),
        ("passages.jsonl", "[1, 2]\n", "expected a JSON object"),
        ("passages.jsonl", "", "no passages"),
        ("documents.jsonl", '{"id": 5}\n', "field 'id'"),
        ("passages.jsonl", None, "missing"),
    ],
    ids=["bad-json", "not-object", "empty", "wrong-type", "missing-file"],
)
def test_broken_corpus_is_refused_with_the_file_named(tmp_path: Path, file: str, content: str | None,
                                                      message: str) -> None:
    write_corpus(ingest_paths([SEED]), tmp_path, 60)
    target = tmp_path / file
    if content is None:
        target.unlink()
    else:
        target.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match=message) as info:
        load_corpus(tmp_path)
    assert file in str(info.value)


def test_passage_that_does_not_match_its_document_is_refused(tmp_path: Path) -> None:
    write_corpus(ingest_paths([SEED]), tmp_path, 60)
    lines = (tmp_path / "passages.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    record["text"] = "Edited by hand."
    lines[0] = json.dumps(record)
    (tmp_path / "passages.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(CorpusError, match="does not match"):
        load_corpus(tmp_path)


def test_cli_on_a_broken_corpus_exits_non_zero_with_a_message(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "documents.jsonl").write_text("oops\n")
    assert main(["ask", "anything", "--corpus", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "documents.jsonl" in err and err.count("\n") == 1


def test_word_count() -> None:
    assert word_count("  one two\nthree ") == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [({"format": 99}, "corpus format 99"), ({"passages": 1}, "says 1 passages"), (None, "missing")],
    ids=["other-format", "wrong-count", "missing"],
)
def test_the_manifest_is_checked(tmp_path: Path, change: dict | None, message: str) -> None:
    write_corpus(ingest_paths([SEED]), tmp_path, 60)
    manifest = tmp_path / "manifest.json"
    if change is None:
        manifest.unlink()
    else:
        manifest.write_text(json.dumps({**json.loads(manifest.read_text()), **change}))
    with pytest.raises(CorpusError, match=message) as info:
        load_corpus(tmp_path)
    assert "manifest.json" in str(info.value)


def test_a_broken_question_set_is_a_broken_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_corpus(ingest_paths([SEED]), tmp_path, 60)
    (tmp_path / "questions.jsonl").write_text('{"id": "a", "question": "?"}\n{oops\n')
    assert main(["ask", "anything", "--corpus", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "questions.jsonl:2: invalid JSON" in err and err.count("\n") == 1


@pytest.mark.parametrize("file", ["passages.jsonl", "documents.jsonl", "questions.jsonl", "manifest.json"])
def test_deeply_nested_json_in_a_corpus_file_is_one_line(tmp_path: Path, file: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Once a defect: '[' * 200000 gave a RecursionError traceback."""
    write_corpus(ingest_paths([SEED]), tmp_path, 60)
    (tmp_path / file).write_text("[" * 200_000 + "\n", encoding="utf-8")
    assert main(["ask", "anything", "--corpus", str(tmp_path), "--semantic", "false"]) == 1
    err = capsys.readouterr().err
    assert file in err and "nested too deeply" in err and err.count("\n") == 1


def test_negative_or_reversed_offsets_are_refused(tmp_path: Path) -> None:
    write_corpus(ingest_paths([SEED]), tmp_path, 60)
    lines = (tmp_path / "passages.jsonl").read_text().splitlines()
    record = json.loads(lines[-1])
    document_length = len(json.loads((tmp_path / "documents.jsonl").read_text().splitlines()[0])["text"])
    # the same start counted from the end of the document: Python's slicing would accept it
    record["start"] = record["start"] - document_length
    lines[-1] = json.dumps(record)
    (tmp_path / "passages.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(CorpusError, match="does not match"):
        load_corpus(tmp_path)


def test_links_that_leave_the_source_folder_are_refused(tmp_path: Path) -> None:
    """Once a defect: a `creds.txt` link to a file elsewhere was indexed and served."""
    src, elsewhere = tmp_path / "src", tmp_path / "elsewhere"
    src.mkdir()
    elsewhere.mkdir()
    (src / "notes.txt").write_text("Garden notes\n\nThe garden needs water every morning in summer.\n")
    (elsewhere / "secret.txt").write_text("Secret things\n\nThe password is hunter2 and nobody should see it.\n")
    (src / "creds.txt").symlink_to(elsewhere / "secret.txt")
    with pytest.raises(IngestError, match="creds.txt: a link to a file outside"):
        ingest_paths([src])
    (src / "creds.txt").unlink()
    (src / "more").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(IngestError, match="more: a link to a folder outside"):
        ingest_paths([src])
    (src / "more").unlink()
    (src / "again.txt").symlink_to(src / "notes.txt")  # a link that stays inside is fine
    assert {d.source for d in ingest_paths([src]).documents} == {"notes.txt", "again.txt"}


def test_a_huge_source_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.txt"
    with big.open("wb") as f:
        f.truncate(21 * 1024 * 1024)  # sparse: 21 MiB on paper
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("the file was read"))
    with pytest.raises(IngestError, match="larger than 20 MiB"):
        ingest_paths([big])


def test_a_file_name_that_is_not_utf8_is_one_line_and_the_old_corpus_stays(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Once a defect: a cryptic encoding error, and documents.jsonl left empty beside the old passages."""
    out = tmp_path / "corpus"
    assert main(["index", str(SEED), "--out", str(out), "--semantic", "false"]) == 0
    before = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert "bm25-index/meta.json" in before  # the saved index stays too
    src = tmp_path / "src"
    src.mkdir()
    bad_name = os.fsdecode(b"caf\xe9.txt")
    (src / bad_name).write_text("Cafe hours\n\nThe cafe opens at eight and closes at six.\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["index", str(src), "--out", str(out), "--semantic", "false"]) == 1
    err = capsys.readouterr().err
    assert "not valid UTF-8" in err and "caf" in err and err.count("\n") == 1
    assert {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


_SIZE = 100_000
_ADVERSARIAL = {
    "dots.txt": "A title for it\n\nWait" + "." * _SIZE,  # once 27 s for 40,000 dots: sentence ends
    "stars.md": "# A title\n\n" + " *a" * (_SIZE // 3),  # once 13.5 s for 16,000: emphasis
    "underscores.md": "# A title\n\n" + " _a" * (_SIZE // 3),
    "brackets.md": "# A title\n\n" + "[" * _SIZE + " word.",  # links
    "links.md": "# A title\n\n" + "[a](" * (_SIZE // 4) + " word.",
    "heading.md": "# A title" + " " * _SIZE + "#x\n\nSome text that is a sentence.",  # closing #s
    "quotes.txt": "A title for it\n\nEnd." + '"' * _SIZE + " Next sentence here.",
}


def _ingest_seconds(path: Path) -> float:
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        try:
            ingest_file(path)
        except IngestError:
            pass
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("name", sorted(_ADVERSARIAL))
def test_hostile_sources_cost_about_what_a_normal_file_of_their_size_does(tmp_path: Path, name: str) -> None:
    """A ratio against a normal file of the same size in the same run, not a wall-clock limit:
    a quadratic pattern makes these hundreds of times slower."""
    normal = tmp_path / "normal.txt"
    normal.write_text("A title for it\n\n" + ("The committee met in the hall and agreed on a plan. " * 2500)[:_SIZE])
    hostile = tmp_path / name
    hostile.write_text(_ADVERSARIAL[name])
    assert _ingest_seconds(hostile) < 25 * max(_ingest_seconds(normal), 0.005)


# ---------------------------------------------------------------- PDF and Word sources


def _pdf_and_docx_folder(folder: Path) -> Path:
    from documents import flowing, make_docx, make_pdf

    folder.mkdir()
    (folder / "survey.pdf").write_bytes(make_pdf([
        flowing(["The survey of the valley counted nine hundred oak trees in the spring, most of them",
                 "on the southern slope, where the soil is deeper and holds water through the summer."]),
        flowing(["On the second page the survey turns to the beeches, which grow only near the stream",
                 "and suffered badly in the drought of the previous year, losing about a fifth of their crowns."]),
    ], title="Valley tree survey"))
    (folder / "minutes.docx").write_bytes(make_docx(lambda d: (
        d.add_heading("Minutes of the parish council", level=1),
        d.add_paragraph("The council agreed to repair the footbridge over the stream before the winter."))))
    (folder / "notes.txt").write_text("Garden notes\n\nThe garden needs water every morning in summer.\n")
    return folder


def test_a_folder_of_pdf_docx_and_text_becomes_one_corpus_with_pages(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    assert main(["index", str(_pdf_and_docx_folder(tmp_path / "src")), "--out", str(out), "--semantic", "false"]) == 0
    corpus = load_corpus(out)
    docs = {d.id: d for d in corpus.documents}
    assert {(d.kind, d.pages, d.source) for d in docs.values()} == {
        ("pdf", 2, "survey.pdf"), ("docx", None, "minutes.docx"), ("text", None, "notes.txt")}
    assert docs["minutes"].title == "Minutes of the parish council"
    survey = [p for p in corpus.passages if p.document == "survey"]
    assert next(p.page for p in survey if "oak trees" in p.text) == 1
    assert next(p.last_page for p in survey if "beeches" in p.text) == 2
    assert all(p.page is None and p.last_page is None for p in corpus.passages if p.document != "survey")
    records = [json.loads(line) for line in (out / "passages.jsonl").read_text().splitlines()]
    assert all(("page" in r) == (r["document"] == "survey") for r in records)  # written only when set
    documents = [json.loads(line) for line in (out / "documents.jsonl").read_text().splitlines()]
    assert [sorted(set(d) - {"id", "title", "source", "sha256", "text"}) for d in documents] == \
        [["kind"], [], ["kind", "pages"]]  # minutes.docx, notes.txt, survey.pdf


def test_ingest_bytes_gives_what_ingest_file_gives(tmp_path: Path) -> None:
    folder = _pdf_and_docx_folder(tmp_path / "src")
    for path in sorted(folder.iterdir()):
        assert ingest_bytes(path.read_bytes(), path.name) == ingest_file(path), path.name
    document, _ = ingest_bytes((folder / "notes.txt").read_bytes(), "uploads/My Notes (final).txt")
    assert (document.id, document.source) == ("my-notes-final", "My Notes (final).txt")


@pytest.mark.parametrize(
    ("change", "message"),
    [({"page": 0}, "'page' must be a whole number from 1"), ({"page": "2"}, "'page' must be a whole number"),
     ({"page": True}, "'page' must be a whole number"), ({"page": 2, "last_page": 1}, "'page' 2 is after 'last_page' 1"),
     ({"last_page": 1}, "'last_page' without 'page'"), ({"page": 1, "last_page": 3}, "page 3 of a document of 2 pages")],
    ids=["zero", "string", "bool", "reversed", "last-alone", "past-the-end"],
)
def test_bad_page_numbers_in_a_corpus_are_refused(tmp_path: Path, change: dict, message: str) -> None:
    folder = _pdf_and_docx_folder(tmp_path / "src")
    write_corpus(ingest_paths([folder / "survey.pdf"]), tmp_path / "out", 60)
    path = tmp_path / "out" / "passages.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[0] = {k: v for k, v in records[0].items() if k not in ("page", "last_page")} | change
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(CorpusError, match=message) as info:
        load_corpus(tmp_path / "out")
    assert "passages.jsonl:1" in str(info.value)


@pytest.mark.parametrize(("change", "message"), [({"kind": "exe"}, "'kind' must be one of"),
                                                 ({"pages": -1}, "'pages' must be a whole number")],
                         ids=["kind", "pages"])
def test_bad_document_kinds_and_page_counts_are_refused(tmp_path: Path, change: dict, message: str) -> None:
    write_corpus(ingest_paths([SEED]), tmp_path, 60)
    path = tmp_path / "documents.jsonl"
    path.write_text(json.dumps(json.loads(path.read_text()) | change) + "\n")
    with pytest.raises(CorpusError, match=message):
        load_corpus(tmp_path)


def test_a_corpus_written_before_pages_existed_still_loads(tmp_path: Path) -> None:
    corpus = load_corpus(ROOT / "corpus")  # the committed corpus has neither kinds nor pages
    assert corpus.documents[0].kind == "text" and corpus.documents[0].pages is None
    assert all(p.page is None for p in corpus.passages)


def test_one_bad_file_among_good_ones_leaves_the_old_corpus_as_it_was(tmp_path: Path) -> None:
    from documents import flowing, make_pdf

    folder = _pdf_and_docx_folder(tmp_path / "src")
    out = tmp_path / "corpus"
    ingest_to([folder], out, 60)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (folder / "later.pdf").write_bytes(make_pdf([flowing(["More about the valley", "",
                                                           "The oaks on the northern slope are younger."])]))
    (folder / "scan.pdf").write_bytes(bytes(make_pdf([[]]))[:300])  # a PDF with no readable page
    with pytest.raises(IngestError, match="scan.pdf: "):
        ingest_to([folder], out, 60)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize(("data", "name", "message"),
                         [(b"x" * (20 * 1024 * 1024 + 1), "big.txt", "big.txt: larger than 20 MiB"),
                          (b"Some words here.", "../", "'../': not a file name")],
                         ids=["too-big", "no-name"])
def test_ingest_bytes_refuses_what_a_file_would_not_be(data: bytes, name: str, message: str) -> None:
    with pytest.raises(IngestError) as info:
        ingest_bytes(data, name)
    assert str(info.value) == message


@pytest.mark.parametrize("content", ["The ferry to Bornholm leaves Ystad at nine every morning.\n",
                                     "Sourdough needs a ripe starter\n"],
                         ids=["one-sentence", "one-short-line"])
def test_a_one_line_note_is_its_own_headline_and_its_text(content: str) -> None:
    """A note of one line is taken as the headline; it is the whole text too, not "no text left"."""
    document, passages = ingest_bytes(content.encode(), "note.txt")
    assert document.text == content.strip().rstrip(".") or document.text == content.strip()
    assert len(passages) == 1 and passages[0].text == document.text


def test_update_corpus_copies_unchanged_lines_and_writes_what_write_corpus_writes(tmp_path: Path) -> None:
    """Adding or removing a document copies the other records' lines: the files are byte for byte
    what a full write gives; a file edited by hand is written anew."""
    sources = tmp_path / "src"
    sources.mkdir()
    for name, text in (("a.txt", "Alpha river\n\nThe alpha river floods in spring, every year.\n"),
                       ("b.md", "# Beta hill\n\nThe beta hill is 300 metres high and steep.\n"),
                       ("c.txt", "Gamma lake\n\nThe gamma lake freezes in December.\n")):
        (sources / name).write_text(text, encoding="utf-8")
    full = ingest_paths([sources], target_words=30)
    two = Corpus(full.documents[:2], tuple(p for p in full.passages if p.document != "c"))
    fresh, updated = tmp_path / "fresh", tmp_path / "updated"

    def files(folder: Path) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}

    write_corpus(two, updated, 30)
    update_corpus(two, full, updated, 30)  # added
    write_corpus(full, fresh, 30)
    assert files(updated) == files(fresh)
    update_corpus(full, two, updated, 30)  # removed
    write_corpus(two, fresh, 30)
    assert files(updated) == files(fresh)
    lines = (updated / "passages.jsonl").read_text().splitlines(keepends=True)
    (updated / "passages.jsonl").write_text("".join([lines[1], lines[0], *lines[2:]]))  # reordered by hand
    update_corpus(two, full, updated, 30)  # the file no longer lines up: everything encoded again
    write_corpus(full, fresh, 30)
    assert files(updated) == files(fresh)
