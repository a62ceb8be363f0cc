"""`qa-service index` reads and tokenises source files in worker processes: what it writes (corpus
files and saved index, byte for byte) is the same whatever the number of workers, and a bad or
clashing source stops it with the same one line, leaving the old corpus as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

import qa_service.ingest as ingest
from qa_service.cli import main
from qa_service.index import INDEX_DIR, IndexBuilder, build_data, tokenise_passages
from qa_service.ingest import load_corpus
from qa_service.text import Tokenizer

from helpers import passages

TOPICS = [
    "The World Meteorological Organization (WMO) said the monsoon arrived late in Kerala.",
    "Engineers at the port of Rotterdam tested a self-steering tug; the Port Authority (PA) paid half.",
    "A well-known co-operative in Québec sells maple syrup to café owners in Montréal.",
    "The Hubble Space Telescope (HST) photographed a comet's tail on 4 March 2021, at 17:05.",
    "Farmers in Kenya's Rift Valley grow tea; the Tea Board of Kenya (TBK) set prices at $2.40 a kilo.",
    "Über-long hyphenated compounds like state-of-the-art appear in self-help books too.",
]


def _sources(folder: Path, files: int) -> Path:
    folder.mkdir()
    for i in range(files):
        first, second = TOPICS[i % len(TOPICS)], TOPICS[(i * 7 + 3) % len(TOPICS)]
        (folder / f"note-{i:03d}.txt").write_text(
            f"Note {i}: {first.split()[1]} and more\n\n{first} It was the {i}th report.\n\n"
            f"{second} Word{i} appears only here.\n", encoding="utf-8")
    return folder


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_corpus_and_index_are_the_same_byte_for_byte_with_one_or_three_workers(tmp_path: Path) -> None:
    src = _sources(tmp_path / "src", 3 * ingest._CHUNK_FILES + 5)
    outs = {}
    for workers in (1, 3):
        out = tmp_path / f"out{workers}"
        assert main(["index", str(src), "--out", str(out), "--semantic", "false",
                     "--index-workers", str(workers)]) == 0
        outs[workers] = _files(out)
    assert outs[1] == outs[3]
    assert f"{INDEX_DIR}/meta.json" in outs[1] and len(outs[1]) > 10


def test_what_workers_tokenise_adds_up_to_the_index_built_in_one_go() -> None:
    """``tokenise_passages`` of batches, added in order, is ``build_data`` of them all (each batch
    numbers its own terms; the builder maps them to the index's in order of first appearance)."""
    tokenizer = Tokenizer(lemmatize=True, stem=True, stopwords=True, split_hyphens=True, fold_accents=True,
                          language="english")
    texts = [t + f" Extra{i % 4} words." for i, t in enumerate(TOPICS * 3)]
    ps = passages(*texts)
    whole = build_data(ps, tokenizer)
    builder = IndexBuilder(tokenizer)
    for start, end in ((0, 1), (1, 7), (7, 7), (7, 18)):
        builder.add_tokenised(tokenise_passages(ps[start:end], tokenizer))
    pieces = builder.finish()
    assert pieces.terms == whole.terms and pieces.fingerprint == whole.fingerprint
    assert pieces.acronyms == whole.acronyms and set(pieces.arrays) == set(whole.arrays)
    for name, array in whole.arrays.items():
        assert array.dtype == pieces.arrays[name].dtype and array.tolist() == pieces.arrays[name].tolist(), name


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bad_source_among_many_stops_index_with_its_line_and_keeps_the_old_corpus(
        tmp_path: Path, workers: int, capsys: pytest.CaptureFixture[str]) -> None:
    src = _sources(tmp_path / "src", 2 * ingest._CHUNK_FILES + 4)
    out = tmp_path / "out"
    assert main(["index", str(src), "--out", str(out), "--semantic", "false"]) == 0
    before = _files(out)
    (src / "note-020.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (src / "note-030.txt").write_bytes(b"")  # a second bad file, later: the first one is reported
    capsys.readouterr()
    code = main(["index", str(src), "--out", str(out), "--semantic", "false", "--index-workers", str(workers)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "note-020.txt" in err[0] and "Traceback" not in err[0]
    assert _files(out) == before


@pytest.mark.parametrize("workers", [1, 2])
def test_two_sources_giving_one_document_id_are_refused_in_any_chunk(
        tmp_path: Path, workers: int, capsys: pytest.CaptureFixture[str]) -> None:
    src = _sources(tmp_path / "src", 2 * ingest._CHUNK_FILES + 4)
    (src / "sub").mkdir()
    (src / "sub" / "note-001.md").write_text("Another note\n\nSame id as note-001.txt.\n", encoding="utf-8")
    code = main(["index", str(src), "--out", str(tmp_path / "out"), "--semantic", "false",
                 "--index-workers", str(workers)])
    err = capsys.readouterr().err
    assert code != 0 and "already gives the document id 'note-001'" in err
    assert not (tmp_path / "out" / "passages.jsonl").exists()


def test_the_corpus_written_by_workers_loads(tmp_path: Path) -> None:
    src = _sources(tmp_path / "src", ingest._CHUNK_FILES + 1)
    assert main(["index", str(src), "--out", str(tmp_path / "out"), "--semantic", "false",
                 "--index-workers", "2"]) == 0
    corpus = load_corpus(tmp_path / "out")
    assert len(corpus.documents) == ingest._CHUNK_FILES + 1
    assert [d.id for d in corpus.documents] == sorted(d.id for d in corpus.documents)


def test_with_workers_the_files_are_read_and_prepared_in_other_processes(tmp_path: Path) -> None:
    import os

    src = _sources(tmp_path / "src", 4 * ingest._CHUNK_FILES)
    seen: list[int] = []
    documents, _ = ingest.ingest_to([src], tmp_path / "out", 60, seen.append,
                                    prepare=lambda ps: os.getpid(), workers=2)
    assert documents == 4 * ingest._CHUNK_FILES and len(seen) == 4
    assert os.getpid() not in seen and 1 <= len(set(seen)) <= 2
    seen.clear()
    ingest.ingest_to([src], tmp_path / "out", 60, seen.append, prepare=lambda ps: os.getpid(), workers=1)
    assert seen == [os.getpid()] * 4


def test_a_worker_that_dies_stops_index_with_one_line_not_a_hang(tmp_path: Path) -> None:
    """A worker killed mid-way (the out-of-memory killer, say): an error naming what happened,
    the old corpus left as it was."""
    import os

    src = _sources(tmp_path / "src", 4 * ingest._CHUNK_FILES)
    out = tmp_path / "out"
    assert main(["index", str(src), "--out", str(out), "--semantic", "false"]) == 0
    before = _files(out)
    parent = os.getpid()

    def dying(ps: list) -> int:
        if os.getpid() != parent and any(p.document == "note-040" for p in ps):
            os._exit(9)
        return len(ps)

    with pytest.raises(ingest.IngestError, match="died"):
        ingest.ingest_to([src], out, 60, lambda prepared: None, prepare=dying, workers=2)
    assert _files(out) == before
