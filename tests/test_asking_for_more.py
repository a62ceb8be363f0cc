"""A follow-up that asks for more ("What else did she write?", "Anything else?") is answered by a
sentence the conversation has not given yet, and, when every sentence found was given, by saying
so. Texts that are not the bundled article."""

from __future__ import annotations

import pytest

from helpers import make_index, passages
from qa_service.contract import render_message
from qa_service.decide import CoverageAbstainer
from qa_service.pipeline import Pipeline
from qa_service.query import QueryAnalyser, asks_for_more
from qa_service.read import SentenceReader
from qa_service.spans import answer_type
from qa_service.values import Abstention, Exchange

TEXTS = passages(
    "Keeper Ingrid Solberg ran the station from 1950 to 1972. She wrote that winter storms cut off the "
    "island for weeks. Solberg also kept a log of every ship that passed.",
    "The lighthouse was built in 1896 by the coastal authority. Its lamp burned whale oil until 1911.",
)


@pytest.mark.parametrize("question", [
    "What else did she write?", "Anything else?", "Which other towns did the river flood?", "Tell me more.",
    "Tell me more about the treaty.", "Is there more?", "Who was there besides the mayor?",
    "What more did he want?", "Did any others sign it?", "What is another name for it?",
])
def test_questions_asking_for_more(question: str) -> None:
    assert asks_for_more(question)


@pytest.mark.parametrize("question", [
    "What did she write?", "Did they meet each other?", "Did they meet one another?", "Which is more important?",
    "Were more than ten people hurt?", "Was it more of a protest than a strike?", "Who built the bridge?",
])
def test_questions_not_asking_for_more(question: str) -> None:
    assert not asks_for_more(question)


@pytest.mark.parametrize(("question", "expected"), [
    ("And did it rain that day?", "yes_no"), ("But was the bridge finished?", "yes_no"),
    ("So, has the strike ended?", "yes_no"), ("What prompted the strike?", "reason"),
    ("What led to the flood?", "reason"), ("What triggered the avalanche?", "reason"),
    ("And what did she write?", "other"),
])
def test_a_leading_connective_or_a_causal_verb_types_the_question(question: str, expected: str) -> None:
    assert answer_type(question) == expected


def _reader_and_analyser() -> tuple[SentenceReader, QueryAnalyser, Pipeline]:
    index = make_index(TEXTS)
    analyser = QueryAnalyser(index.tokenizer, index, word_prior=0.0, history_weight=0.5, max_turns=3,
                             answer_weight=0.5)
    reader = SentenceReader(index, passages=2, repeat_weight=0.5)
    from qa_service.values import Corpus
    pipeline = Pipeline(Corpus((), tuple(TEXTS)), index, analyser, [], reader,
                        CoverageAbstainer(min_coverage=0.0), top_k=3)
    return reader, analyser, pipeline


def _given(sentence: str) -> Exchange:
    """An exchange whose answer was ``sentence`` of the first passage, with its place."""
    text = TEXTS[0].text
    return Exchange("Who was Ingrid Solberg?", sentence, TEXTS[0].id, text.index(sentence), True)


FIRST = "Keeper Ingrid Solberg ran the station from 1950 to 1972."
SECOND = "She wrote that winter storms cut off the island for weeks."
THIRD = "Solberg also kept a log of every ship that passed."


def test_what_else_is_not_answered_with_a_sentence_already_given() -> None:
    _, _, pipeline = _reader_and_analyser()
    history = [_given(FIRST), Exchange("What did she write?", SECOND, TEXTS[0].id, TEXTS[0].text.index(SECOND), True)]
    plain = pipeline.answer("What did she do?", history)
    more = pipeline.answer("What else did she do?", history)
    assert plain.answer is not None and more.answer is not None
    assert more.answer.text not in (FIRST, SECOND)
    assert pipeline.analyse("What else did she do?", history).given == tuple(history)
    assert pipeline.analyse("What did she do?", history).given == ()  # only asking for more sets them aside


def test_a_given_sentence_holding_the_questions_own_words_may_answer_again() -> None:
    """"Besides the storms, what else did she write?": the sentence that gave the storms may hold the rest."""
    _, _, pipeline = _reader_and_analyser()
    history = [_given(SECOND)]
    answer = pipeline.answer("Besides winter storms, what else did she write?", history)
    assert answer.answer is not None and answer.answer.text == SECOND


def test_when_every_sentence_found_was_given_it_says_there_is_nothing_more() -> None:
    _, _, pipeline = _reader_and_analyser()
    text = TEXTS[0].text
    history = [Exchange(q, s, TEXTS[0].id, text.index(s), True)
               for q, s in (("Who was Ingrid Solberg?", FIRST), ("What did she write?", SECOND),
                            ("What else did she do?", THIRD))]
    answer = pipeline.answer("Anything else about her?", history)
    assert answer.answer is None and answer.abstention is not None
    assert answer.abstention.reason == "nothing_more"
    assert "nothing more" in render_message(answer)


def test_the_sentences_given_are_recognised_by_their_text_when_the_client_sends_no_place() -> None:
    _, _, pipeline = _reader_and_analyser()
    history = [Exchange("Who was Ingrid Solberg?", FIRST, answered=True),
               Exchange("What did she write?", " ".join(SECOND.split()), answered=True)]
    more = pipeline.answer("What else did she do?", history)
    assert more.answer is not None and more.answer.text == THIRD


def test_an_abstention_for_nothing_more_is_a_known_reason() -> None:
    assert Abstention("nothing_more").reason in Abstention.REASONS


def test_anything_else_with_the_real_models_moves_on_and_emphasises_no_phrase(tiny_pipeline: Pipeline) -> None:
    """The reader reads "Anything else?" alone: any phrase it picked would be a guess, so none is shown."""
    first = tiny_pipeline.ask("Who ran the station from 1950 to 1972?")
    assert first.answer is not None
    history = [Exchange(first.question, first.answer.text, first.answer.passage_id, first.answer.start, True)]
    more = tiny_pipeline.ask("What else did she write?", history)
    assert more.answer is not None and more.answer.text != first.answer.text
    history.append(Exchange(more.question, more.answer.text, more.answer.passage_id, more.answer.start, True))
    again = tiny_pipeline.ask("Anything else?", history)
    assert again.answer is not None and again.abstention is None
    assert again.answer.text not in (first.answer.text, more.answer.text)
    assert again.answer.span is None
    typed = tiny_pipeline.ask("And when?", history)  # says what it wants: a date, so a span is looked for
    assert typed.answer is not None and typed.answer.span is not None


def test_the_words_asking_for_more_are_not_words_the_documents_lack() -> None:
    """"else" of "What else did she do?" is the question's frame: not searched, not missing."""
    _, analyser, _ = _reader_and_analyser()
    query = analyser.analyse("What else did she do?", [_given(FIRST)])
    assert "else" not in query.missing and not any(w.term.startswith("els") for w in query.question.words)
    assert "other" not in analyser.analyse("Which other keepers wrote?", [_given(FIRST)]).missing
    assert analyser.analyse("What else did she paint?", [_given(FIRST)]).missing == ("paint",)


def test_asking_for_more_again_leans_past_the_turns_that_said_nothing() -> None:
    """A second "Anything else?" leans on the question before the first one, not on it: its
    words are in no document, and read as the conversation they would be what it lacks."""
    _, analyser, pipeline = _reader_and_analyser()
    text = TEXTS[0].text
    history = [Exchange("Who was Ingrid Solberg?", FIRST, TEXTS[0].id, text.index(FIRST), True),
               Exchange("Anything else?", SECOND, TEXTS[0].id, text.index(SECOND), True)]
    query = analyser.analyse("Anything else?", history)
    assert query.context == ("Who was Ingrid Solberg?",)
    answer = pipeline.answer("Anything else?", history)
    assert answer.answer is not None and answer.answer.text == THIRD
