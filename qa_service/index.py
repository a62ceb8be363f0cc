"""The BM25 index: passages in, ranked :class:`Hit` objects out.

Scores are rank-bm25's own. Around it we add what it lacks: an inverted index so passages
that match nothing are never returned, a stable order for ties, and a clear refusal of
corpora it cannot score.
"""

from __future__ import annotations

import bisect
import itertools
import math
import os
import string
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from .ingest import Passage
from .text import Tokenizer

__all__ = ["EmptyCorpusError", "Hit", "Index", "SCORERS"]

SCORERS = {"plus": BM25Plus, "l": BM25L, "okapi": BM25Okapi}


# Longer "words" are not misspellings worth guessing at, and their candidate spellings grow as
# the square of their length.
_MAX_TYPO_LETTERS = 30
_SIMILAR_CACHE_SIZE = 50_000


class EmptyCorpusError(ValueError):
    """There is nothing to index (rank-bm25 would divide by zero)."""


@dataclass(frozen=True)
class Hit:
    """A passage that matched, its BM25 score, and which query terms it contains."""

    passage: Passage
    score: float
    rank: int
    matched: frozenset[str]
    bm25: float | None = None  # rank-bm25's own score, when ``score`` was re-ranked from it

    def __post_init__(self) -> None:
        if self.bm25 is None:
            object.__setattr__(self, "bm25", self.score)


class Index:
    """BM25 over pre-tokenised passages (never rank-bm25's ``tokenizer=``, which starts a pool)."""

    def __init__(
        self,
        passages: Sequence[Passage],
        tokenizer: Tokenizer | None = None,
        scorer: str = "plus",
        k1: float = 1.5,
        b: float = 0.75,
        delta: float = 1.0,
    ) -> None:
        if scorer not in SCORERS:
            raise ValueError(f"unknown scorer {scorer!r}; choose one of {', '.join(SCORERS)}")
        if not passages:
            raise EmptyCorpusError("cannot build an index over no passages")
        self.passages: tuple[Passage, ...] = tuple(passages)
        self.tokenizer = tokenizer or Tokenizer()
        docs = [self.tokenizer.terms(p.text) for p in self.passages]
        if not any(docs):
            raise EmptyCorpusError("the passages contain no searchable words")
        self.scorer = scorer
        params: dict[str, float] = {"k1": k1, "b": b}
        if scorer != "okapi":
            params["delta"] = delta
        self._bm25 = SCORERS[scorer](docs, **params)
        self._postings: dict[str, list[int]] = defaultdict(list)
        for position, doc in enumerate(docs):
            for term in dict.fromkeys(doc):
                self._postings[term].append(position)
        self._term_sets = [frozenset(doc) for doc in docs]
        self._vocabulary = sorted(self._postings)
        self._by_id = {p.id: i for i, p in enumerate(self.passages)}
        # A question's unknown words are looked up several times (follow-up test, query, coverage).
        self._similar_cache: dict[tuple[str, int, int], tuple[str, ...]] = {}

    def __len__(self) -> int:
        return len(self.passages)

    def passage(self, passage_id: str) -> Passage | None:
        position = self._by_id.get(passage_id)
        return None if position is None else self.passages[position]

    def position(self, passage_id: str) -> int:
        return self._by_id[passage_id]

    def document_frequency(self, term: str) -> int:
        return len(self._postings.get(term, ()))

    def rarity(self, term: str) -> float:
        """How telling a term is, > 0 and growing as it gets rarer; unseen terms are rarest.

        Unlike BM25Okapi's IDF this never reaches zero, so it can weigh coverage.
        """
        n = len(self.passages)
        return math.log((n + 1) / (self.document_frequency(term) + 0.5))

    def similar(self, term: str, min_prefix: int = 5, min_typo: int = 6) -> list[str]:
        """Indexed terms that differ from ``term`` only in their last letter or two, or else,
        for terms of at least ``min_typo`` letters, by one letter added, dropped or changed.

        For words the stemmer leaves apart though they share a root (response/respond,
        organisation/organization) and for misspelt names (Bedigo/Bendigo). Only for terms
        the index lacks.
        """
        if len(term) < min_prefix or not term.isalpha():
            return []
        key = (term, min_prefix, min_typo)
        cached = self._similar_cache.get(key)
        if cached is None:
            found = self._same_root(term, min_prefix)
            if not found and min_typo <= len(term) <= _MAX_TYPO_LETTERS:
                found = self._one_edit(term)
            cached = tuple(found)
            if len(self._similar_cache) >= _SIMILAR_CACHE_SIZE:
                self._similar_cache.clear()
            self._similar_cache[key] = cached
        return list(cached)

    def _same_root(self, term: str, min_prefix: int) -> list[str]:
        start = bisect.bisect_left(self._vocabulary, term[:min_prefix])
        found = []
        for other in itertools.islice(self._vocabulary, start, None):
            if not other.startswith(term[:min_prefix]):
                break
            shared = len(os.path.commonprefix([term, other]))
            if other != term and other.isalpha() and shared >= min(len(term), len(other)) - 1:
                found.append(other)
        return found

    def _one_edit(self, term: str) -> list[str]:
        """Indexed terms one letter added, dropped or changed away from ``term``: every such
        spelling is generated and looked up (about 55 per letter), so no table grows with the index."""
        letters = sorted(set(string.ascii_lowercase) | set(term))
        found = {term[:i] + term[i + 1 :] for i in range(len(term))}
        for i in range(len(term) + 1):
            for c in letters:
                found.add(term[:i] + c + term[i:])
                if i < len(term) and c != term[i]:
                    found.add(term[:i] + c + term[i + 1 :])
        found.discard(term)
        return sorted(t for t in found if len(t) >= 5 and t in self._postings)

    def terms_of(self, position: int) -> frozenset[str]:
        return self._term_sets[position]

    def candidates(self, terms: Iterable[str]) -> set[int]:
        """Positions of passages containing at least one of ``terms``."""
        found: set[int] = set()
        for term in set(terms):
            found.update(self._postings.get(term, ()))
        return found

    def scores(self, terms: Sequence[str], weights: Sequence[float] | None = None) -> np.ndarray:
        """rank-bm25's score of every passage for the query ``terms``; with ``weights``, the sum
        of each term's own score times its weight (BM25 adds up over query terms)."""
        if weights is None or all(w == 1.0 for w in weights):
            return np.asarray(self._bm25.get_scores(list(terms)), dtype=float)
        per_term: dict[str, float] = defaultdict(float)
        for term, weight in zip(terms, weights):
            per_term[term] += weight  # a repeated term is scored once
        total = np.zeros(len(self.passages))
        for term, weight in per_term.items():
            total += weight * np.asarray(self._bm25.get_scores([term]), dtype=float)
        return total

    def rank(self, scores: np.ndarray, candidates: Iterable[int], terms: Iterable[str], k: int) -> list[Hit]:
        """The ``k`` best candidates, by score then passage order (rank-bm25's argsort breaks ties backwards)."""
        wanted = set(terms)
        order = sorted(candidates, key=lambda i: (-float(scores[i]), i))[:k]
        return [Hit(self.passages[i], float(scores[i]), rank, self._term_sets[i] & wanted)
                for rank, i in enumerate(order, start=1)]

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Top ``k`` passages that share at least one term with ``query``, best first."""
        if k < 1:
            raise ValueError("k must be at least 1")
        terms = self.tokenizer.terms(query)
        if not terms:
            return []
        return self.rank(self.scores(terms), self.candidates(terms), terms, k)
