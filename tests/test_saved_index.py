"""The index `qa-service index` saves beside the corpus: used when current, never when stale,
foreign or damaged (rebuilt instead, with one log line)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

import qa_service.index as index_module
from qa_service.cli import main
from qa_service.config import Settings
from qa_service.errors import CorpusError
from qa_service.index import INDEX_DIR, fingerprint, load_data, load_or_build_data
from qa_service.ingest import load_corpus
from qa_service.pipeline import build_pipeline, build_tokenizer

from helpers import make_query

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "armenia-recalls-envoy-from-belarus.txt"
QUESTION = "why did Armenia recall its envoy?"


@pytest.fixture()
def corpus_dir(tmp_path: Path) -> Path:
    out = tmp_path / "corpus"
    assert main(["index", str(SEED), "--out", str(out), "--semantic", "false"]) == 0
    return out


def _settings(folder: Path, **changes) -> Settings:
    return Settings().replace(corpus=str(folder), semantic=False, **changes)


def _ranking(pipeline) -> list[tuple[str, float]]:
    return [(h.passage.id, h.scores["bm25"]) for h in pipeline.index.search(make_query(pipeline.index, QUESTION), 10)]


def _fresh_ranking(folder: Path, **changes) -> list[tuple[str, float]]:
    return _ranking(build_pipeline(_settings(folder, **changes), load_corpus(folder)))  # no folder: built in memory


def test_index_saves_plain_arrays_and_serve_memory_maps_them(corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved = corpus_dir / INDEX_DIR
    meta = json.loads((saved / "meta.json").read_text())
    assert {p.suffix for p in saved.iterdir()} == {".npy", ".json"}
    assert set(meta["files"]) == {p.name for p in saved.iterdir()} - {"meta.json"}
    for path in saved.glob("*.npy"):
        np.load(path, allow_pickle=False)  # plain arrays: never pickled objects
    expected = _fresh_ranking(corpus_dir)
    variants = {scorer: _fresh_ranking(corpus_dir, scorer=scorer) for scorer in ("okapi", "l")}

    def no_building(*args, **kwargs):
        raise AssertionError("the saved index should have been used")

    monkeypatch.setattr(index_module, "build_data", no_building)
    pipeline = build_pipeline(_settings(corpus_dir))
    assert isinstance(pipeline.index.data.arrays["postings_docs"], np.memmap)
    assert _ranking(pipeline) == expected
    # BM25's parameters are applied at load: the same saved index serves every variant
    for scorer, ranking in variants.items():
        assert _ranking(build_pipeline(_settings(corpus_dir, scorer=scorer))) == ranking


def _damage(saved: Path, how: str) -> None:
    if how == "flipped-byte":
        path = saved / "postings_tf.npy"
        data = bytearray(path.read_bytes())
        data[-1] ^= 0x01
        path.write_bytes(bytes(data))
    elif how == "truncated":
        path = saved / "tokens_term.npy"
        path.write_bytes(path.read_bytes()[:40])
    elif how == "missing-file":
        (saved / "doc_len.npy").unlink()
    elif how == "garbage-meta":
        (saved / "meta.json").write_text("[" * 100_000)
    elif how == "terms-not-a-list":
        meta = json.loads((saved / "meta.json").read_text())
        (saved / "terms.json").write_text('{"a": 1}\n')
        import hashlib
        meta["files"]["terms.json"]["sha256"] = hashlib.sha256(b'{"a": 1}\n').hexdigest()
        (saved / "meta.json").write_text(json.dumps(meta))
    elif how == "other-format":
        meta = json.loads((saved / "meta.json").read_text())
        meta["format"] = 99
        (saved / "meta.json").write_text(json.dumps(meta))


DAMAGE = ["flipped-byte", "truncated", "missing-file", "garbage-meta", "terms-not-a-list", "other-format"]


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_index_is_refused_in_one_line_then_rebuilt_and_never_served(
        corpus_dir: Path, how: str, caplog: pytest.LogCaptureFixture) -> None:
    expected = _fresh_ranking(corpus_dir)
    _damage(corpus_dir / INDEX_DIR, how)
    tokenizer = build_tokenizer(_settings(corpus_dir))
    passages = load_corpus(corpus_dir).passages
    with pytest.raises(CorpusError) as refused:
        load_data(corpus_dir, fingerprint(passages, tokenizer))
    assert "\n" not in refused.value.message
    with caplog.at_level(logging.WARNING, logger="qa_service.index"):
        pipeline = build_pipeline(_settings(corpus_dir))
    assert _ranking(pipeline) == expected
    lines = [r.getMessage() for r in caplog.records if "saved index" in r.getMessage()]
    assert len(lines) == 1 and "building it again" in lines[0]
    load_data(corpus_dir, fingerprint(passages, tokenizer))  # and it was saved again, whole


def test_a_stale_index_is_rebuilt_not_served(corpus_dir: Path, tmp_path: Path) -> None:
    """Passages changed after `index` (another source indexed into the folder by hand): rebuilt."""
    old_meta = (corpus_dir / INDEX_DIR / "meta.json").read_text()
    other = tmp_path / "other.txt"
    other.write_text("Bridge reopens\n\nThe bridge over the river reopened on Monday after repairs.\n", encoding="utf-8")
    other_out = tmp_path / "other"
    assert main(["index", str(other), "--out", str(other_out), "--semantic", "false"]) == 0
    for name in ("documents.jsonl", "passages.jsonl", "manifest.json"):  # the corpus changes, its index does not
        (corpus_dir / name).write_bytes((other_out / name).read_bytes())
    tokenizer = build_tokenizer(_settings(corpus_dir))
    with pytest.raises(CorpusError, match="stale or foreign"):
        load_data(corpus_dir, fingerprint(load_corpus(corpus_dir).passages, tokenizer))
    pipeline = build_pipeline(_settings(corpus_dir))
    hits = pipeline.index.search(make_query(pipeline.index, "When did the bridge reopen?"), 3)
    assert [h.passage.document for h in hits] == ["other"]
    assert (corpus_dir / INDEX_DIR / "meta.json").read_text() != old_meta


def test_an_index_made_with_other_tokeniser_settings_is_foreign(corpus_dir: Path) -> None:
    passages = load_corpus(corpus_dir).passages
    unstemmed = build_tokenizer(_settings(corpus_dir, stem=False, lemmatize=False))
    with pytest.raises(CorpusError, match="stale or foreign"):
        load_data(corpus_dir, fingerprint(passages, unstemmed))
    data = load_or_build_data(passages, unstemmed, corpus_dir, save=False)
    assert "withdraws" in data.terms and "withdraw" not in data.terms  # its own terms, not the saved ones
    assert _ranking(build_pipeline(_settings(corpus_dir, stem=False, lemmatize=False))) == \
        _fresh_ranking(corpus_dir, stem=False, lemmatize=False)


@pytest.mark.parametrize("library", ["PyStemmer", "simplemma"])
def test_an_index_saved_under_another_stemmer_or_lemmatiser_release_is_foreign(
        corpus_dir: Path, library: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new Snowball release stems otherwise (PyStemmer 3 gives "organiz" for "organization",
    2.2 gave "organ"): an index saved under other versions would meet questions on terms they no
    longer give, so it is rebuilt, not served. A library the settings do not use does not count."""
    import qa_service.text as text_module
    passages = load_corpus(corpus_dir).passages
    tokenizer = build_tokenizer(_settings(corpus_dir))
    load_data(corpus_dir, fingerprint(passages, tokenizer))  # current
    real = text_module._version
    monkeypatch.setattr(text_module, "_version", lambda name: "0.0.1" if name == library else real(name))
    with pytest.raises(CorpusError, match="stale or foreign"):
        load_data(corpus_dir, fingerprint(passages, tokenizer))
    unused = build_tokenizer(_settings(corpus_dir, **({"stem": False} if library == "PyStemmer" else {"lemmatize": False})))
    monkeypatch.setattr(text_module, "_version", real)
    before = fingerprint(passages, unused)
    monkeypatch.setattr(text_module, "_version", lambda name: "0.0.1" if name == library else real(name))
    assert fingerprint(passages, unused) == before
