"""Answer types and exact spans: rules that hold for any English text (none of these examples
come from the bundled article)."""

from __future__ import annotations

import time

import pytest

from qa_service.spans import ANSWER_TYPES, MAX_SENTENCE, answer_type, candidates, find_span


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Why did the council close the harbour?", "reason"),
        ("What caused the flood?", "reason"),
        ("How many people attended the concert?", "number"),
        ("How old was the queen when she died?", "number"),
        ("How much did the bridge cost?", "money"),
        ("How much does a ticket cost?", "money"),
        ("When was the tower built?", "date"),
        ("In what year did the war end?", "date"),
        ("Who designed the bridge?", "person"),
        ("Whose portrait hangs in the hall?", "person"),
        ("Where is the museum?", "place"),
        ("In which city was she born?", "place"),
        ("What does NATO stand for?", "definition"),
        ("What is photosynthesis?", "definition"),
        ("What percentage of voters supported it?", "percentage"),
        ("How did the prisoners escape?", "manner"),
        ("Is the museum open on Mondays?", "yes_no"),
        ("Did the team win the final?", "yes_no"),
        ("Which company built the dam?", "organisation"),
        ("What colour is the door of the old bakery?", "other"),
    ],
)
def test_the_question_says_what_kind_of_answer_it_wants(question: str, expected: str) -> None:
    assert answer_type(question) == expected
    assert expected in ANSWER_TYPES


@pytest.mark.parametrize(
    ("sentence", "question", "kind", "expected"),
    [
        ("The council closed the harbour because storms had damaged the pier.",
         "Why did the council close the harbour?", "reason", "because storms had damaged the pier"),
        ("Flights were cancelled due to heavy snow in the north.", "Why were flights cancelled?", "reason",
         "due to heavy snow in the north"),
        ("The bridge, designed by Isambard Kingdom Brunel, opened in 1864.", "Who designed the bridge?", "person",
         "Isambard Kingdom Brunel"),
        ("The bridge, designed by Isambard Kingdom Brunel, opened in 1864.", "When did the bridge open?", "date",
         "1864"),
        ("The treaty was signed on 4 July 1776 in Philadelphia.", "When was the treaty signed?", "date",
         "4 July 1776"),
        ("Voting closes on March 3, 2025, at noon.", "When does voting close?", "date", "March 3, 2025"),
        ("Repairs cost $4.5 million and took two years.", "How much did the repairs cost?", "money", "$4.5 million"),
        ("About 12,000 people attended the concert on Friday.", "How many people attended the concert?", "number",
         "12,000 people"),
        ("The North Atlantic Treaty Organization (NATO) was founded in 1949.", "What does NATO stand for?",
         "definition", "North Atlantic Treaty Organization"),
        ("Talks with the WHO (World Health Organization) resumed.", "What does WHO stand for?", "definition",
         "World Health Organization"),
        ("Turnout rose to 64.5% in the second round.", "What percentage of voters turned out?", "percentage",
         "64.5%"),
        ("The prisoners escaped by digging a tunnel under the wall.", "How did the prisoners escape?", "manner",
         "by digging a tunnel under the wall"),
        ("The dam was built by the Tennessee Valley Authority in 1936.", "Which company built the dam?",
         "organisation", "Tennessee Valley Authority"),
        ("She moved to Lisbon after the war.", "Where did she move?", "place", "Lisbon"),
        ("Verdi's opera was staged by Arrigo Boito in Milan.", "Who staged Verdi's opera?", "person", "Arrigo Boito"),
        ("The Japan-exclusive edition sold well.", "In which country was the edition sold?", "place", "Japan"),
        ("In April the band flew to London.", "Where did the band fly?", "place", "London"),
        ("In 1845 he wrote three mazurkas.", "How many mazurkas did he write in 1845?", "number", "three mazurkas"),
        ("The founders put 250,000 into the venture.", "How much cash did the founders put in?", "money", "250,000"),
        ("The tower was valued at US$1.1 billion.", "How much was the tower worth?", "money", "US$1.1 billion"),
    ],
)
def test_the_span_of_the_asked_type(sentence: str, question: str, kind: str, expected: str) -> None:
    span = find_span(sentence, question, kind)
    assert span is not None and span.text == expected
    assert sentence[span.start : span.end] == span.text and span.type == kind


@pytest.mark.parametrize(
    ("sentence", "question", "kind"),
    [
        ("The bridge opened in 1864.", "What happened to the bridge in 1864?", "date"),  # the question gives it
        ("The council met to discuss the harbour.", "Why did the council close the harbour?", "reason"),
        ("The museum is popular with tourists.", "Who founded the museum?", "person"),
        ("Prices rose sharply last year.", "What does CPI stand for?", "definition"),
        ("The Red Cross (ICRC) sent help.", "What does NATO stand for?", "definition"),  # defines another acronym
        ("Is it open?", "Is it open?", "yes_no"),
    ],
)
def test_no_span_rather_than_a_wrong_one(sentence: str, question: str, kind: str) -> None:
    assert find_span(sentence, question, kind) is None


def test_the_candidate_nearest_the_question_words_wins() -> None:
    sentence = "The fort was begun in 1650, and the chapel beside it was consecrated in 1702."
    span = find_span(sentence, "When was the chapel consecrated?", "date")
    assert span is not None and span.text == "1702"


def test_a_capitalised_sentence_opener_is_not_part_of_a_name() -> None:
    names = [c.text for c in candidates("The Tennessee Valley Authority built it.", "organisation")]
    assert names == ["Tennessee Valley Authority"]


def _seconds(sentence: str) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for kind in ANSWER_TYPES:
            find_span(sentence, "What does ABC stand for in the Capital City?", kind)
        best = min(best, time.perf_counter() - started)
    return best


def test_long_sentences_are_not_searched_and_hostile_text_costs_what_plain_text_does() -> None:
    assert find_span("word " * (MAX_SENTENCE // 5 + 10), "Who wrote it?", "person") is None
    hostile = (("A" + " of" * 300 + " (ABC) ") * 4 + "Capital " * 300)[:MAX_SENTENCE]
    plain = ("The committee met in the old hall and agreed on a plan for the spring. " * 40)[:MAX_SENTENCE]
    # a ratio, not a wall-clock limit: backtracking would make the hostile text hundreds of times slower
    assert _seconds(hostile) < 50 * _seconds(plain)


def test_acronym_pairs_find_definitions_either_way_round() -> None:
    from qa_service.spans import acronym_pairs

    text = ("Officials of the World Health Organization (WHO) met. The NATO (North Atlantic Treaty Organization) "
            "summit followed. The AFL grew.")
    assert acronym_pairs(text) == [("WHO", "World Health Organization"), ("NATO", "North Atlantic Treaty Organization")]
    assert acronym_pairs("Prices rose (CPI data) in May.") == []
