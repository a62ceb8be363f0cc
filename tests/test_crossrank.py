"""The cross-encoder re-ranker stage: how it mixes the model's probability into the passage order,
what it reads, and the model itself on texts that are not the bundled article."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from qa_service.crossrank import CrossEncoder, CrossReranker, pair_text
from qa_service.errors import SettingsError
from qa_service.values import Hit, Passage, Query, Turn


class Scorer:
    """A stand-in model: a fixed log-odds per passage text, and a record of what it was asked."""

    def __init__(self, logits: dict[str, float]) -> None:
        self.logits = logits
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, question: str, texts: Sequence[str]) -> list[float]:
        self.calls.append((question, list(texts)))
        return [self.logits[t] for t in texts]


def _hits(*texts_scores: tuple[str, float]) -> list[Hit]:
    return [Hit(Passage(f"d-p{i:03d}", "d", i, 0, len(text), text), i, score, i + 1, frozenset({"x"}), {"bm25": score})
            for i, (text, score) in enumerate(texts_scores)]


def _query(text: str, context: tuple[str, ...] = ()) -> Query:
    turns = (Turn(text, 1.0, "question", ()), *(Turn(c, 0.5, "earlier", ()) for c in context))
    return Query(text=text, turns=turns, weights={}, kind=None, coverage=1.0, missing=(), names=())


def test_a_passage_the_model_is_sure_of_moves_up_within_the_depth() -> None:
    hits = _hits(("storms closed the pier", 10.0), ("the pier reopened in May", 9.0), ("a festival", 2.0))
    scorer = Scorer({"storms closed the pier": -3.0, "the pier reopened in May": 3.0, "a festival": 5.0})
    out = CrossReranker(scorer, weight=1.0, depth=2).rerank(_query("When did the pier reopen?"), hits)
    assert [h.passage.text for h in out] == ["the pier reopened in May", "storms closed the pier", "a festival"]
    assert [h.rank for h in out] == [1, 2, 3]
    assert scorer.calls == [("When did the pier reopen?", ["storms closed the pier", "the pier reopened in May"])]
    chance = 1 / (1 + math.exp(-3.0))
    assert out[0].score == pytest.approx(0.9 + chance) and out[0].scores["cross"] == pytest.approx(chance)
    assert out[0].scores["bm25"] == 9.0  # the earlier stages' scores stay beside it
    assert "cross" not in out[2].scores  # below the depth: not read, and kept below every hit that was


def test_weight_zero_keeps_the_order_and_runs_nothing() -> None:
    hits = _hits(("a", 3.0), ("b", 2.0))
    scorer = Scorer({"a": -9.0, "b": 9.0})
    assert CrossReranker(scorer, weight=0.0, depth=5).rerank(_query("q?"), hits) == hits
    assert CrossReranker(scorer, weight=1.0, depth=5).rerank(_query("q?"), []) == []
    assert scorer.calls == []


def test_a_small_weight_only_breaks_near_ties() -> None:
    hits = _hits(("a", 10.0), ("b", 9.9), ("c", 5.0))
    scorer = Scorer({"a": -4.0, "b": 4.0, "c": 9.0})
    out = CrossReranker(scorer, weight=0.2, depth=3).rerank(_query("q?"), hits)
    assert [h.passage.text for h in out] == ["b", "a", "c"]  # 0.99 + 0.196 > 1.0 + 0.004; c stays last


def test_a_follow_up_is_read_with_the_question_it_leans_on() -> None:
    assert pair_text(_query("Who founded it?", ("What is the harbour trust?",))) == \
        "What is the harbour trust? Who founded it?"
    assert pair_text(_query("Who founded the harbour trust?")) == "Who founded the harbour trust?"


def test_the_model_refuses_a_file_that_is_not_its_own(tmp_path: Path) -> None:
    bad = tmp_path / "reranker.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(SettingsError, match="not the re-ranker's file"):
        CrossEncoder(bad, sha256="0" * 64).warm_up()
    with pytest.raises(SettingsError, match="cannot read"):
        CrossEncoder(tmp_path / "missing.onnx", sha256="0" * 64).warm_up()
    with pytest.raises(SettingsError):
        CrossEncoder(threads=0)
