"""Ranking with rank-bm25, and its edges on small corpora."""

from __future__ import annotations

import pytest
import numpy as np
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from qa_service.config import Settings
from qa_service.index import Index

from helpers import make_index, make_query, make_tokenizer, passages, search
from qa_service.errors import EmptyCorpusError


TWO = passages("The cat sat on the mat.", "The dog chased a ball in the park.")


def test_empty_corpus_is_refused_clearly() -> None:
    with pytest.raises(EmptyCorpusError, match="no passages"):
        make_index([])
    with pytest.raises(EmptyCorpusError, match="no searchable words"):
        make_index(passages("The and of.", "..."))


def test_two_passage_corpus_still_ranks_with_the_default_scorer() -> None:
    """BM25Okapi gives IDF 0 to a term in exactly half the passages; our default does not."""
    okapi = make_index(TWO, scorer="okapi")
    assert [h.score for h in search(okapi, "cat")] == [0.0]
    hits = search(make_index(TWO), "cat")
    assert [h.passage.id for h in hits] == ["d-p001"] and hits[0].score > 0


def test_scores_are_exactly_rank_bm25s() -> None:
    tok = make_tokenizer()
    docs = [tok.terms(p.text) for p in TWO]
    for scorer, cls in (("plus", BM25Plus), ("okapi", BM25Okapi)):
        ours = make_index(TWO, tok, scorer=scorer).scores(tok.terms("cat dog park"))
        assert list(ours) == list(cls(docs).get_scores(tok.terms("cat dog park")))


def test_rarer_terms_weigh_more() -> None:
    index = make_index(passages("apple banana", "apple cherry", "apple banana", "apple date"))
    apple, banana, date = (index.tokenizer.terms(w)[0] for w in ("apple", "banana", "date"))
    assert index.rarity(date) > index.rarity(banana) > index.rarity(apple) > 0
    assert index.rarity("unseen") > index.rarity(date)
    # a passage matching the rarer term ranks above one matching the commoner term
    assert search(index, "banana date", 4)[0].passage.id == "d-p004"


def test_passages_matching_nothing_are_never_returned() -> None:
    index = make_index(passages("red apples", "green pears", "yellow lemons"))
    assert [h.passage.id for h in search(index, "apples", 10)] == ["d-p001"]
    assert search(index, "bananas", 10) == []
    assert search(index, "the of and", 10) == []


def test_ties_are_broken_by_passage_order() -> None:
    index = make_index(passages("same words here", "other text", "same words here", "same words here"))
    assert [h.passage.id for h in search(index, "same words", 10)] == ["d-p001", "d-p003", "d-p004"]
    assert [h.rank for h in search(index, "same words", 10)] == [1, 2, 3]


def test_matched_terms_are_reported() -> None:
    hit = search(make_index(TWO), "dog park cat", 1)[0]
    assert hit.passage.id == "d-p002" and hit.matched == {"dog", "park"}


def test_unknown_scorer_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scorer"):
        Index(TWO, make_tokenizer(), scorer="tfidf", k1=1.5, b=0.75, delta=1.0)


def test_similar_finds_near_spellings_only() -> None:
    index = make_index(passages("The organization responded quickly.", "A weaponry report."))
    tok = make_tokenizer()
    assert index.similar(tok.terms("organisation")[0]) == ["organiz"]
    assert index.similar(tok.terms("response")[0]) == ["respond"]
    assert index.similar(tok.terms("weapon")[0]) == ["weaponri"]
    assert index.similar("report") == []  # known terms are not expanded by callers, and nothing else is close
    assert index.similar("cat") == []


def test_bundled_card_example(pipeline) -> None:
    top = search(pipeline.index, "why did Armenia recall its envoy?", 3)[0].passage.text
    assert "ambassador in Minsk" in top or ("Belarus" in top and "Azerbaijan" in top)


def test_weighted_scores_are_the_weighted_sum_of_each_terms_rank_bm25_score() -> None:
    index = make_index(passages("The cat sat on the mat.", "The dog chased the cat in the park.", "A bird sang."))
    terms = ["cat", "dog", "cat"]
    plain = index.scores(terms)
    assert list(index.scores(terms, [1.0, 1.0, 1.0])) == list(plain)
    weighted = index.scores(terms, [0.5, 2.0, 0.5])
    single = {t: index.scores([t]) for t in ("cat", "dog")}
    expected = 0.5 * single["cat"] + 2.0 * single["dog"] + 0.5 * single["cat"]
    assert weighted == pytest.approx(expected)
    assert index.scores(["cat", "dog"], [1.0, 0.0]) == pytest.approx(single["cat"])


def test_similar_forgives_one_misspelt_letter_in_longer_words() -> None:
    tok = make_tokenizer()
    index = make_index(passages("Bendigo and Geelong favour Labor.", "The Khwarezmid empire fell.", "A cat sat."), tok)
    assert index.similar(tok.terms("Bedigo")[0]) == ["bendigo"]  # a letter dropped
    assert index.similar(tok.terms("Kharezmid")[0]) == ["khwarezmid"]
    assert index.similar(tok.terms("Geelonk")[0]) == ["geelong"]  # a letter changed
    assert index.similar("bendigos") == ["bendigo"]  # same root, found first
    assert index.similar("cet") == []  # too short to guess
    assert index.similar("bedico") == []  # two edits away


def test_one_edit_guessing_stops_at_thirty_letters() -> None:
    long_word = "supercalifragilisticexpialidocious"  # 34 letters
    index = make_index(passages(f"Bendigo is {long_word}.", "A cat sat."))
    assert index.similar("zendigo") == ["bendigo"]
    indexed = make_tokenizer().terms(long_word)[0]
    assert len(indexed) > 30 and index.document_frequency(indexed) == 1
    assert index.similar("z" + indexed[1:]) == []  # one edit, but too long to guess at


@pytest.mark.parametrize(
    "params",
    [{"scorer": "plus"}, {"scorer": "okapi"}, {"scorer": "l"}, {"scorer": "plus", "k1": 0.0, "b": 1.0},
     {"scorer": "okapi", "b": 0.0, "k1": 3.0}, {"scorer": "l", "delta": 0.0, "b": 1.0}, {"scorer": "plus", "delta": 0.0}],
    ids=["plus", "okapi", "l", "plus-k1-0", "okapi-b-0", "l-delta-0", "plus-delta-0"],
)
def test_every_terms_scores_are_rank_bm25s_to_the_bit(pipeline, params: dict) -> None:
    """Per-term scores come from the postings, not rank-bm25's loop; they must be its bits."""
    from qa_service.evaluate import load_squad
    from pathlib import Path

    squad, _ = load_squad(Path(__file__).resolve().parent.parent / "corpus" / "squad-expmrc" / "expmrc-squad-dev.json")
    cls = {"plus": BM25Plus, "okapi": BM25Okapi, "l": BM25L}[params["scorer"]]
    for corpus_passages in (pipeline.corpus.passages, squad.passages[:120]):
        index = make_index(corpus_passages, **params)
        s = Settings().replace(**params)
        # the passages' terms, and the acronym of a long form a passage spells out (the index's documents)
        docs = [index.tokenizer.terms(p.text) for p in corpus_passages]
        reference = cls([d + index._acronyms_of(d) for d in docs], k1=s.k1, b=s.b,
                        **({} if s.scorer == "okapi" else {"delta": s.delta}))
        query = index.tokenizer.terms("why did Armenia recall its envoy to the university in 1900?")
        with np.errstate(divide="ignore", invalid="ignore"):  # k1 = 0: rank-bm25 divides 0 by 0 too
            for term in [*index._vocabulary[:400], "never-seen", "zzz"]:
                ours = index.scores([term])
                theirs = reference.get_scores([term])
                assert np.array_equal(ours, theirs, equal_nan=True), term
            assert np.array_equal(index.scores(query), reference.get_scores(query), equal_nan=True)


def test_an_acronym_defined_anywhere_finds_its_long_form_and_back() -> None:
    """ "the Collective Security Treaty Organization (CSTO)" in one passage: a question that
    spells the long form out finds a passage that says only "CSTO", and a question saying "CSTO"
    finds one that spells the long form out; scores stay rank-bm25's over the passages' terms
    (plus the acronym where the long form is spelt out) and the question's (plus the acronym)."""
    index = make_index(passages(
        "The World Health Organization (WHO) and the Collective Security Treaty Organization (CSTO) met in Geneva.",
        "The CSTO held drills near the border last spring.",
        "Members of the Collective Security Treaty Organization voted on the budget.",
        "Fishermen caught cod near the border.",
    ))
    assert index.acronyms == {"csto": tuple(index.tokenizer.terms("Collective Security Treaty Organization"))}
    drills = {h.passage.id: h for h in search(index, "When did the Collective Security Treaty Organization hold drills?")}
    assert "csto" in drills["d-p002"].matched
    vote = search(index, "What did the CSTO vote on?")
    assert vote[0].passage.id == "d-p003" and "csto" in vote[0].matched
    docs = [[t.term for t in index.tokenizer.tokens(p.text)] for p in index.passages]
    docs[2] += ["csto"]
    query = make_query(index, "When did the Collective Security Treaty Organization hold drills?")
    assert "csto" in query.question.terms and query.coverage == 1.0
    expected = BM25Plus(docs).get_scores(list(query.question.terms))
    assert drills["d-p002"].scores["bm25"] == pytest.approx(expected[1])
    assert "csto" in index.sentences(2)[0][1]  # the reader sees it too


def test_no_acronym_is_expanded_without_a_definition() -> None:
    index = make_index(passages("The CSTO held drills.", "NATO met in Brussels."))
    assert index.acronyms == {}
