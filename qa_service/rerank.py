"""The re-ranker: passages whose question terms meet in one sentence move up.

BM25 scores a passage as a bag of words, but an answer usually sits in a single sentence.
"""

from __future__ import annotations

from .values import Hit, Query, SentenceSource

__all__ = ["SentenceReranker"]


class SentenceReranker:
    """Adds ``weight`` x the top score x the share of the query's rarity mass that a passage's
    best sentence holds, to each hit it is given.

    Args:
        index: each passage's sentences and their terms.
        weight: how much the best sentence counts (0 = keep the retriever's order).
        depth: how many hits the retriever should hand over.
    """

    def __init__(self, index: SentenceSource, *, weight: float, depth: int) -> None:
        self.index = index
        self.weight = weight
        self.depth = depth

    def rerank(self, query: Query, hits: list[Hit]) -> list[Hit]:
        alpha = self.weight
        if not hits or alpha <= 0:
            return hits
        mass = sum(query.mass.values()) or 1.0
        top = hits[0].score if hits[0].score > 0 else 1.0
        bonus = [alpha * top * self._coverage(h.position, query, mass) for h in hits]
        rescored = [h.score + b for h, b in zip(hits, bonus)]
        order = sorted(range(len(hits)), key=lambda i: (-rescored[i], i))
        return [Hit(hits[i].passage, hits[i].position, rescored[i], rank, hits[i].matched,
                    {**hits[i].scores, "sentence": bonus[i]})
                for rank, i in enumerate(order, start=1)]

    def _coverage(self, position: int, query: Query, mass: float) -> float:
        """Share of the query's rarity mass found in the passage's best sentence."""
        return max((query.mass_in(terms) / mass for _, terms in self.index.sentences(position)), default=0.0)
