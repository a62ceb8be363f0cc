"""Our scores are rank-bm25's: random corpora, every variant, against ``get_scores`` itself."""

from __future__ import annotations

import random

import numpy as np
import pytest
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from helpers import make_index, make_query, make_tokenizer, passages
from qa_service.index import top_k

CLASSES = {"plus": BM25Plus, "okapi": BM25Okapi, "l": BM25L}
WORDS = ["apple", "banana", "cherry", "damson", "elder", "fig", "grape", "hazel", "iris", "juniper", "kale", "lime"]
VARIANTS = [
    {"scorer": "plus"}, {"scorer": "okapi"}, {"scorer": "l"},
    {"scorer": "plus", "k1": 0.9, "b": 0.4, "delta": 0.5}, {"scorer": "okapi", "k1": 2.0, "b": 1.0},
    {"scorer": "l", "k1": 1.2, "b": 0.0, "delta": 2.0},
]


def _corpus(rng: random.Random) -> list[str]:
    """Tiny to middling corpora; repeated words, a few with no indexable word at all."""
    size = rng.choice([1, 2, 3, 5, 17, 60])
    vocabulary = WORDS[: rng.randint(1, len(WORDS))]
    texts = []
    for _ in range(size):
        n = rng.choice([0, 1, 3, 8, 25])
        texts.append(" ".join(rng.choice(vocabulary) for _ in range(n)) or "the of and")
    return texts


def _reference(cls, docs, s):
    return cls(docs, k1=s["k1"], b=s["b"], **({} if s["scorer"] == "okapi" else {"delta": s["delta"]}))


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(f"{k}={x}" for k, x in v.items()))
def test_scores_and_rankings_are_rank_bm25s_on_random_corpora(variant: dict) -> None:
    rng = random.Random(hash(tuple(sorted(variant.items()))) & 0xFFFF)
    tok = make_tokenizer()
    settings = {"k1": 1.5, "b": 0.75, "delta": 1.0, **variant}
    checked = 0
    while checked < 40:
        texts = _corpus(rng)
        docs = [tok.terms(t) for t in texts]
        if not any(docs):
            continue
        checked += 1
        index = make_index(passages(*texts), tok, **variant)
        reference = _reference(CLASSES[variant["scorer"]], docs, settings)
        for _ in range(6):
            words = [rng.choice(WORDS + ["unknownword", "zebra"]) for _ in range(rng.choice([0, 1, 2, 4, 7]))]
            terms = [t for w in words for t in tok.terms(w)]
            with np.errstate(divide="ignore", invalid="ignore"):  # b = 1 and a passage of no words: 0/0, NaN in both
                theirs = reference.get_scores(terms)
                ours = index.scores(terms)
            assert np.allclose(ours, theirs, rtol=0, atol=1e-9, equal_nan=True), (texts, terms)
            assert np.array_equal(ours, theirs, equal_nan=True), (texts, terms)
            # the ranking: passages holding a question word, by score, ties in passage order
            hits = index.search(make_query(index, " ".join(words)), 10_000) if words else []
            held = [i for i, d in enumerate(docs) if set(d) & set(terms)]
            expected = sorted(held, key=lambda i: (-theirs[i], i))
            assert [h.position for h in hits] == expected
            assert all(h.scores["bm25"] == theirs[h.position] for h in hits)
            # per-term weights: each term's own rank-bm25 row times its weight, summed
            weights = [rng.choice([0.0, 0.25, 1.0, 3.0]) for _ in terms]
            expected_weighted = np.zeros(len(texts))
            merged: dict[str, float] = {}
            for t, w in zip(terms, weights):
                merged[t] = merged.get(t, 0.0) + w
            with np.errstate(divide="ignore", invalid="ignore"):
                for t, w in merged.items():
                    expected_weighted += w * reference.get_scores([t])
                weighted = index.scores(terms, weights)
            assert np.allclose(weighted, expected_weighted, rtol=0, atol=1e-9, equal_nan=True)


def test_okapis_epsilon_floor_is_rank_bm25s() -> None:
    """A term in most passages has a negative Okapi IDF; rank-bm25 floors it at 0.25 x the mean IDF."""
    texts = ["apple banana", "apple cherry", "apple", "apple fig", "grape"]
    tok = make_tokenizer()
    reference = BM25Okapi([tok.terms(t) for t in texts])
    index = make_index(passages(*texts), tok, scorer="okapi")
    assert reference.idf["appl"] == pytest.approx(0.25 * reference.average_idf)
    assert index.idf["appl"] == reference.idf["appl"]
    assert np.array_equal(index.scores(["appl", "banana"]), reference.get_scores(["appl", "banana"]))


def test_bm25_plus_adds_delta_times_idf_to_every_passage_for_every_query_term() -> None:
    """rank-bm25's BM25+ quirk, which the README states: unmatched passages get idf x delta too."""
    texts = ["apple banana", "cherry", "fig"]
    tok = make_tokenizer()
    reference = BM25Plus([tok.terms(t) for t in texts], delta=1.0)
    index = make_index(passages(*texts), tok)
    scores = index.scores(["appl", "banana"])
    assert scores[1] == scores[2] == reference.idf["appl"] + reference.idf["banana"] > 0
    assert np.array_equal(scores, reference.get_scores(["appl", "banana"]))


def test_top_k_breaks_ties_by_position_and_never_sorts_more_than_it_must() -> None:
    scores = np.array([1.0, 3.0, 3.0, 2.0, 3.0, np.nan, 0.5])
    assert top_k(scores, 2).tolist() == [1, 2]
    assert top_k(scores, 4).tolist() == [1, 2, 4, 3]
    assert top_k(scores, 10).tolist() == [1, 2, 4, 3, 0, 6, 5]
    rng = np.random.default_rng(1)
    many = rng.integers(0, 50, 5000).astype(float)
    expected = sorted(range(len(many)), key=lambda i: (-many[i], i))[:25]
    assert top_k(many, 25).tolist() == expected


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(f"{k}={x}" for k, x in v.items()))
def test_every_way_of_scoring_gives_rank_bm25s_bits_on_a_larger_corpus(variant: dict) -> None:
    """Few candidates are scored as a matrix (over a small corpus, or looked up in a larger one),
    many as postings only, a handful (hits found by meaning, explanations) by looking each up:
    every way must give rank-bm25's numbers."""
    rng = random.Random(7)
    tok = make_tokenizer()
    settings = {"k1": 1.5, "b": 0.75, "delta": 1.0, **variant}
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12))) for _ in range(2500)]
    docs = [tok.terms(t) for t in texts]
    index = make_index(passages(*texts), tok, **variant)
    reference = _reference(CLASSES[variant["scorer"]], docs, settings)
    for words in (WORDS, WORDS[:2], ["juniper"], WORDS[3:9] + ["zebra"]):
        query = make_query(index, " ".join(words))
        terms = list(query.question.terms)
        with np.errstate(divide="ignore", invalid="ignore"):
            theirs = reference.get_scores(terms)
        hits = index.search(query, 2500)
        held = [i for i, d in enumerate(docs) if set(d) & set(terms)]
        assert [h.position for h in hits] == sorted(held, key=lambda i: (-theirs[i], i))
        assert all(h.scores["bm25"] == theirs[h.position] for h in hits)
        few = index.hits_at(query, [5, 17, 400], 1)
        assert [h.scores["bm25"] for h in few] == [theirs[5], theirs[17], theirs[400]]
        explained = index.explain(query, index.passages[17].id)
        assert sum(row["bm25"] for row in explained) == pytest.approx(theirs[17], abs=1e-9)
