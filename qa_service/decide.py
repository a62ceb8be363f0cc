"""The abstainer: answer, or say the documents do not answer this, and why (as data)."""

from __future__ import annotations

import numpy as np

from .learned import QUESTION_FEATURES, LogisticModel
from .values import Abstention, AnswerSentence, Hit, Query

__all__ = ["CoverageAbstainer", "LearnedAbstainer"]


class CoverageAbstainer:
    """Refuses when the question has no words to search for, names something the documents
    never mention, holds too little of its information in the documents (``min_coverage``,
    by rarity in English), or matches no passage."""

    def __init__(self, *, min_coverage: float) -> None:
        self.min_coverage = min_coverage

    def assess(self, query: Query, hits: list[Hit], sentence: AnswerSentence | None) -> float | None:
        """No confidence: these rules only say yes or no."""
        return None

    def decide(self, query: Query, hits: list[Hit], sentence: AnswerSentence | None,
               confidence: float | None = None) -> Abstention | None:
        if not query.weights:
            return Abstention("no_terms")
        if query.names:
            return Abstention("missing_names", query.names, query.coverage)
        if query.coverage < self.min_coverage:
            return Abstention("low_coverage", query.missing, query.coverage)
        if not hits or sentence is None:
            return Abstention("no_match", query.missing, query.coverage)
        return None


class LearnedAbstainer(CoverageAbstainer):
    """The coverage rules, then a trained decider: its probability that the chosen sentence
    answers the question is the answer's confidence, and below ``threshold`` (calibrated on
    held-out articles to a stated share of answerable questions refused) it refuses."""

    def __init__(self, *, min_coverage: float, decider: LogisticModel, threshold: float) -> None:
        super().__init__(min_coverage=min_coverage)
        self.decider = decider
        self.threshold = threshold

    def assess(self, query: Query, hits: list[Hit], sentence: AnswerSentence | None) -> float | None:
        if sentence is None or not sentence.signals:
            return None
        row = np.array([[sentence.signals[name] for name in QUESTION_FEATURES]])
        return float(self.decider.probabilities(row)[0])

    def decide(self, query: Query, hits: list[Hit], sentence: AnswerSentence | None,
               confidence: float | None = None) -> Abstention | None:
        ruled = super().decide(query, hits, sentence)
        if ruled is not None:
            return ruled
        if confidence is not None and confidence < self.threshold:
            return Abstention("low_confidence", query.missing, query.coverage)
        return None
