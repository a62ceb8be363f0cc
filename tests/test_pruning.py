"""Pruned top-k search (MaxScore over block bounds) returns exactly what scoring every candidate
returns: the same passages, the same scores to the bit, the same order and ties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qa_service.index as index_module
from qa_service.config import Settings
from qa_service.index import Index
from qa_service.values import Query, QueryTerm, Turn

from helpers import make_index, make_tokenizer, passages

TOKENIZER = make_tokenizer()
WORDS = ["apple", "banana", "cherry", "damson", "elder", "fig", "grape", "hazel", "iris", "juniper", "kale", "lime"]
VARIANTS = [
    {"scorer": "plus"}, {"scorer": "okapi"}, {"scorer": "l"},
    {"scorer": "plus", "k1": 0.9, "b": 0.4, "delta": 0.5}, {"scorer": "okapi", "k1": 2.0, "b": 1.0},
    {"scorer": "l", "k1": 1.2, "b": 0.0, "delta": 2.0}, {"scorer": "okapi", "k1": 0.5, "b": 0.0},
    {"scorer": "plus", "k1": 0.0},  # NaN everywhere (0/0): never pruned, still the same hits
]


def _prune_everything(mp: pytest.MonkeyPatch, block: int) -> None:
    """Prune on corpora of any size, in blocks of ``block`` postings, a tiny pool and batches."""
    for name, value in {"_PRUNE_MIN_PASSAGES": 0, "_PRUNE_MIN_POSTINGS": 0, "_PRUNE_POSTINGS_PER_HIT": 0,
                        "_PRUNE_POOL": 2, "_PRUNE_BATCH": 1, "BLOCK": block}.items():
        mp.setattr(index_module, name, value)


def _query(turns: list[tuple[str, float, list[tuple[str, float]]]]) -> Query:
    built = tuple(Turn(" ".join(t for t, _ in words), weight, role,
                       tuple(QueryTerm(t, 0, 0, (t,), prior, 1.0) for t, prior in words))
                  for role, weight, words in turns)
    return Query("q", built, {}, None, 1.0, (), ())


def _key(hits) -> list[tuple[int, str, str, str, str, int]]:
    """Each hit with its scores' exact bits (float.hex: NaN equals NaN, -0.0 differs from 0.0)."""
    return [(h.position, h.passage.id, h.score.hex(), h.scores["bm25"].hex(), h.scores["weighted"].hex(), h.rank)
            for h in hits]


texts = st.lists(st.lists(st.sampled_from(WORDS[:6]) | st.sampled_from(WORDS), max_size=12)
                 .map(lambda words: " ".join(words) or "the of and"), min_size=1, max_size=70)
words = st.lists(st.tuples(st.sampled_from(WORDS + ["zebra", "unknownword"]),
                           st.sampled_from([1.0, 1.0, 0.0, 0.25, 0.6, 3.0])), min_size=1, max_size=7)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=texts, variant=st.sampled_from(VARIANTS), block=st.sampled_from([1, 2, 3, 5, 128]),
       question=words, earlier=st.none() | words, answer=st.none() | words,
       uniform=st.booleans(), k=st.sampled_from([1, 2, 3, 5, 10, 40]))
def test_pruned_search_is_the_exhaustive_search_to_the_bit(texts, variant, block, question, earlier, answer,
                                                           uniform, k) -> None:
    """Every scorer and its parameters, BM25+'s constant shift, BM25L, Okapi's negative IDFs under
    the epsilon floor, per-term weights (and none), earlier turns and the previous answer (which
    ranks but never selects), repeated and unknown terms, ties, k above the candidates."""
    with pytest.MonkeyPatch.context() as mp:
        _prune_everything(mp, block)
        if not any(TOKENIZER.terms(t) for t in texts):
            return
        index = make_index(passages(*texts), TOKENIZER, **variant)

        def terms(pairs):
            return [(t, 1.0 if uniform else prior) for word, prior in pairs for t in TOKENIZER.terms(word) or [word]]

        turns = [("question", 1.0, terms(question))]
        turns += [("earlier", 0.5, terms(earlier))] if earlier else []
        turns += [("answer", 0.5, terms(answer))] if answer else []
        query = _query(turns)
        with np.errstate(divide="ignore", invalid="ignore"):
            pruned, exhaustive = index.search(query, k), index.search(query, k, prune=False)
        assert _key(pruned) == _key(exhaustive)


@pytest.mark.parametrize("variant", VARIANTS[:7], ids=lambda v: "-".join(f"{k}={x}" for k, x in v.items()))
def test_pruning_runs_and_skips_passages_on_a_larger_corpus(variant: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the real block size (and the postings needed to prune lowered to this corpus): the
    pruned path is taken, scores fewer passages than there are candidates, and still returns what
    scoring them all returns."""
    monkeypatch.setattr(index_module, "_PRUNE_MIN_POSTINGS", 1000)
    rng = np.random.default_rng(7)
    vocabulary = [f"{a}{b}" for a in ("bal", "dor", "kem", "lun", "mir", "sot", "tav", "vek") for b in
                  ("ano", "elo", "ira", "oru", "una")]
    weights = 1 / np.arange(1, len(vocabulary) + 1) ** 1.1  # a few words in most passages, most in few
    texts = [" ".join(rng.choice(vocabulary, size=int(rng.integers(3, 30)), p=weights / weights.sum()))
             for _ in range(3000)]
    index = make_index(passages(*texts), TOKENIZER, **variant)
    scored: list[int] = []
    real = index._scores_at

    def counting(query, columns, few=False):
        scored.append(len(columns))
        return real(query, columns, few)

    monkeypatch.setattr(index, "_scores_at", counting)
    for question in (["balano", "sotira", "vekuna"], ["balano", "dorelo"], ["mirira", "tavoru", "kemano", "lununa"]):
        query = _query([("question", 1.0, [(t, 1.0) for t in question]), ("answer", 0.5, [("balelo", 0.7)])])
        candidates = len(index.candidates(query.asked))
        scored.clear()
        pruned = index.search(query, 10)
        assert scored and sum(scored) < candidates / 2, (sum(scored), candidates)
        assert _key(pruned) == _key(index.search(query, 10, prune=False))


def test_ties_keep_passage_order_when_pruned(monkeypatch: pytest.MonkeyPatch) -> None:
    _prune_everything(monkeypatch, 2)
    index = make_index(passages(*(["apple banana"] * 9 + ["apple"] * 5 + ["banana cherry"] * 4)), TOKENIZER)
    query = _query([("question", 1.0, [("apple", 1.0), ("banana", 1.0)])])
    hits = index.search(query, 4)
    assert [h.position for h in hits] == [0, 1, 2, 3]
    assert _key(hits) == _key(index.search(query, 4, prune=False))


def test_block_bounds_stay_right_when_passages_are_added_and_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    """extend_data/drop_data keep each block's largest tf and shortest passage equal to a rebuild's
    (blocks shift as postings join and leave a term), and pruned search over them stays exact."""
    _prune_everything(monkeypatch, 3)
    rng = np.random.default_rng(3)
    texts = [" ".join(rng.choice(WORDS[:7], size=int(rng.integers(1, 9)))) for _ in range(60)]
    docs = passages(*texts)
    data = index_module.build_data(docs[:25], TOKENIZER)
    data = index_module.extend_data(data, docs[25:], TOKENIZER, docs[:25])
    keep = np.flatnonzero(rng.random(60) < 0.6)
    data = index_module.drop_data(data, keep, TOKENIZER, docs)
    kept = [docs[i] for i in keep.tolist()]
    rebuilt = index_module.build_data(kept, TOKENIZER)
    for name in ("blocks_max_tf", "blocks_min_len"):
        assert np.array_equal(data.arrays[name], rebuilt.arrays[name]), name
    s = Settings()
    index = Index(kept, TOKENIZER, scorer=s.scorer, k1=s.k1, b=s.b, delta=s.delta, data=data)  # the arrays kept up to date
    for question in (["apple", "banana"], ["cherry", "fig", "fig", "zebra"], ["grape"]):
        query = _query([("question", 1.0, [(t, 1.0) for w in question for t in TOKENIZER.terms(w) or [w]])])
        assert _key(index.search(query, 5)) == _key(index.search(query, 5, prune=False))
