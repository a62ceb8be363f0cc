"""What makes large corpora workable: scoring touches only the query's postings, `index` streams
and is linear, says how far it is on a terminal, and sentence meaning stays within a stated size."""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path

import pytest

import qa_service.cli as cli
from qa_service.cli import main
from qa_service.config import Settings
from qa_service.index import Index
from qa_service.ingest import ingest_to, load_corpus
from qa_service.pipeline import build_pipeline
from qa_service.semantic import VECTORS_FILE

from helpers import make_index, make_query, passages

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "armenia-recalls-envoy-from-belarus.txt"


def test_a_question_scores_only_the_passages_holding_its_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """rank-bm25 loops over every passage for every term; we score the candidates' columns only."""
    texts = [f"Filler passage number {i} about rivers and hills." for i in range(3000)]
    texts[10] = "The Zanzibar archipelago exports cloves."
    texts[2500] = "Cloves from Zanzibar reached Oman."
    index = make_index(passages(*texts))
    widths: list[int] = []
    scores_at = Index._scores_at

    def spy(self, query, columns):  # noqa: ANN001, ANN202
        widths.append(len(columns))
        return scores_at(self, query, columns)

    monkeypatch.setattr(Index, "_scores_at", spy)
    hits = index.search(make_query(index, "Where do cloves come from, Zanzibar?"), 5)
    assert [h.position for h in hits] == [10, 2500] and widths == [2]


def _source_folder(folder: Path, files: int) -> Path:
    folder.mkdir()
    for i in range(files):
        (folder / f"doc-{i:04d}.txt").write_text(
            f"Report {i} on harbours\n\nThe harbour number {i} opened in spring. Ships unloaded grain there.\n\n"
            f"A second paragraph about harbour {i} mentions cranes, tides and the pilots who guide ships.\n",
            encoding="utf-8")
    return folder


def test_index_hands_on_one_chunk_of_files_at_a_time(tmp_path: Path) -> None:
    """Streaming: each chunk of files is read, written and passed on before the next is read."""
    import qa_service.ingest as ingest

    chunk = ingest._CHUNK_FILES
    src = _source_folder(tmp_path / "src", 2 * chunk + 3)
    handed: list[int] = []  # files read when each chunk was handed on
    reads: list[str] = []
    real = ingest.read_source

    def reading(path: Path):  # noqa: ANN202
        reads.append(path.name)
        assert len(reads) <= (len(handed) + 1) * chunk, "a chunk was read before the previous one was handed on"
        return real(path)

    ingest.read_source = reading
    try:
        documents, count = ingest_to([src], tmp_path / "out", 60, lambda prepared: handed.append(len(reads)),
                                     prepare=lambda ps: [p.document for p in ps])
    finally:
        ingest.read_source = real
    assert documents == 2 * chunk + 3 and handed == [chunk, 2 * chunk, 2 * chunk + 3]
    assert len(load_corpus(tmp_path / "out").passages) == count


def test_index_time_grows_linearly_with_the_number_of_files(tmp_path: Path) -> None:
    """Four times the files cost about four times as long, not sixteen (a ratio in one run)."""
    small, large = _source_folder(tmp_path / "small", 60), _source_folder(tmp_path / "large", 240)

    def seconds(src: Path, out: Path) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            ingest_to([src], out, 60)
            best = min(best, time.perf_counter() - started)
        return best

    ratio = seconds(large, tmp_path / "o2") / seconds(small, tmp_path / "o1")
    assert ratio < 8, f"4x the files took {ratio:.1f}x as long"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_index_shows_progress_on_a_terminal_and_a_summary_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    src = _source_folder(tmp_path / "src", 3)
    terminal = _Terminal()
    monkeypatch.setattr(cli.sys, "stderr", terminal)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert main(["index", str(src), "--out", str(tmp_path / "out"), "--semantic", "false"]) == 0
    shown = terminal.getvalue()
    assert "3/3 files" in shown and "passages/s" in shown and "ETA" in shown and shown.endswith("\n")
    out = capsys.readouterr().out
    assert out.startswith("wrote 3 document(s), 3 passages") and "passages/s" in out and out.count("\n") == 1


def test_index_off_a_terminal_prints_no_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _source_folder(tmp_path / "src", 2)
    assert main(["index", str(src), "--out", str(tmp_path / "out"), "--semantic", "false"]) == 0
    assert "ETA" not in capsys.readouterr().err


def test_meaning_is_off_above_its_passage_limit_with_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Embedding costs about 11 ms a sentence here: above the limit, `index` embeds nothing and
    answers use words only, said once, not a silent hour of work."""
    out = tmp_path / "corpus"
    assert main(["index", str(SEED), "--out", str(out), "--semantic-max-passages", "5"]) == 0
    printed = capsys.readouterr().out
    assert "no sentence vectors: 13 passages is over semantic_max_passages (5)" in printed
    assert not (out / VECTORS_FILE).exists()
    with caplog.at_level(logging.WARNING):
        pipeline = build_pipeline(Settings(corpus=out, semantic_max_passages=5))
    assert not pipeline.semantic and pipeline.vectors is None
    lines = [r.getMessage() for r in caplog.records if "semantic_max_passages" in r.getMessage()]
    assert len(lines) == 1 and "13 passages" in lines[0]
    assert not (out / VECTORS_FILE).exists()  # serve did not embed them either
    assert pipeline.ask("Why did Armenia recall its envoy?").answer is not None
    within = build_pipeline(Settings(corpus=out, semantic_max_passages=13))
    assert within.semantic and within.vectors is not None
