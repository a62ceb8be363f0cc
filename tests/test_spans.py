"""Answer types and exact spans: rules that hold for any English text (none of these examples
come from the bundled article)."""

from __future__ import annotations

import time

import pytest

from qa_service.spans import (ANSWER_TYPES, MAX_SENTENCE, answer_type, answers_yes_or_no, asks_year, candidates,
                              counts_things, find_span, fits_question, has_year, is_sum, one_figure)


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
        ("What did she study when she lived in Paris?", "other"),  # "when" opens a clause here
        ("When did she study in Paris?", "date"),
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
         "12,000"),  # the question says what is counted: the span is the number (SQuAD's convention)
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
        ("In 1845 he wrote three mazurkas.", "How many mazurkas did he write in 1845?", "number", "three"),
        ("About 40 volunteers cleared the beach.", "How many helped clear the beach?", "number", "40 volunteers"),
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


# ---------------------------------------------------------------- the rules of issue #10's span work

@pytest.mark.parametrize(
    ("sentence", "question", "kind", "expected"),
    [
        # what an acronym stands for, beyond "Capitalised Words (CW)"
        ("Researchers improved the machine translation (MT) of legal texts.", "What does MT stand for?", "definition",
         "machine translation"),
        ("The Ohio State Transit Board (OTB) raised fares.", "What does OTB stand for?", "definition",
         "Ohio State Transit Board"),
        ("The prize went to Maria Elena Lopez last year.", "What does M.E.L. stand for?", "definition",
         "Maria Elena Lopez"),
        ("The machine translation (MT) of legal texts improved.", "What does OTB stand for?", "definition", None),
        # a number inside a date is no count
        ("On June 12, the storm destroyed 40 houses.", "How many houses did the storm destroy?", "number", "40"),
        ("On June 12, the bridge reopened to traffic.", "How many days was the bridge closed?", "number", None),
        ("The fair opened on 3 May 2019 and drew crowds.", "How many people came to the fair?", "number", None),
        # the number of the thing the question counts; a number word opening the sentence
        ("The 40 members of the club bought 900 books and 12 maps.", "How many maps did the club buy?", "number", "12"),
        ("Three doctors examined the patient that night.", "How many doctors examined the patient?", "number",
         "Three"),
        # a capitalised ordinary word opening the sentence is no name
        ("According to a report by Maria Lopez, sales fell.", "Who wrote the report?", "person", "Maria Lopez"),
        ("Despite the rain, the parade went ahead.", "Who led the parade?", "person", None),
        ("Following the merger, the firm moved to Leeds.", "Where did the firm move?", "place", "Leeds"),
        ("Although small, the museum attracts many visitors.", "Who runs the museum?", "person", None),
        ("Lisbon is the largest city of the country.", "Which city is the largest?", "place", "Lisbon"),
        # a quoted title is no person; accents and inflections do not hide the question's words
        ('Her album "Blue Horizon" was produced by Tom Reyes.', "Who produced the album?", "person", "Tom Reyes"),
        ("Renée Dubois thanked José Álvarez for the design.", "Who did Renee Dubois thank?", "person", "José Álvarez"),
        ("The speech was given by Malcolm X in Detroit.", "Who gave the speech?", "person", "Malcolm X"),
        # the name after the question's own preposition; a place after "at", "in", "to"
        ("Marta Lind wrote the score, and in 1999 she toured with Paul Berg.", "Who did Marta Lind tour with?",
         "person", "Paul Berg"),
        ("The talks between Anna Berg and the mayor took place at Riverside Hall.", "Where did the talks take place?",
         "place", "Riverside Hall"),
        ("Jan Novak was born in Brno.", "Where was Novak born?", "place", "Brno"),  # not the man asked about
        ("The library was funded by the University of Leeds.", "Which university funded the library?",
         "organisation", "University of Leeds"),
        # money after a space; reasons after "in order to", "after" (not a date); manner by a gerund
        ("The city paid $3.2 million for the land.", "How much did the city pay for the land?", "money",
         "$3.2 million"),
        ("The match was moved in order to protect the players from the heat.", "Why was the match moved?", "reason",
         "in order to protect the players from the heat"),
        ("The road was closed after a landslide blocked it.", "Why was the road closed?", "reason",
         "after a landslide blocked it"),
        ("The road was closed after 1990.", "Why was the road closed?", "reason", None),
        ("The novel was written by Ana Ruiz.", "How was the novel written?", "manner", None),  # an agent, not a manner
        ('The critic described the play as "a quiet triumph" in her review.', "How did the critic describe the play?",
         "manner", "a quiet triumph"),
        # dates: a year when a year is asked, a day when a date is, "the late 1990s" whole
        ("The school opened in January 2010 after a long delay.", "In what year did the school open?", "date", "2010"),
        ("The poet was baptised on Sunday, 23 April 1810, in the village church.",
         "On what date was the poet baptised?", "date", "23 April 1810"),
        ("The style spread in the late 1970s across Europe.", "When did the style spread?", "date", "the late 1970s"),
        ("The shop reopened in autumn 2015.", "When did the shop reopen?", "date", "autumn 2015"),
        # open what/which questions: the phrase next to the word naming what is asked, else nothing
        ("Harbor Weekly magazine named the bakery the best in town.", "Which magazine named the bakery the best?",
         "other", "Harbor Weekly"),
        ("The band's first album, Northern Lights, sold well.", "Which album did the band release first?", "other",
         "Northern Lights"),
        ("The monks kept up the salt trade with the coast.", "What trade did the monks keep up?", "other",
         "salt trade"),
        ("Some towns in adjacent Essex County grew faster than the city.",
         "Towns in what county grew faster than the city?", "other", "Essex County"),
        ("Her fan club is known as the Night Owls.", "What is her fan club called?", "other", "Night Owls"),
        ("The villagers planted trees along the river.", "What did the villagers plant?", "other", None),
        ("The largest park in the town is Elm Hollow Park.", "What is the largest park in the town?", "other",
         "Elm Hollow Park"),
        ("The team used a reconnaissance plane.", "What was the plane the team used?", "other", None),
        ("The weather was mild that spring.", "Which team won the cup?", "other", None),
    ],
)
def test_issue_10_span_rules(sentence: str, question: str, kind: str, expected: str | None) -> None:
    span = find_span(sentence, question, kind)
    if expected is None:
        assert span is None
    else:
        assert span is not None and span.text == expected
        assert sentence[span.start : span.end] == span.text


def test_sentence_initial_words_are_told_from_names_by_their_use_in_other_languages() -> None:
    from qa_service.spans import common_word

    assert all(common_word(w) for w in ("According", "Despite", "Following", "Although", "Under", "However"))
    assert not any(common_word(w) for w in ("London", "Paris", "Google", "Tibet", "Madonna"))
    assert [c.text for c in candidates("Despite Tom Reyes, the plan failed.", "person")] == ["Tom Reyes"]


def test_acronym_pairs_find_definitions_either_way_round() -> None:
    from qa_service.spans import acronym_pairs

    text = ("Officials of the World Health Organization (WHO) met. The NATO (North Atlantic Treaty Organization) "
            "summit followed. The AFL grew.")
    assert acronym_pairs(text) == [("WHO", "World Health Organization"), ("NATO", "North Atlantic Treaty Organization")]
    assert acronym_pairs("Prices rose (CPI data) in May.") == []


@pytest.mark.parametrize(
    ("question", "counts"),
    [
        ("How many donors gave to the museum?", True),
        ("how many people were hurt?", True),
        ("How many dollars did the fair raise?", False),  # the things counted are money
        ("How many millions of dollars did the film gross?", False),
        ("How much did the fair raise?", False),  # an amount, not a count
        ("When did the museum open?", False),
    ],
)
def test_a_count_question_is_told_from_one_asking_for_money(question: str, counts: bool) -> None:
    assert counts_things(question) is counts


@pytest.mark.parametrize(("text", "is_money"), [("$2 million", True), ("4,000 euros", True), ("£30", True),
                                                 ("300 donors", False), ("2,500 quilts", False), ("1962", False)])
def test_a_sum_of_money_is_recognised(text: str, is_money: bool) -> None:
    assert is_sum(text) is is_money


@pytest.mark.parametrize(
    ("sentence", "question", "expected"),
    [
        # a count question is not answered by the sum in the sentence, however near the question's words
        ("The museum received $2 million from 300 donors last year.", "How many donors gave to the museum?", "300"),
        ("The charity raised $4.5 million for the shelter in 2019.", "How many people did the charity help?", None),
        # unless it asks how many of a currency
        ("The film grossed $158.8 million in cinemas.", "How many millions of dollars did the film gross?",
         "$158.8"),  # the unit the question names is left out, as for any count
        ("The fair raised 4,000 euros for the school.", "How much did the fair raise for the school?", "4,000 euros"),
    ],
)
def test_how_many_is_not_answered_by_a_sum_of_money(sentence: str, question: str, expected: str | None) -> None:
    span = find_span(sentence, question, answer_type(question))
    assert (span.text if span else None) == expected


@pytest.mark.parametrize(
    ("sentence", "question", "expected"),
    [
        ("The bridge opened on 4 May 1932 after six years of work.", "In what year did the bridge open?", "1932"),
        ("The bridge opened on 4 May after six years of work.", "In what year did the bridge open?", None),
        ("The ferry sails every Monday in June.", "Which year did the ferry first sail?", None),
        ("The bridge opened on 4 May after six years of work.", "When did the bridge open?", "4 May"),  # any date
    ],
)
def test_a_year_question_is_answered_by_a_year_or_not_at_all(sentence: str, question: str, expected: str | None) -> None:
    span = find_span(sentence, question, answer_type(question))
    assert (span.text if span else None) == expected


def test_year_helpers() -> None:
    assert asks_year("In what year did it open?") and asks_year("Which year was the treaty signed?")
    assert not asks_year("When did it open?") and not asks_year("How many years did it take?")
    assert has_year("4 May 1932") and has_year("in 2019") and not has_year("June 12") and not has_year("$598,000")


def test_one_check_says_whether_a_span_fits_the_question_as_asked() -> None:
    assert not fits_question("$2 million", "How many donors gave?", "number")
    assert fits_question("300", "How many donors gave?", "number")
    assert fits_question("$2 million", "How many dollars were given?", "number")
    assert not fits_question("4 May", "In what year did it open?", "date")
    assert fits_question("4 May 1932", "In what year did it open?", "date")
    assert fits_question("4 May", "When did it open?", "date")
    assert fits_question("$2 million", "What did the fund give?", "other")  # other kinds are not judged here
    # a reason says something: not a bare name or number
    assert not fits_question("Oslo", "Why did the owner leave?", "reason")
    assert not fits_question("1962", "Why did the mill close?", "reason")
    assert fits_question("because the river dried up", "Why did the mill close?", "reason")
    assert fits_question("floods", "Why did the mill close?", "reason")
    assert fits_question("Oslo", "Where did the owner go?", "place")
    # a person is not a phrase with a number standing alone; ordinals and names with digits are fine
    assert not fits_question("Voyager 2", "Who was aboard it?", "person")
    assert not fits_question("in 1,200 years", "Who founded the abbey?", "person")
    assert fits_question("the 14th Earl of Derby", "Who founded the abbey?", "person")
    assert fits_question("the G20 finance ministers", "Who signed the accord?", "person")
    assert fits_question("Voyager 2", "What flew past Neptune?", "other")
    # what an acronym stands for: every letter of it begins a word
    assert not fits_question("alone in sending crews beyond orbit", "What does ESA stand for?", "definition")
    assert fits_question("European Space Agency", "What does ESA stand for?", "definition")
    assert fits_question("the National Weather Service", "What is the NWS short for?", "definition")
    assert fits_question("Fire Department of New York", "What does FDNY stand for?", "definition")
    assert fits_question("New York City Fire Department", "What does FDNY stand for?", "definition")  # any order
    assert fits_question("Blue Ivy Carter", "What does B.I.C. stand for?", "definition")
    assert fits_question("SPecial Executive for Counter-intelligence, Terrorism, Revenge and Extortion",
                         "What did SPECTRE stand for?", "definition")  # a word's leading capitals count
    assert fits_question("a passive ventilation system", "What is a solar chimney?", "definition")  # no acronym asked


def test_a_yes_no_answer_says_something_unless_the_question_offers_a_choice() -> None:
    assert not answers_yes_or_no("Oslo", "Did the council approve the bridge?", "yes_no")
    assert not answers_yes_or_no("$598,000", "Was the bridge expensive?", "yes_no")
    assert answers_yes_or_no("not", "Is the toolkit available to outside developers?", "yes_no")
    assert answers_yes_or_no("no consensus", "Do geologists agree that the quake was foreseeable?", "yes_no")
    assert answers_yes_or_no("Passive", "Are these heating systems active or passive?", "yes_no")
    assert answers_yes_or_no("Oslo", "Where did the council meet?", "place")  # other kinds are not judged here


@pytest.mark.parametrize(("text", "fits"), [
    ("Voyager 2", False), ("Boeing 747", False), ("Windows 10", False), ("Saturn 5", False),  # a name and its number
    ("Over 3,000", True), ("Between 64 and 104", True), ("About 300", True), ("Nearly 40", True),  # quantifiers
    ("12", True), ("twelve probes", True), ("Voyager 1 and 2", True),
])
def test_how_many_is_not_answered_by_a_name_and_its_number(text: str, fits: bool) -> None:
    """ "How many probes left the solar system?" is not answered by "Voyager 2" (once on the
    *Apollo program* text: "How many missions landed?" got "Apollo 20"). No gold answer to the
    subset's 552 nor ExpMRC's 85 number questions is refused by this."""
    assert fits_question(text, "How many probes left the solar system?", "number") is fits
    assert fits_question("Voyager 2", "What was the second probe called?", "other")


@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("11.42 feet (3.48 m) tall, 12.83", "number", "11.42 feet (3.48 m) tall"),  # the reader ran into the next figure
    ("40 km long, 12", "number", "40 km long"),
    ("$5 million, $6", "money", "$5 million"),
    ("12%, 15", "percentage", "12%"),
    ("1,200 workers", "number", "1,200 workers"),  # a thousands comma is part of the number
    ("June 24, 2003", "date", "June 24, 2003"),  # a date's year is not a next figure
    ("twelve, 13", "number", "twelve, 13"),  # nothing before the comma is a figure in digits: left alone
    ("Oslo, 1905", "place", "Oslo, 1905"),
])
def test_a_figure_span_stops_before_the_next_figure(text: str, kind: str, expected: str) -> None:
    """No gold answer of the subset's 4,702 nor ExpMRC's 886 is changed by this."""
    assert one_figure(text, kind) == expected
