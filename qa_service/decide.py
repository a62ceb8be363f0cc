"""The abstainer: answer, or say the documents do not answer this, and why (as data)."""

from __future__ import annotations

from .values import Abstention, AnswerSentence, Hit, Query

__all__ = ["CoverageAbstainer"]


class CoverageAbstainer:
    """Refuses when the question has no words to search for, names something the documents
    never mention, holds too little of its information in the documents (``min_coverage``,
    by rarity in English), or matches no passage."""

    def __init__(self, *, min_coverage: float) -> None:
        self.min_coverage = min_coverage

    def decide(self, query: Query, hits: list[Hit], sentence: AnswerSentence | None) -> Abstention | None:
        if not query.weights:
            return Abstention("no_terms")
        if query.names:
            return Abstention("missing_names", query.names, query.coverage)
        if query.coverage < self.min_coverage:
            return Abstention("low_coverage", query.missing, query.coverage)
        if not hits or sentence is None:
            return Abstention("no_match", query.missing, query.coverage)
        return None
