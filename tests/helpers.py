"""Builders for tests: the same stages the service builds, from the settings' defaults."""

from __future__ import annotations

from typing import Any, Sequence

from qa_service.config import Settings
from qa_service.index import Index
from qa_service.pipeline import build_tokenizer
from qa_service.query import QueryAnalyser
from qa_service.text import Tokenizer
from qa_service.values import Passage, Query


# The tokeniser's arguments as the settings' defaults give them.
TOKENIZER_ARGS = {name: getattr(Settings(), name)
                  for name in ("lemmatize", "stem", "stopwords", "split_hyphens", "fold_accents", "language")}


def make_tokenizer(**changes: Any) -> Tokenizer:
    return build_tokenizer(Settings().replace(**changes))


def make_index(passages: Sequence[Passage], tokenizer: Tokenizer | None = None, **changes: Any) -> Index:
    s = Settings().replace(**changes)
    return Index(passages, tokenizer or build_tokenizer(s), scorer=s.scorer, k1=s.k1, b=s.b, delta=s.delta)


def make_query(index: Index, text: str) -> Query:
    """``text`` as a stand-alone query whose every word counts fully (no English-frequency prior)."""
    analyser = QueryAnalyser(index.tokenizer, index, word_prior=0.0, history_weight=0.5, max_turns=3, answer_weight=0.5)
    return analyser.analyse(text)


def search(index: Index, text: str, k: int = 10):  # noqa: ANN201
    return index.search(make_query(index, text), k)


def passages(*texts: str) -> list[Passage]:
    return [Passage(f"d-p{i:03d}", "d", i, 0, len(t), t) for i, t in enumerate(texts, start=1)]
