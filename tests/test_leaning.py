"""A question in a conversation that does not read as a follow-up, but that the decider would
refuse on its own for low confidence, is read once more as leaning on the last turn; that reading
is kept only when the decider takes it (a confidence at or above its threshold). A question
refused for what the documents lack is not read again. Stub reader and decider, real index and
analyser, texts that are not the bundled article; one end-to-end check with the real models."""

from __future__ import annotations

from typing import Any

import pytest

from helpers import make_index, passages
from qa_service.pipeline import Pipeline
from qa_service.query import QueryAnalyser
from qa_service.values import Abstention, AnswerSentence, Corpus, Exchange, Hit, Query

TEXTS = passages(
    "The Harbour Lighthouse was built in 1872 by the Stevenson brothers. Its first keeper was Thomas Reid.",
    "In 1950 the town council voted to automate the light. The keeper's cottage became a museum in 1962.",
)


class _Reader:
    """The first sentence of the top passage; a confidence (``signals``) only for a leaning reading,
    when ``leaning_confidence`` is set (the hand-weighted reader gives none)."""

    def __init__(self, leaning_confidence: float | None) -> None:
        self.leaning_confidence = leaning_confidence
        self.read_queries: list[Query] = []

    def read(self, query: Query, hits: list[Hit]) -> AnswerSentence | None:
        self.read_queries.append(query)
        if not hits:
            return None
        text = hits[0].passage.text
        end = text.index(".") + 1
        signals = {"p": self.leaning_confidence} if query.leant and self.leaning_confidence is not None else {}
        return AnswerSentence(text[:end], hits[0].passage.id, 1.0, 0, end, signals=signals)


class _Decider:
    """Refuses a stand-alone reading (for ``reason``); a reading with a confidence below 0.5 for
    low confidence."""

    def __init__(self, reason: str = "low_confidence") -> None:
        self.reason = reason

    def assess(self, query: Query, hits: list[Hit], sentence: AnswerSentence | None) -> float | None:
        return None if sentence is None or not sentence.signals else sentence.signals["p"]

    def decide(self, query: Query, hits: list[Hit], sentence: AnswerSentence | None,
               confidence: float | None = None) -> Abstention | None:
        if not query.follow_up:
            return Abstention(self.reason, ("repainted",), 0.6)
        if confidence is not None and confidence < 0.5:
            return Abstention("low_confidence", (), 0.8)
        return None


def _pipeline(leaning_confidence: float | None, reason: str = "low_confidence") -> tuple[Pipeline, _Reader]:
    index = make_index(TEXTS)
    analyser = QueryAnalyser(index.tokenizer, index, word_prior=0.0, history_weight=0.5, max_turns=3,
                             answer_weight=0.5)
    corpus = Corpus((), tuple(TEXTS))
    reader = _Reader(leaning_confidence)
    return Pipeline(corpus, index, analyser, [], reader, _Decider(reason), top_k=3), reader


HISTORY = [Exchange("When was the Harbour Lighthouse built?", "The Harbour Lighthouse was built in 1872 by the "
                    "Stevenson brothers.", "d-p001", 0, True)]
QUESTION = "When was the cottage repainted?"  # names enough to stand alone, so not a follow-up by its words


def test_the_question_does_not_read_as_a_follow_up_by_its_words() -> None:
    pipeline, _ = _pipeline(0.9)
    assert not pipeline.analyse(QUESTION, HISTORY).follow_up


def test_refused_alone_and_taken_by_the_decider_in_context_it_is_answered_as_a_follow_up() -> None:
    pipeline, reader = _pipeline(0.9)
    answer = pipeline.answer(QUESTION, HISTORY)
    assert answer.abstention is None and answer.answer is not None
    assert answer.follow_up and answer.context == (HISTORY[0].question,)
    assert answer.confidence == 0.9
    assert [q.leant for q in reader.read_queries] == [False, True]


@pytest.mark.parametrize("confidence", [0.2, None], ids=["decider-says-no", "no-confidence"])
def test_a_leaning_reading_the_decider_does_not_take_keeps_the_first_refusal(confidence: float | None) -> None:
    pipeline, _ = _pipeline(confidence)
    answer = pipeline.answer(QUESTION, HISTORY)
    assert answer.answer is None and answer.abstention == Abstention("low_confidence", ("repainted",), 0.6)
    assert not answer.follow_up and answer.context == ()


@pytest.mark.parametrize("reason", ["low_coverage", "missing_names", "no_terms", "no_match"])
def test_a_question_refused_for_what_the_documents_lack_is_not_read_again(reason: str) -> None:
    pipeline, reader = _pipeline(0.9, reason)
    answer = pipeline.answer(QUESTION, HISTORY)
    assert answer.abstention is not None and answer.abstention.reason == reason
    assert len(reader.read_queries) == 1


def test_an_unrelated_question_in_a_conversation_stays_refused(tiny_pipeline: Pipeline) -> None:
    """With the real models: the keepers' breakfast is not in the text; read with the earlier
    question's words its coverage would pass, and the decider would take the sentence that
    names the keepers (it did, at .62, before refusals for missing words were left alone)."""
    question = "What did the keepers eat for breakfast?"
    alone = tiny_pipeline.ask(question)
    assert alone.abstention is not None and alone.abstention.reason == "low_coverage"
    answer = tiny_pipeline.ask(question, ["When was the station automated?"])
    assert answer.abstention == alone.abstention and not answer.follow_up


def test_without_a_conversation_there_is_one_reading() -> None:
    pipeline, reader = _pipeline(0.9)
    answer = pipeline.answer(QUESTION)
    assert answer.abstention is not None and len(reader.read_queries) == 1


def test_a_question_that_reads_as_a_follow_up_is_read_once() -> None:
    pipeline, reader = _pipeline(0.9)
    answer = pipeline.answer("And the keeper?", HISTORY)
    assert answer.follow_up and len(reader.read_queries) == 1 and not reader.read_queries[0].leant


def test_earlier_questions_sent_without_answers_get_the_same_second_reading() -> None:
    """A client that sends only questions: the earlier answer is computed as the service would
    have given it, leaning reading included, so the next turn leans on that answer."""
    pipeline, reader = _pipeline(0.9)
    pipeline.answer("And who kept it?", [Exchange("When was the Harbour Lighthouse built?"), Exchange(QUESTION)])
    assert any(q.text == QUESTION and q.leant for q in reader.read_queries)


def test_the_analyser_leans_only_when_asked_and_only_with_earlier_turns() -> None:
    index = make_index(TEXTS)
    analyser = QueryAnalyser(index.tokenizer, index, word_prior=0.0, history_weight=0.5, max_turns=3,
                             answer_weight=0.5)
    leaning = analyser.analyse(QUESTION, [Exchange("When was the Harbour Lighthouse built?")], lean=True)
    assert leaning.follow_up and leaning.leant and leaning.context == ("When was the Harbour Lighthouse built?",)
    alone: Any = analyser.analyse(QUESTION, [], lean=True)
    assert not alone.follow_up and not alone.leant
    by_words = analyser.analyse("And the keeper?", [Exchange("When was the Harbour Lighthouse built?")], lean=True)
    assert by_words.follow_up and not by_words.leant  # a follow-up by its own words anyway
