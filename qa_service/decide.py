"""The abstainer: answer, or say the documents do not answer this, and why (as data)."""

from __future__ import annotations

import numpy as np

from .learned import QUESTION_FEATURES, LogisticModel
from .values import Abstention, AnswerSentence, Hit, Query

__all__ = ["CoverageAbstainer", "LearnedAbstainer"]


class CoverageAbstainer:
    """Refuses when the question has no words to search for, names something the documents
    never mention, holds too little of its information in the documents (``min_coverage``,
    by rarity in English), or matches no passage; or asks for more ("anything else?") when
    every sentence found was already given."""

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
        if hits and sentence is None and query.given:  # "anything else?" once all found was said
            return Abstention("nothing_more", query.missing, query.coverage)
        if not hits or sentence is None:
            return Abstention("no_match", query.missing, query.coverage)
        return None


class LearnedAbstainer(CoverageAbstainer):
    """The coverage rules, then a trained decider: its probability that the chosen sentence
    answers the question is the answer's confidence, and below ``threshold`` (calibrated on
    held-out articles to a stated share of answerable questions refused) it refuses.

    A question that says in other words what a sentence says ("crowds marching against those in
    power" for "anti-government protests") holds little of its information in the documents'
    words. When the chosen sentence's cosine with it reaches ``coverage_by_meaning``, low coverage
    alone does not refuse it: the decider decides, and when it refuses, the refusal stays the
    coverage one (what the documents do not mention). 1 = never.
    """

    def __init__(self, *, min_coverage: float, decider: LogisticModel, threshold: float,
                 coverage_by_meaning: float = 1.0) -> None:
        super().__init__(min_coverage=min_coverage)
        self.decider = decider
        self.threshold = threshold
        self.coverage_by_meaning = coverage_by_meaning

    def assess(self, query: Query, hits: list[Hit], sentence: AnswerSentence | None) -> float | None:
        if sentence is None or not sentence.signals:
            return None
        row = np.array([[sentence.signals[name] for name in QUESTION_FEATURES]])
        return float(self.decider.probabilities(row)[0])

    def decide(self, query: Query, hits: list[Hit], sentence: AnswerSentence | None,
               confidence: float | None = None) -> Abstention | None:
        ruled = super().decide(query, hits, sentence)
        if ruled is not None:
            if ruled.reason != "low_coverage" or not self._close_in_meaning(sentence):
                return ruled
            if not hits or confidence is None or confidence < self.threshold:
                return ruled
            return None
        if confidence is not None and confidence < self.threshold:
            return Abstention("low_confidence", query.missing, query.coverage)
        return None

    def _close_in_meaning(self, sentence: AnswerSentence | None) -> bool:
        """Whether the chosen sentence's cosine with the question (what the decider read of it)
        reaches ``coverage_by_meaning``."""
        if sentence is None or "best_cosine" not in sentence.signals:
            return False
        return sentence.signals["best_cosine"] >= self.coverage_by_meaning
