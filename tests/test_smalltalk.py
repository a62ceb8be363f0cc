"""Small talk, overview questions and starting points: rules on the question's shape and on
the corpus, checked on texts that are not the bundled article."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_service import contract
from qa_service.config import Settings
from qa_service.ingest import ingest_paths
from qa_service.pipeline import Pipeline, build_pipeline
from qa_service.smalltalk import intent, lead, salient_names, starting_points
from qa_service.values import Corpus, Document, Passage


@pytest.mark.parametrize(
    ("question", "kind", "rest"),
    [
        ("Hello!", "greeting", ""), ("hi there", "greeting", ""), ("Good evening :)", "greeting", ""),
        ("hey, how are you?", "greeting", ""), ("How are you doing today?", "greeting", ""),
        ("Thanks!", "thanks", ""), ("ok thank you very much", "thanks", ""), ("Cheers", "thanks", ""),
        ("ok thanks", "thanks", ""), ("great, thanks!", "thanks", ""), ("Summarise it, thanks", "overview", ""),
        ("thank you for your help", "thanks", ""),
        ("What can you do?", "help", ""), ("help", "help", ""), ("Can you help?", "help", ""),
        ("What is this document about?", "overview", ""), ("what's the article about", "overview", ""),
        ("Summarise", "overview", ""), ("Could you summarize the text, please?", "overview", ""),
        ("Give me a summary", "overview", ""), ("TL;DR", "overview", ""),
        ("What is the main topic of the paper?", "overview", ""), ("What does the report say?", "overview", ""),
        ("Summarise the report on whaling", "overview", "whaling"),
        ("What are these documents about?", "overview", ""),
    ],
    ids=lambda v: str(v)[:30],
)
def test_intent_of_small_talk_and_overview_questions(question: str, kind: str | None, rest: str) -> None:
    got = intent(question)
    assert (got.kind if got else None) == kind
    if got:
        assert got.rest == rest


@pytest.mark.parametrize(
    "question",
    ["Hello, who built the lighthouse?", "What is the treaty about?", "What is the point of the tax?",
     "Who wrote the article?", "When did the keepers thank the council?", "Summarise the treaty",
     "How did she greet the king?", "Describe the attack on the fort", "What help did the navy send?",
     "Is the museum open in summer?"],
)
def test_questions_about_the_text_are_not_small_talk(question: str) -> None:
    assert intent(question) is None


def _corpus(*docs: tuple[str, str]) -> Corpus:
    """Documents of one passage each, as (title, body)."""
    documents, passages = [], []
    for i, (title, body) in enumerate(docs, start=1):
        text = f"{title}\n\n{body}"
        documents.append(Document(f"doc{i}", title, f"doc{i}.txt", "", text))
        passages.append(Passage(f"doc{i}-p001", f"doc{i}", 1, 0, len(text), text))
    return Corpus(tuple(documents), tuple(passages))


BEES = ("Bees of the Upper Valley",
        "Beekeeper Marta Kowalczyk kept forty hives near Tarnów. In 1931 Marta Kowalczyk sold honey to Kraków. "
        "A harsh winter killed half the hives. Tarnów still holds a honey fair each May.")


def test_lead_skips_the_title_and_takes_whole_opening_sentences() -> None:
    passage = _corpus(BEES).passages[0]
    span = lead(passage, BEES[0], words=12)
    assert passage.text[span.start:span.end] == (
        "Beekeeper Marta Kowalczyk kept forty hives near Tarnów. In 1931 Marta Kowalczyk sold honey to Kraków.")


def test_salient_names_prefer_repeated_names_and_skip_sentence_starts_and_months() -> None:
    names = salient_names(_corpus(BEES), 3)
    assert names[:2] == ["Marta Kowalczyk", "Tarnów"]
    assert not {"A", "In", "May", "Beekeeper", "Bees"} & set(names)


def test_starting_points_come_from_titles_and_names_for_any_corpus() -> None:
    one = starting_points(_corpus(BEES))
    assert one[0] == "What is this document about?" and "What about Marta Kowalczyk?" in one
    two = starting_points(_corpus(BEES, ("Tide Tables of Port Ellis", "Harbourmaster Owen Price keeps the tables.")))
    assert two[:2] == ["What is “Bees of the Upper Valley” about?", "What is “Tide Tables of Port Ellis” about?"]


@pytest.fixture(scope="module")
def two_docs(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    src = tmp_path_factory.mktemp("docs")
    (src / "bees.txt").write_text(f"{BEES[0]}\n\n{BEES[1]}\n", encoding="utf-8")
    (src / "tides.txt").write_text("Tide Tables of Port Ellis\n\nHarbourmaster Owen Price publishes the tide tables "
                                   "every spring. Whaling boats left Port Ellis at high water.\n", encoding="utf-8")
    return build_pipeline(Settings(semantic=False), corpus=ingest_paths([src], 60))


def test_greetings_are_answered_kindly_with_what_the_service_can_do(two_docs: Pipeline) -> None:
    body = contract.answer_to_json(two_docs.ask("Hello!"))
    assert body["intent"] == "greeting" and body["answer"] is None and body["abstention"] is None
    assert body["message"].startswith("Hello!") and "Bees of the Upper Valley" in body["message"]
    assert "does not mention" not in body["message"]
    assert contract.answer_to_json(two_docs.ask("thanks!"))["message"].startswith("You're welcome")


def test_overview_is_the_documents_title_and_lead_sentences_cited(two_docs: Pipeline) -> None:
    body = contract.answer_to_json(two_docs.ask("What is this document about?"))
    assert body["intent"] == "overview"
    answer, passage = body["answer"], body["passages"][0]
    assert answer["passage_id"] == passage["id"]
    assert passage["text"][answer["start"]:answer["end"]] == answer["text"]  # extractive: a quote with offsets
    assert answer["text"].startswith("Beekeeper Marta Kowalczyk")
    assert "Bees of the Upper Valley" in body["message"]
    tides = contract.answer_to_json(two_docs.ask("Summarise the report on whaling boats"))
    assert tides["answer"]["text"].startswith("Harbourmaster Owen Price") and "Port Ellis" in tides["message"]
    assert contract.answer_from_json(tides).intent == "overview"
