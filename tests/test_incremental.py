"""Adding and removing passages without a rebuild: the index and the sentence vectors must be what
a rebuild over the new corpus gives, to the bit (terms in the same order, every array, acronyms,
fingerprint), and rank-bm25's scores over it."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from helpers import make_index, make_tokenizer, passages
from qa_service import semantic
from qa_service.config import Settings
from qa_service.errors import EmptyCorpusError
from qa_service.index import (INDEX_DIR, Index, IndexData, build_data, drop_data, extend_data, fingerprint,
                              load_data)
from qa_service.pipeline import build_encoder
from qa_service.semantic import (SentenceVectors, drop_vectors, extend_vectors, load_or_build, save,
                                 vectors_digest)
from qa_service.values import Passage

TOKENIZERS = {"default": make_tokenizer(), "whole-hyphens": make_tokenizer(split_hyphens=False)}
TOK = TOKENIZERS["default"]

# Words, repeats, acronym definitions both ways round, long forms spelt out without the acronym,
# one acronym defined twice with two long forms, and one only a glued spelling holds ("X-NATO":
# without split hyphens no passage has the term "nato", so it is numbered after every passage term).
FRAGMENTS = [
    "apple banana", "cherry cherry damson", "fig", "grape hazel iris", "the of and", "Apple",
    "the North Atlantic Treaty Organization (NATO) met", "NATO (North Atlantic Treaty Organization)",
    "X-NATO (North Atlantic Treaty Organization)", "North Atlantic Treaty Organization", "NATO",
    "Central Bank (CB)", "Central Bureau (CB)", "the central bank", "central bureau", "CB",
    "the European Union (EU)", "European Union", "EU", "Red Cross (RC)", "a red cross", "the World Health Organization (WHO)",
]


def texts_from(rng: random.Random, count: int) -> list[str]:
    return [" ".join(rng.choice(FRAGMENTS) for _ in range(rng.choice([0, 1, 2, 3, 5]))) + "." for _ in range(count)]


def numbered(texts: Sequence[str], first: int = 1, document: str = "d") -> list[Passage]:
    return [Passage(f"{document}-p{i:03d}", document, i, 0, len(t), t) for i, t in enumerate(texts, start=first)]


def assert_same(ours: IndexData, rebuilt: IndexData) -> None:
    assert ours.terms == rebuilt.terms
    assert list(ours.acronyms.items()) == list(rebuilt.acronyms.items())  # in definition order
    assert ours.fingerprint == rebuilt.fingerprint
    assert ours.arrays.keys() == rebuilt.arrays.keys()
    for name, array in rebuilt.arrays.items():
        assert ours.arrays[name].dtype == array.dtype, name
        assert np.array_equal(ours.arrays[name], array), name


def built(docs: Sequence[Passage], tok=TOK) -> IndexData | None:  # noqa: ANN001
    try:
        return build_data(docs, tok)
    except EmptyCorpusError:
        return None


# ---------------------------------------------------------------- cases a person would write

EXTEND_CASES = {
    "new words": (["apple banana.", "cherry."], ["damson apple.", "fig fig grape."]),
    "only old words": (["apple banana cherry."], ["cherry apple.", "banana."]),
    "a new passage of no words": (["apple."], ["the of and.", "", "fig."]),
    "new definition of what old passages spell out": (
        ["The North Atlantic Treaty Organization met.", "apple."],
        ["The North Atlantic Treaty Organization (NATO) grew.", "North Atlantic Treaty Organization again."]),
    "old definition applies to new passages": (
        ["The European Union (EU) met.", "apple."], ["The European Union grew.", "EU again.", "fig."]),
    "the first definition wins": (["Central Bank (CB) apple."], ["Central Bureau (CB) fig.", "central bureau and CB."]),
    "the acronym before its long form": (["red cross."], ["RC (Red Cross) helped.", "a red cross"]),
    "an old acronym no passage held as a word": (
        ["X-NATO (North Atlantic Treaty Organization) apple."], ["NATO met.", "North Atlantic Treaty Organization."]),
}


@pytest.mark.parametrize("tok", TOKENIZERS.values(), ids=TOKENIZERS.keys())
@pytest.mark.parametrize("old,new", EXTEND_CASES.values(), ids=EXTEND_CASES.keys())
def test_adding_passages_gives_the_rebuilt_index(old: list[str], new: list[str], tok) -> None:  # noqa: ANN001
    old_docs, new_docs = numbered(old), numbered(new, first=len(old) + 1, document="e")
    assert_same(extend_data(build_data(old_docs, tok), new_docs, tok, old_docs), build_data(old_docs + new_docs, tok))


DROP_CASES = {
    "the defining document removed: a later definition wins": (
        ["Central Bank (CB) apple.", "Central Bureau (CB) fig.", "central bank and central bureau, CB."], [1, 2]),
    "the only definer removed: the acronym is gone": (
        ["The European Union (EU) met.", "European Union apple.", "EU fig."], [1, 2]),
    "a later definer removed: nothing changes": (["Central Bank (CB).", "Central Bureau (CB).", "central bank"], [0, 2]),
    "everything but one passage": (["apple banana.", "The North Atlantic Treaty Organization (NATO) met.", "fig."], [1]),
    "terms appear in another order": (["banana.", "apple banana cherry.", "cherry apple."], [1, 2]),
    "a term no passage keeps": (["apple.", "zucchini apple.", "fig."], [0, 2]),
    "none removed": (["apple.", "fig."], [0, 1]),
}


@pytest.mark.parametrize("tok", TOKENIZERS.values(), ids=TOKENIZERS.keys())
@pytest.mark.parametrize("texts,keep", DROP_CASES.values(), ids=DROP_CASES.keys())
def test_removing_passages_gives_the_rebuilt_index(texts: list[str], keep: list[int], tok) -> None:  # noqa: ANN001
    docs = numbered(texts)
    kept = [docs[i] for i in keep]
    assert_same(drop_data(build_data(docs, tok), keep, tok, docs), build_data(kept, tok))
    mask = np.zeros(len(docs), dtype=bool)
    mask[keep] = True
    assert_same(drop_data(build_data(docs, tok), mask, tok, docs), build_data(kept, tok))


def test_removing_every_passage_or_every_word_is_refused() -> None:
    docs = numbered(["apple.", "the of and."])
    data = build_data(docs, TOK)
    with pytest.raises(EmptyCorpusError, match="no passages"):
        drop_data(data, [], TOK, docs)
    with pytest.raises(EmptyCorpusError, match="no searchable words"):
        drop_data(data, [1], TOK, docs)


def test_an_index_made_for_other_passages_is_refused() -> None:
    docs = numbered(["apple.", "fig."])
    data = build_data(docs, TOK)
    with pytest.raises(ValueError, match="other passages"):
        extend_data(data, numbered(["grape."], 3), TOK, numbered(["apple.", "figs."]))
    with pytest.raises(ValueError, match="other passages"):
        drop_data(data, [0], TOKENIZERS["whole-hyphens"], docs)
    with pytest.raises(ValueError, match="holds 2 passages"):
        drop_data(data, [0], TOK, docs[:1])
    with pytest.raises(ValueError, match="positions"):
        drop_data(data, [2], TOK, docs)


# ---------------------------------------------------------------- random corpora

corpora = st.builds(lambda seed, size: texts_from(random.Random(seed), size),
                    st.integers(0, 2**32 - 1), st.integers(1, 14))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=corpora, data=st.data(), tok_name=st.sampled_from(sorted(TOKENIZERS)))
def test_adding_equals_rebuilding_on_random_corpora(texts: list[str], data, tok_name: str) -> None:  # noqa: ANN001
    tok = TOKENIZERS[tok_name]
    docs = numbered(texts)
    cut = data.draw(st.integers(1, len(docs)))
    old = built(docs[:cut], tok)
    assume(old is not None)
    assert_same(extend_data(old, docs[cut:], tok, docs[:cut]), build_data(docs, tok))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=corpora, data=st.data(), tok_name=st.sampled_from(sorted(TOKENIZERS)))
def test_removing_equals_rebuilding_on_random_corpora(texts: list[str], data, tok_name: str) -> None:  # noqa: ANN001
    tok = TOKENIZERS[tok_name]
    docs = numbered(texts)
    everything = built(docs, tok)
    assume(everything is not None)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(docs), max_size=len(docs))), dtype=bool)
    kept = [d for d, k in zip(docs, mask) if k]
    rebuilt = built(kept, tok) if kept else None
    if rebuilt is None:
        with pytest.raises(EmptyCorpusError):
            drop_data(everything, mask, tok, docs)
    else:
        assert_same(drop_data(everything, mask, tok, docs), rebuilt)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_documents_added_and_removed_in_turn_equal_a_rebuild(seed: int) -> None:
    """The service's life: documents come and go, each change made from the last one's index."""
    rng = random.Random(seed)
    docs = numbered(texts_from(rng, rng.randint(1, 5)), document="doc0")
    data = built(docs, TOK)
    assume(data is not None)
    for step in range(1, 6):
        if rng.random() < 0.6 or len({d.document for d in docs}) == 1:
            new = numbered(texts_from(rng, rng.randint(1, 4)), document=f"doc{step}")
            data, docs = extend_data(data, new, TOK, docs), docs + new
        else:
            gone = rng.choice(sorted({d.document for d in docs}))
            keep = [i for i, d in enumerate(docs) if d.document != gone]
            kept = [docs[i] for i in keep]
            if built(kept, TOK) is None:
                continue
            data, docs = drop_data(data, keep, TOK, docs), kept
        assert_same(data, build_data(docs, TOK))


# ---------------------------------------------------------------- rank-bm25's scores

WORDS = ["apple", "banana", "cherry", "damson", "elder", "fig", "grape", "hazel", "iris", "juniper", "kale", "lime"]
CLASSES = {"plus": BM25Plus, "okapi": BM25Okapi, "l": BM25L}


@pytest.mark.parametrize("scorer", sorted(CLASSES))
def test_scores_over_an_extended_or_reduced_index_are_rank_bm25s(scorer: str) -> None:
    rng = random.Random(scorer)
    for _ in range(25):
        vocabulary = WORDS[: rng.randint(2, len(WORDS))]
        texts = [" ".join(rng.choice(vocabulary) for _ in range(rng.choice([1, 3, 8, 25]))) for _ in range(rng.randint(2, 30))]
        docs = numbered(texts)
        cut = rng.randint(1, len(docs) - 1)
        extended = extend_data(build_data(docs[:cut], TOK), docs[cut:], TOK, docs[:cut])
        keep = sorted(rng.sample(range(len(docs)), rng.randint(1, len(docs))))
        reduced = drop_data(extended, keep, TOK, docs)
        for data, corpus in ((extended, docs), (reduced, [docs[i] for i in keep])):
            index = Index(corpus, TOK, scorer=scorer, k1=1.5, b=0.75, delta=1.0, data=data)
            reference = CLASSES[scorer]([TOK.terms(p.text) for p in corpus], k1=1.5, b=0.75,
                                        **({} if scorer == "okapi" else {"delta": 1.0}))
            for _ in range(5):
                terms = [t for w in rng.sample(WORDS + ["zebra"], rng.randint(1, 5)) for t in TOK.terms(w)]
                assert np.array_equal(index.scores(terms), reference.get_scores(terms)), (texts, keep, terms)


def test_an_extended_index_answers_as_a_rebuilt_one() -> None:
    """Acronyms included: a question with "NATO" finds the old passage that spells it out, once a
    new document defines it."""
    old = numbered(["The North Atlantic Treaty Organization met in Brussels.", "Apples grow on trees."])
    new = numbered(["NATO (North Atlantic Treaty Organization) is an alliance."], 3, "e")
    extended = Index(old + new, TOK, scorer="plus", k1=1.5, b=0.75, delta=1.0,
                     data=extend_data(build_data(old, TOK), new, TOK, old))
    rebuilt = make_index(old + new, TOK)
    assert np.array_equal(extended.scores(["nato"]), rebuilt.scores(["nato"]))
    assert extended.scores(["nato"])[0] > 0 and extended.sentences(0) == rebuilt.sentences(0)


# ---------------------------------------------------------------- a saved, memory-mapped index


def _file_hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((folder / INDEX_DIR).iterdir())}


def test_a_memory_mapped_index_is_extended_and_reduced_but_never_written(tmp_path: Path) -> None:
    docs = numbered(["The European Union (EU) met.", "apple banana.", "Central Bank (CB) fig."])
    new = numbered(["European Union and EU.", "Central Bureau (CB) grape.", "central bank."], 4, "e")
    build_data(docs, TOK).save(tmp_path)
    before = _file_hashes(tmp_path)
    mapped = load_data(tmp_path, fingerprint(docs, TOK))
    assert all(isinstance(a, np.memmap) and not a.flags.writeable for a in mapped.arrays.values())
    copies = {name: np.array(a) for name, a in mapped.arrays.items()}
    extended = extend_data(mapped, new, TOK, docs)
    assert_same(extended, build_data(docs + new, TOK))
    assert_same(drop_data(mapped, [1, 2], TOK, docs), build_data(docs[1:], TOK))
    assert all(np.array_equal(mapped.arrays[name], copies[name]) for name in copies)
    assert _file_hashes(tmp_path) == before
    extended.save(tmp_path)  # over the mapped files: the new index is read back as the rebuilt one
    assert_same(load_data(tmp_path, fingerprint(docs + new, TOK)), build_data(docs + new, TOK))


# ---------------------------------------------------------------- sentence vectors


class FakeEncoder:
    """Deterministic unit vectors from each text's hash; counts what it is asked to encode."""

    name, dim, fingerprint = "fake", 8, "fake-encoder-1"

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def warm_up(self) -> None:
        pass

    def encode(self, texts: Sequence[str], max_tokens: int | None = None) -> np.ndarray:
        self.encoded.extend(texts)
        rows = [np.random.default_rng(list(hashlib.sha256(t.encode()).digest())).standard_normal(self.dim) for t in texts]
        matrix = np.array(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.fixture()
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """No sentence remembered from another test: what is encoded is what the call encodes."""
    monkeypatch.setattr(semantic, "_SEEN", {})


def _same_vectors(ours: SentenceVectors, full: SentenceVectors) -> None:
    assert np.array_equal(ours.offsets, full.offsets) and ours.fingerprint == full.fingerprint
    assert ours.matrix.dtype == full.matrix.dtype and np.allclose(ours.matrix, full.matrix, rtol=0, atol=1e-6)


OLD_TEXTS = ["The ferry leaves at noon. It returns at six.", "", "Tickets cost ten euros."]
NEW_TEXTS = ["A new pier opened. Boats dock there.", "The ferry leaves at noon.", "No full stop here"]


def test_vectors_are_extended_by_encoding_only_the_new_sentences(tmp_path: Path, fresh_cache: None) -> None:
    old, new = numbered(OLD_TEXTS), numbered(NEW_TEXTS, 4, "e")
    encoder = FakeEncoder()
    vectors = load_or_build(old, encoder)
    encoder.encoded.clear()
    extended = extend_vectors(vectors, new, encoder)
    assert encoder.encoded == ["A new pier opened.", "Boats dock there.", "No full stop here"]  # the rest: seen before
    semantic._SEEN.clear()
    _same_vectors(extended, load_or_build(old + new, FakeEncoder()))
    save(tmp_path, extended.matrix, vectors_digest(old + new, encoder), encoder.fingerprint, strict=True)
    again = FakeEncoder()
    semantic._SEEN.clear()
    loaded = load_or_build(old + new, again, tmp_path)  # a restart reads them instead of encoding again
    assert again.encoded == [] and np.array_equal(loaded.matrix, extended.matrix)


@pytest.mark.parametrize("keep", [[0, 1, 2, 3, 4, 5], [3, 4, 5], [0, 2, 4], [1], [5]], ids=str)
def test_vectors_of_removed_passages_are_dropped(keep: list[int], fresh_cache: None, tmp_path: Path) -> None:
    docs = numbered(OLD_TEXTS + NEW_TEXTS)
    kept = [docs[i] for i in keep]
    encoder = FakeEncoder()
    reduced = drop_vectors(load_or_build(docs, encoder), keep)
    _same_vectors(reduced, load_or_build(kept, FakeEncoder()))
    mask = np.isin(np.arange(len(docs)), keep)
    _same_vectors(drop_vectors(load_or_build(docs, encoder), mask), reduced)
    save(tmp_path, reduced.matrix, vectors_digest(kept, encoder), encoder.fingerprint, strict=True)
    assert np.array_equal(load_or_build(kept, FakeEncoder(), tmp_path).matrix, reduced.matrix)


def test_vectors_from_another_encoder_are_not_extended(fresh_cache: None) -> None:
    vectors = load_or_build(numbered(OLD_TEXTS), FakeEncoder())
    other = FakeEncoder()
    other.fingerprint = "another"
    with pytest.raises(ValueError, match="another encoder"):
        extend_vectors(vectors, numbered(NEW_TEXTS), other)


def test_the_real_encoder_extends_as_it_builds(fresh_cache: None) -> None:
    encoder = build_encoder(Settings())
    assert encoder is not None, "the sentence encoder should load in the test environment"
    old, new = numbered(OLD_TEXTS), numbered(NEW_TEXTS, 4, "e")
    extended = extend_vectors(load_or_build(old, encoder), new, encoder)
    semantic._SEEN.clear()
    _same_vectors(extended, load_or_build(old + new, encoder))


# ---------------------------------------------------------------- the shortcuts they take


def test_the_fingerprint_hashes_any_text_as_the_builder_does() -> None:
    """Passages are hashed a thousand at a time: the same digest, lone surrogates and all."""
    texts = [f"apple {i} \ud83d\ude00 caf\u00e9" if i % 7 else "\ud83d fig \ude00" for i in range(2503)]
    docs = numbered(texts)
    assert fingerprint(docs, TOK) == build_data(docs, TOK).fingerprint
    assert fingerprint(docs[:1000], TOK) == build_data(docs[:1000], TOK).fingerprint


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(alphabet="ABCDX (),.-\t\nab", max_size=60),
                 st.lists(st.sampled_from(["Alpha Beta", "Alpha Beta Gamma", "(AB)", "(ABG)", "AB", "ABG", " (", " ",
                                           ")", "x", "-", "\n", "the ", "AB (Alpha Beta)"]), max_size=12).map("".join)))
def test_every_text_that_defines_an_acronym_is_searched_for_definitions(text: str) -> None:
    """Removing a definition looks for the next one only in passages the quick pattern finds."""
    from qa_service.index import _MAY_DEFINE
    from qa_service.spans import acronym_pairs

    if acronym_pairs(text):
        assert _MAY_DEFINE.search(text)
