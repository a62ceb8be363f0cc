"""A corpus is read by msgspec when it is well formed, and line by line when it is not: the fast
reader takes only what the careful one takes, and gives the same documents and passages; the
careful one says what is wrong in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_service.errors import CorpusError
from qa_service.ingest import _load_careful, _load_fast, load_corpus, write_corpus
from qa_service.values import Corpus, Document, Passage

TEXT = "Tide tables\n\nThe tide turns twice a day at Saint-Malo. Pilots wait for it.\n\nFog delays ferries in May."


def _corpus(folder: Path) -> Path:
    doc = Document("tides", "Tide tables", "tides.txt", "0" * 64, TEXT)
    survey = Document("survey", "Bird survey", "survey.pdf", "1" * 64, "Bird survey\n\nOwls nest in beeches.",
                      kind="pdf", pages=2)
    starts = [TEXT.index("The tide"), TEXT.index("Fog")]
    passages = [Passage("tides-p001", "tides", 1, 0, starts[1] - 2, TEXT[: starts[1] - 2]),
                Passage("tides-p002", "tides", 2, starts[1], len(TEXT), TEXT[starts[1] :]),
                Passage("survey-p001", "survey", 1, 0, len(survey.text), survey.text, 1, 2)]
    write_corpus(Corpus((doc, survey), tuple(passages), ()), folder, 60)
    return folder


def test_a_well_formed_corpus_is_read_fast_and_the_same_as_line_by_line(tmp_path: Path) -> None:
    folder = _corpus(tmp_path / "c")
    fast = _load_fast(folder)
    assert fast is not None and fast == _load_careful(folder)
    assert fast[1][2].page == 1 and fast[1][2].last_page == 2 and fast[0][1].kind == "pdf"
    assert load_corpus(folder).passages == tuple(fast[1])


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 10**20) | st.floats(allow_nan=False) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2),
                     max_leaves=4)
_FIELDS = ["id", "document", "index", "start", "end", "text", "page", "last_page", "title", "source", "sha256",
           "kind", "pages", "words"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["documents.jsonl", "passages.jsonl"]), line=st.integers(0, 2),
       change=st.one_of(
           st.tuples(st.just("set"), st.sampled_from(_FIELDS), _JSON | st.sampled_from([1, 2, 3, 0, "pdf", "text", "tides"])),
           st.tuples(st.just("drop"), st.sampled_from(_FIELDS), st.none()),
           st.tuples(st.just("raw"), st.sampled_from([b"", b"\n", b"  \n", b"{", b"[]", b"\xff\xfe", b"\r\n", b"null",
                                                      b'{"id": "\\ud800"}', b"\xef\xbb\xbf"]), st.none()),
           st.tuples(st.just("duplicate"), st.none(), st.none())))
def test_the_fast_reader_takes_only_what_the_careful_one_takes(tmp_path_factory: pytest.TempPathFactory, which: str,
                                                               line: int, change: tuple) -> None:
    folder = _corpus(tmp_path_factory.mktemp("c"))
    path = folder / which
    lines = path.read_bytes().splitlines(keepends=True)
    line = min(line, len(lines) - 1)
    kind, name, value = change
    if kind == "set":
        record = json.loads(lines[line])
        record[name] = value
        lines[line] = json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n"
    elif kind == "drop":
        record = json.loads(lines[line])
        record.pop(name, None)
        lines[line] = json.dumps(record).encode() + b"\n"
    elif kind == "raw":
        lines.insert(line, name)
    else:
        lines.insert(line, lines[line])
    path.write_bytes(b"".join(lines))
    fast = _load_fast(folder)
    try:
        careful = _load_careful(folder)
    except CorpusError as exc:
        assert fast is None, f"the fast reader took what the careful one refuses: {exc.message}"
        return
    assert fast is None or fast == careful


def test_a_bad_line_is_still_named_with_its_number(tmp_path: Path) -> None:
    folder = _corpus(tmp_path / "c")
    path = folder / "passages.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    record = json.loads(lines[1])
    record["start"] = "7"
    lines[1] = json.dumps(record) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"passages\.jsonl:2: field 'start' must be int"):
        load_corpus(folder)


def test_large_files_are_decoded_a_block_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qa_service.ingest as ingest

    folder = _corpus(tmp_path / "c")
    monkeypatch.setattr(ingest, "_BLOCK_BYTES", 7)  # lines split across many blocks
    fast = _load_fast(folder)
    assert fast is not None and fast == _load_careful(folder)
