"""The learned answer chooser and decider: plain-data models read with numpy, exactly as trained."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa_service.errors import SettingsError
from qa_service.learned import (CANDIDATE_FEATURES, QUESTION_FEATURES, LogisticModel, TreeModel, candidate_features,
                                load_models)
from qa_service.pipeline import ANSWER_MODEL, answer_models



def _data(n: int = 1500, d: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = (x[:, 0] * x[:, 1] + np.sin(3 * x[:, 2]) + 0.3 * rng.normal(size=n)) > 0
    return x, y


def test_trees_read_back_from_json_score_exactly_as_scikit_learn() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = _data()
    fitted = HistGradientBoostingClassifier(max_iter=60, max_leaf_nodes=12, random_state=0).fit(x, y)
    names = [f"f{i}" for i in range(x.shape[1])]
    model = TreeModel.from_json(json.loads(json.dumps(TreeModel.from_sklearn(fitted, names).to_json())), names)
    fresh, _ = _data(300, seed=1)
    assert np.allclose(model.logits(fresh), fitted.decision_function(fresh), atol=1e-9)
    assert np.allclose(model.probabilities(fresh), fitted.predict_proba(fresh)[:, 1], atol=1e-9)


def test_logistic_model_reproduces_scikit_learn_on_standardised_inputs() -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = _data()
    mean, scale = x.mean(axis=0), x.std(axis=0)
    fitted = LogisticRegression(max_iter=1000).fit((x - mean) / scale, y)
    model = LogisticModel([f"f{i}" for i in range(x.shape[1])], mean, scale, fitted.coef_[0], fitted.intercept_[0])
    fresh, _ = _data(200, seed=2)
    assert np.allclose(model.probabilities(fresh), fitted.predict_proba((fresh - mean) / scale)[:, 1], atol=1e-12)


def test_a_model_trained_on_other_features_is_refused() -> None:
    model = LogisticModel(["a", "b"], [0, 0], [1, 1], [1, 1], 0.0).to_json()
    with pytest.raises(SettingsError, match="other features"):
        LogisticModel.from_json(model, ["a", "c"])
    with pytest.raises(SettingsError, match="not an answer model"):
        TreeModel.from_json({"kind": "trees", "features": ["a"]}, ["a"])


@pytest.mark.parametrize("content, message", [
    ("not json", "not JSON"),
    ("[]", "no 'chooser'"),
    ('{"chooser": {}, "decider": {}}', "not an answer model"),
], ids=["garbage", "list", "empty-models"])
def test_a_broken_model_file_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "answer-model.json"
    path.write_text(content)
    with pytest.raises(SettingsError, match=message):
        load_models(path)


def test_a_tree_pointing_outside_the_model_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        TreeModel(["a"], 0.0, [0], [0.5], [3], [0], [0.0], [0], 1)


def test_the_shipped_model_matches_the_code_and_records_how_it_was_made() -> None:
    chooser, decider, threshold = answer_models()
    assert chooser.features == CANDIDATE_FEATURES and decider.features == QUESTION_FEATURES
    assert 0 < threshold < 1
    data = json.loads(ANSWER_MODEL.read_text())
    assert data["data"]["sha256"] == "b67e6491dca57109b5e3bea214db9c67e961c5d8eb4a3b4508756425c313f173"
    cv = data["cross_validated"]
    assert cv["chooser_accuracy"] >= cv["reader_accuracy_without_chooser"]


def test_candidate_features_are_named_and_relative_within_the_question(tiny_pipeline) -> None:
    query = tiny_pipeline.analyse("When did a paraffin burner replace the whale oil lamp?")
    hits = tiny_pipeline.retrieve(query)
    found, matrix = candidate_features(query, hits, tiny_pipeline.index, None, 3)
    assert matrix.shape == (len(found), len(CANDIDATE_FEATURES)) and found
    column = dict(zip(CANDIDATE_FEATURES, matrix.T))
    assert column["lexical_gap"].max() == 0.0 and (column["lexical_best"] == 1).any()
    assert (column["cosine"] == 0).all()  # no vectors: no meaning
    holds_date = [c.text for c, v in zip(found, column["typed_span"]) if v]
    assert holds_date and all(any(ch.isdigit() for ch in t) for t in holds_date)


def test_the_training_script_writes_a_model_the_service_reads(tmp_path: Path) -> None:
    """The shipped model comes from a script in the repo: on two articles (for time) it trains,
    cross-validates by article and writes a file that loads with the service's own reader."""
    import subprocess
    import sys

    out = tmp_path / "answer-model.json"
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, str(root / "training" / "train_answer_model.py"), "--articles", "2",
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    chooser, decider, threshold, _ = load_models(out)
    data = json.loads(out.read_text())
    assert data["data"]["questions"] == 753 + 697 and data["data"]["articles"][:1] == ["beyonc"]
    assert 0 < data["cross_validated"]["chooser_accuracy"] <= 1 and 0 <= threshold <= 1
    assert chooser.features == CANDIDATE_FEATURES and decider.features == QUESTION_FEATURES


def test_encoder_folds_give_each_article_an_encoder_that_did_not_train_on_it(tmp_path: Path) -> None:
    """`train_answer_model.py --encoder-folds`: each article's similarities come from a fold whose
    card does not list it among its training articles; an article no fold holds out has none."""
    import sys

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "training"))
    try:
        import train_answer_model as tam
    finally:
        sys.path.remove(str(root / "training"))
    every = [a["title"] for a in json.loads(tam.DATA.read_text(encoding="utf-8"))["data"]]
    folds = {"first": every[:6], "second": every[5:]}  # each trains on these; the article every[5] is in both
    for name, trained in folds.items():
        (tmp_path / name).mkdir()
        card = {"sha256": name * 8, "training": {"data": {"articles": trained}}}
        (tmp_path / name / "encoder.json").write_text(json.dumps(card), encoding="utf-8")
    chosen = tam.fold_encoders([tmp_path / "first", tmp_path / "second"])
    from qa_service.text import slugify

    for title in every:
        slug = slugify(title, "article")
        if title == every[5]:
            assert slug not in chosen
            continue
        seen_by = chosen[slug].sha256
        assert title not in folds["first" if seen_by == "first" * 8 else "second"]
        assert chosen[slug].model_path == tmp_path / ("first" if seen_by == "first" * 8 else "second") / "encoder.onnx"
