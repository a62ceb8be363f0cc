"""A demonstrative standing alone ("Does the council accept that?", "Why did this happen?")
points back at something said before: the question is a follow-up whatever names it holds. One
that points at a noun after it ("this year", "those who") or opens a relative clause ("the law
that was passed") does not. Texts that are not the bundled article."""

from __future__ import annotations

import pytest

from qa_service.pipeline import Pipeline
from qa_service.query import lone_demonstrative
from qa_service.values import Exchange


@pytest.mark.parametrize("question", [
    "Does the council accept that?",
    "Did Oslo agree to this?",
    "Why did that happen?",
    "What does this mean?",
    "Did this happen before the storm?",
    "How did the Stevenson brothers react to those?",
    "What came after that?",
    "Is that why the keeper left?",
    "What was that about?",
    "Who paid for these?",
])
def test_a_demonstrative_standing_alone_points_back(question: str) -> None:
    assert lone_demonstrative(question)


@pytest.mark.parametrize("question", [
    "What happened this year?",
    "Which of those ships sank?",
    "How did the rocks on the moon compare to those on Earth?",  # ExpMRC questions: "those", "that" of a
    "What is the power-to-weight ratio of a steam plant compared to that of an internal combustion engine?",
    "What are those with lower incomes often unable to manage?",  # comparison or a generic "those"
    "Who are those who signed the treaty?",
    "What is the law that was passed in 1911?",
    "Who said that the lamp burned whale oil?",
    "What does Chopin's Op. 63 No. 3 have that is rare?",  # a SQuAD 2.0 question: "that" opens a clause
    "When was the lighthouse built?",
    "That storm in 1950: how long did it last?",
])
def test_a_demonstrative_before_its_noun_or_a_relative_that_does_not(question: str) -> None:
    assert not lone_demonstrative(question)


def test_a_question_pointing_back_with_that_is_a_follow_up_though_it_names_a_place(tiny_pipeline: Pipeline) -> None:
    analyser = tiny_pipeline.analyser
    assert analyser.is_follow_up("Does Vardø accept that?")
    assert not analyser.is_follow_up("Does Vardø accept the plan?")
    turns = tiny_pipeline.analyse("Does Vardø accept that?", [Exchange("Who ran the station?")]).turns
    assert [t.role for t in turns][:2] == ["question", "earlier"]
    alone = tiny_pipeline.analyse("Does Vardø accept the plan?", [Exchange("Who ran the station?")]).turns
    assert [t.role for t in alone] == ["question"]


def test_a_question_naming_one_word_stands_alone_when_it_asks_about_a_name(tiny_pipeline: Pipeline) -> None:
    """One word named is too little to stand alone ("Why?", "When was it built?"), unless the
    question asks about a name: once, "What does NASA stand for?" after "Who was on it?" was read as
    a continuation and answered with the sentence just given."""
    analyser = tiny_pipeline.analyser
    assert not analyser.is_follow_up("Who is Solberg?")
    assert not analyser.is_follow_up("What does NRK stand for?")
    assert not analyser.is_follow_up("Where is Kirkenes?")
    assert analyser.is_follow_up("When was it built?")
    assert analyser.is_follow_up("Why?")
    assert analyser.is_follow_up("Kirkenes?")  # a name alone, asked as a question: more of the same
    answer = tiny_pipeline.ask("Who is Solberg?", history=["When was the lighthouse built?"])
    assert not answer.follow_up


def _leans(pipeline: Pipeline, question: str, *history: str) -> bool:
    turns = pipeline.analyse(question, [Exchange(h) for h in history]).turns
    return any(t.role == "earlier" for t in turns)


def test_a_definite_description_in_other_words_than_the_documents_points_back(tiny_pipeline: Pipeline) -> None:
    """ "The ferry" (no document says "ferry"; the word they hold nearest in meaning is "boat")
    after "Did supplies come by boat?" speaks of that boat: the question leans on the
    conversation. Once a defect: "How did Russia react to the trip?" after "Who did he travel
    with?" stood alone and was refused for not matching "react"."""
    assert _leans(tiny_pipeline, "Where did the ferry sail from?", "Did supplies come by boat?")
    assert _leans(tiny_pipeline, "When was the fuel replaced?", "What oil did the lamp burn?")
    assert _leans(tiny_pipeline, "Where did the ferry sail from?", "Did supplies come by boat?", "Who ran the station?")


def test_a_definite_description_the_conversation_did_not_name_stands_alone(tiny_pipeline: Pipeline) -> None:
    assert not _leans(tiny_pipeline, "Where did the ferry sail from?", "Who ran the station?")  # no boat before
    assert not _leans(tiny_pipeline, "When was the lamp replaced?", "What did the lamp burn?")  # the documents' word
    assert not _leans(tiny_pipeline, "Where did a ferry sail from?", "Did supplies come by boat?")  # not definite
    assert not _leans(tiny_pipeline, "Where did the ferry sail from?")  # no conversation
