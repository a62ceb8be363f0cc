"""The tokeniser and sentence splitter: what a user would see as matching or not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from helpers import TOKENIZER_ARGS
from qa_service.text import Span, Tokenizer, clean_question, merge_spans, sentence_spans


def make(**changes: object) -> Tokenizer:
    return Tokenizer(**{**TOKENIZER_ARGS, **changes})


TOK = make()


def shares_term(a: str, b: str, tokenizer: Tokenizer = TOK) -> bool:
    return bool(set(tokenizer.terms(a)) & set(tokenizer.terms(b)))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("$598,000", "598,000"),
        ("598,000", "598000"),
        ("Armenia's envoy", "Armenia"),
        ("Armenia’s envoy", "armenia"),
        ("Ter-Margaryan", "Margaryan"),
        ("Ter-Margaryan", "Ter"),
        ("2018-2022", "2018"),
        ("2018–2022", "2022"),
        ("recalling", "recalled"),
        ("said", "says"),
        ("withdrew", "withdraws"),
        ("ÉCOLE", "ecole"),
        ("Pashinyán", "Pashinyan"),
        ("ﬁnance", "finance"),
        ("12.50", "12.5"),
    ],
    ids=["dollar-number", "thousands-sep", "possessive", "curly-possessive", "hyphen-part-2",
         "hyphen-part-1", "year-range", "en-dash-range", "stem", "lemma-irregular", "lemma-past",
         "case-and-accent", "accent", "nfkc-ligature", "decimal-zeros"],
)
def test_forms_that_should_match(a: str, b: str) -> None:
    assert shares_term(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("598,000", "598"), ("2018-2022", "2020"), ("Armenia", "Russia")],
    ids=["number-not-prefix", "range-not-inner-year", "different-words"],
)
def test_forms_that_should_not_match(a: str, b: str) -> None:
    assert not shares_term(a, b)


def test_hyphenated_word_is_whole_and_split() -> None:
    terms = TOK.terms("Ter-Margaryan")
    assert terms[0] == "ter-margaryan"
    assert set(terms[1:]) == {"ter", "margaryan"}
    assert make(split_hyphens=False).terms("Ter-Margaryan") == ["ter-margaryan"]


def test_nor_survives_in_names_but_stopwords_go() -> None:
    terms = TOK.terms("the head of the Nor Nork district and of the city")
    assert "nor" in terms and "nork" in terms
    assert not {"the", "of", "and"} & set(terms)
    assert "the" in make(stopwords=False, stem=False, lemmatize=False).terms("the city")


def test_question_framing_words_are_dropped() -> None:
    assert TOK.terms("How much does Armenia owe?") == ["armenia", "owe"]


def test_token_spans_point_at_the_words() -> None:
    text = "Armenia's debt: $598,000 (Ter-Margaryan)."
    for token in TOK.tokens(text):
        assert text[token.start : token.end].strip() == text[token.start : token.end]
        assert token.end > token.start
    spans = TOK.highlights(text, TOK.terms("debt margaryan 598000"))
    assert [text[s:e] for s, e in spans] == ["debt", "598,000", "Margaryan"]


def test_highlight_of_a_hyphen_part_marks_the_whole_word_once() -> None:
    text = "Tigran Ter-Margaryan visited"
    assert TOK.highlights(text, ["margaryan"]) == [Span(11, 20)]
    assert TOK.highlights(text, TOK.terms("Ter-Margaryan")) == [Span(7, 20)]


@pytest.mark.parametrize(
    "kwargs", [{"stem": "yes"}, {"language": "klingon"}, {"lemmatize": True, "language": "french"}],
    ids=["not-bool", "unknown-language", "lemma-needs-english"],
)
def test_bad_settings_raise_value_error(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        make(**kwargs)


def test_merge_spans_joins_overlaps_and_keeps_order() -> None:
    assert merge_spans([Span(5, 9), Span(0, 3), Span(2, 4), Span(9, 10)]) == [Span(0, 4), Span(5, 10)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mr. Smith left. He came back!", ["Mr. Smith left.", "He came back!"]),
        ('He said "no." Then he left.', ['He said "no."', "Then he left."]),
        ("The U.S. agreed. J. K. Rowling wrote.", ["The U.S. agreed.", "J. K. Rowling wrote."]),
        ('"We see it today. ... But why?" he asked.', ['"We see it today. ... But why?" he asked.']),
        ("It cost 1.5 million. It rose.", ["It cost 1.5 million.", "It rose."]),
        ("First para\n\nSecond para.", ["First para", "Second para."]),
        ("no ending at all", ["no ending at all"]),
    ],
    ids=["abbreviation", "closing-quote", "initials", "ellipsis-in-quote", "decimal", "paragraphs", "no-stop"],
)
def test_sentence_spans(text: str, expected: list[str]) -> None:
    assert [text[s:e] for s, e in sentence_spans(text)] == expected


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_tokens_and_sentences_never_fail_and_stay_in_bounds(text: str) -> None:
    for token in TOK.tokens(text):
        assert 0 <= token.start < token.end <= len(text)
        assert token.term
    for start, end in sentence_spans(text):
        assert 0 <= start < end <= len(text)
        assert text[start:end].strip()


def test_clean_question_strips_control_characters() -> None:
    assert clean_question("\x00Why\x07 did\n\tit   happen?\x7f ") == "Why did it happen?"
