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


# ---------------------------------------------------------------- low coverage judged by meaning

def _abstainer(yield_at: float, confidence_threshold: float = 0.5):  # noqa: ANN202
    from qa_service.decide import LearnedAbstainer

    decider = LogisticModel(QUESTION_FEATURES, [0.0] * len(QUESTION_FEATURES), [1.0] * len(QUESTION_FEATURES),
                            [0.0] * len(QUESTION_FEATURES), 0.0)
    return LearnedAbstainer(min_coverage=0.5, decider=decider, threshold=confidence_threshold,
                            coverage_by_meaning=yield_at)


def _worded(coverage: float, names: tuple[str, ...] = ()):  # noqa: ANN202
    from qa_service.values import Query

    return Query(text="In which city have crowds been marching?", turns=(), weights={"citi": 1.0}, kind=None,
                 coverage=coverage, missing=("crowds", "marching"), names=names)


def _said(cosine: float | None):  # noqa: ANN202
    from qa_service.values import AnswerSentence

    signals = {} if cosine is None else {"best_cosine": cosine}
    return AnswerSentence("The capital has seen protests against the government.", "d-p001", 1.0, 0, 53,
                          signals=signals)


@pytest.mark.parametrize(("cosine", "confidence", "refused"), [
    (0.55, 0.8, None),                # close in meaning, and the decider takes it: answered
    (0.55, 0.3, "low_coverage"),      # close in meaning, the decider does not: the coverage refusal stays
    (0.30, 0.8, "low_coverage"),      # not close enough: refused for coverage whatever the decider says
    (None, 0.8, "low_coverage"),      # no cosine (the words-only reader): the rule as before
], ids=["taken", "decider-says-no", "far-in-meaning", "no-meaning"])
def test_low_coverage_is_judged_by_the_decider_when_the_sentence_is_close_in_meaning(
        cosine: float | None, confidence: float, refused: str | None) -> None:
    from qa_service.values import Hit, Passage

    hits = [Hit(Passage("d-p001", "d", 1, 0, 53, "The capital has seen protests against the government."), 0,
                1.0, 1, frozenset())]
    abstention = _abstainer(0.4).decide(_worded(0.2), hits, _said(cosine), confidence)
    assert (abstention.reason if abstention else None) == refused


def test_names_the_documents_never_mention_still_refuse_whatever_the_meaning() -> None:
    from qa_service.values import Hit, Passage

    hits = [Hit(Passage("d-p001", "d", 1, 0, 5, "Text."), 0, 1.0, 1, frozenset())]
    abstention = _abstainer(0.4).decide(_worded(0.2, names=("Zurich",)), hits, _said(0.9), 0.99)
    assert abstention is not None and abstention.reason == "missing_names"


def test_at_one_low_coverage_always_refuses() -> None:
    from qa_service.values import Hit, Passage

    hits = [Hit(Passage("d-p001", "d", 1, 0, 5, "Text."), 0, 1.0, 1, frozenset())]
    assert _abstainer(1.0).decide(_worded(0.2), hits, _said(0.99), 0.99).reason == "low_coverage"


def test_a_question_in_other_words_is_answered_and_an_unrelated_one_is_not(tiny_pipeline) -> None:  # noqa: ANN001
    """With the real models, on the test lighthouse text: a question sharing few of its words
    ("When did the beacon stop using the oil from whales?" against "Its lamp burned whale oil
    until 1911") and an unrelated one with as few ("What do penguins eat for breakfast?")."""
    related = tiny_pipeline.analyse("Which fuel did the beacon stop using around the start of the twentieth century?")
    assert related.coverage < tiny_pipeline.abstainer.min_coverage
    answer = tiny_pipeline.ask(related.text)
    assert answer.abstention is None and "whale oil" in answer.answer.text
    unrelated = tiny_pipeline.ask("What do penguins eat for breakfast?")
    assert unrelated.abstention is not None and unrelated.abstention.reason == "low_coverage"


def test_coverage_by_meaning_is_calibrated_as_the_lowest_floor_no_off_topic_question_reaches(capsys) -> None:  # noqa: ANN001
    """`training/measure_refusals.py` reports from rows: the floor is the lowest of its grid above
    every off-topic question refused for low coverage, whatever the answerable ones do."""
    import sys

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "training"))
    try:
        import measure_refusals
    finally:
        sys.path.remove(str(root / "training"))

    def row(condition: str, cosine: float, answerable: bool = True, right: bool = False) -> dict:
        return {"condition": condition, "answerable": answerable, "reason": "low_coverage", "cosine": cosine,
                "confidence": 0.9, "right": right}

    rows = [row("offtopic", 0.12), row("offtopic", 0.47), row("full", 0.58, right=True), row("withheld", 0.41)]
    assert measure_refusals.report(rows, threshold=0.25) == 0.5
    assert measure_refusals.report([row("offtopic", 0.2)], threshold=0.25) == 0.3
    printed = capsys.readouterr().out
    assert "answerable 1/1 (1 right)" in printed and "calibrated coverage_by_meaning: 0.30" in printed


def test_a_refusal_row_records_the_readers_margin_on_the_sentence_it_chose(tiny_pipeline, tiny_corpus_dir) -> None:  # noqa: ANN001
    """`training/measure_refusals.py`: each row records the extractive reader's best span minus its
    "no answer" score on the chosen sentence, by watching the reader's span being taken, and puts
    the service's function back."""
    import sys

    from qa_service import read
    from qa_service.values import Question

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "training"))
    try:
        import measure_refusals
    finally:
        sys.path.remove(str(root / "training"))
    real = read._with_read_span
    q = Question("q1", "Which keeper ran the station?", ("keeper",))
    row = measure_refusals._row(tiny_pipeline, q, "full", "")
    assert read._with_read_span is real
    assert isinstance(row["reader_margin"], float) and row["signals"] is not None
    from qa_service.config import Settings
    from qa_service.pipeline import build_pipeline

    unread = measure_refusals._row(build_pipeline(Settings(corpus=tiny_corpus_dir, extractive=False)), q, "full", "")
    assert unread["reader_margin"] is None and unread["signals"] is not None  # no reader: nothing to record


def test_the_decider_script_trains_on_rows_calibrates_on_held_out_articles_and_writes_a_model(tmp_path: Path) -> None:
    """`training/train_decider.py --rows`: trains on the articles not held out, sets the threshold
    so that the held-out articles' answerable questions are refused at the stated share (the rules'
    refusals counted), and writes a model file the service reads, its chooser untouched."""
    import subprocess
    import sys

    rng = np.random.default_rng(3)
    rows = []
    for pool, held in (("a", False), ("b", False), ("c", True), ("d", True)):
        for n in range(200):
            right = bool(n % 3)
            signals = {name: float(rng.normal() + (1.5 if right and name == "best_logit" else 0.0))
                       for name in QUESTION_FEATURES}
            rows.append({"pool": pool, "held_out": held, "condition": "full", "answerable": True,
                         "reason": "missing_names" if n % 50 == 0 else None, "signals": signals, "right": right})
            rows.append({"pool": pool, "held_out": held, "condition": "withheld", "answerable": True, "reason": None,
                         "signals": {k: float(rng.normal()) for k in QUESTION_FEATURES}, "right": False})
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    model = tmp_path / "answer-model.json"
    model.write_text(ANSWER_MODEL.read_text(encoding="utf-8"), encoding="utf-8")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, str(root / "training" / "train_decider.py"), "--rows",
                           str(tmp_path / "rows.jsonl"), "--model", str(model), "--false-refusals", "0.1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    chooser, decider, threshold, _ = load_models(model)
    written = json.loads(model.read_text())
    assert written["chooser"] == json.loads(ANSWER_MODEL.read_text())["chooser"]
    assert written["decider_training"]["trained_on"] == ["a", "b"]
    assert written["decider_training"]["calibrated_on"] == ["c", "d"]
    held = [r for r in rows if r["held_out"] and r["condition"] == "full"]
    scores = decider.probabilities(np.array([[r["signals"][k] for k in QUESTION_FEATURES] for r in held]))
    refused = [r["reason"] is not None or s < threshold for r, s in zip(held, scores)]
    assert abs(np.mean(refused) - 0.1) < 0.01
    assert decider.coef[QUESTION_FEATURES.index("best_logit")] > 0  # it learned which signal tells right answers


def test_the_ranker_experiment_names_its_features_and_scores_places_honestly(tiny_pipeline) -> None:  # noqa: ANN001
    """`training/train_ranker.py` (measured, not shipped): one row of named features per hit,
    relative within the question, and the place of the question's own passage under any order."""
    import sys

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "training"))
    try:
        import train_ranker as tr
    finally:
        sys.path.remove(str(root / "training"))
    query = tiny_pipeline.analyse("Which keeper ran the station, and when did the lighthouse lamp burn whale oil?")
    hits = tiny_pipeline.retrieve(query, 20)
    matrix = tr.rank_features(query, hits, tiny_pipeline.index, tiny_pipeline.vectors)
    assert matrix.shape == (len(hits), len(tr.RANK_FEATURES)) and len(hits) >= 2
    column = dict(zip(tr.RANK_FEATURES, matrix.T))
    assert column["order"][0] == 1.0 and column["words"].max() == 1.0 and column["sentence_gap"].max() == 0.0
    assert ((column["passage"] >= column["sentence"] - 1e-12) & (column["passage"] <= 1 + 1e-12)).all()
    # two questions of three hits each: the own passage is the second, then the third, hit
    y = np.array([False, True, False, False, False, True])
    q = np.array([0, 0, 0, 1, 1, 1])
    given = -np.arange(6, dtype=float)
    assert tr.ranks(given, y, q, np.array([0, 1])).tolist() == [2, 3]
    assert tr.ranks(-given, y, q, np.array([0, 1])).tolist() == [2, 1]  # reversed order
    assert tr.figures(np.array([1, 2, 0, 11])) == {"hit@1": 0.25, "hit@3": 0.5, "mrr@10": 0.375}


def test_the_reader_can_train_on_the_excerpts_the_service_reads_with_ones_that_lack_the_answer() -> None:
    """`training/train_reader.py --excerpts`: a question's excerpt is the sentence holding its
    answer with one sentence either side (the answer's offsets moved into it); its negatives
    are excerpts that do not hold the answer, from its own paragraph (two or more sentences
    away) and from another paragraph of its article without the answer's text; an unanswerable
    question's excerpt is labelled "no answer"."""
    import sys

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "training"))
    try:
        import train_reader as tr
    finally:
        sys.path.remove(str(root / "training"))
    bees = ("Honey bees live in colonies. A colony has one queen. The queen lays up to two thousand eggs a day. "
            "Workers gather nectar from flowers. Drones mate with queens from other colonies. "
            "Beekeepers harvest honey in late summer.")
    hives = ("Langstroth designed the movable-frame hive in 1852. Its frames hang a bee space apart. "
             "Most hives in North America still follow his design.")

    def row(n: int, context: str, question: str, answer: str | None) -> dict:
        found = [(answer, context.index(answer))] if answer else []
        return {"article": "Bees", "context": context, "question": question, "answers": found,
                "impossible": answer is None, "id": f"q{n}"}

    rows = [row(1, bees, "How many eggs does the queen lay a day?", "up to two thousand"),
            row(2, hives, "Who designed the movable-frame hive?", "Langstroth"),
            row(3, bees, "What price do beekeepers get for their honey?", None)]
    out = tr.excerpts(rows, negatives=2, seed=1)
    eggs = [r for r in out if r["id"].startswith("q1")]
    positive, *negatives = eggs
    assert positive["context"] == ("A colony has one queen. The queen lays up to two thousand eggs a day. "
                                   "Workers gather nectar from flowers.")
    text, at = positive["answers"][0]
    assert positive["context"][at:at + len(text)] == "up to two thousand" and not positive["impossible"]
    assert len(negatives) == 2 and all(r["impossible"] and not r["answers"] for r in negatives)
    assert all("two thousand" not in r["context"] for r in negatives)
    assert any(r["context"] in bees for r in negatives) and any(r["context"] in hives for r in negatives)
    [honey] = [r for r in out if r["id"].startswith("q3")]  # the sentence BM25 likes best, with its neighbours
    assert honey["impossible"] and honey["context"] == ("Drones mate with queens from other colonies. "
                                                        "Beekeepers harvest honey in late summer.")
    assert len(tr.excerpts(rows, negatives=1, seed=1)) == len(out) - 2  # one negative each: one of the two kinds


def test_the_margin_measurement_fits_the_decider_with_and_without_the_readers_margin() -> None:
    """`training/measure_decider_margin.py`: the same rows, a decider with and without the
    reader's margin, at the same share of answerable questions refused; a margin that tells right
    answers from the rest shows as a higher AUC and more withheld questions refused."""
    import sys

    from qa_service.learned import QUESTION_FEATURES

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "training"))
    try:
        import measure_decider_margin as mdm
    finally:
        sys.path.remove(str(root / "training"))
    rng = np.random.default_rng(3)
    rows = []
    for pool in ("a", "b", "c"):
        for i in range(240):
            condition = "withheld" if i % 3 == 0 else "full"
            right = condition == "full" and i % 4 != 1
            rows.append({"pool": pool, "held_out": pool == "c", "condition": condition, "answerable": True,
                         "reason": None, "right": right,
                         "reader_margin": None if i % 10 == 7 else float(rng.normal(3.0 if right else -1.0, 1.0)),
                         "signals": {name: float(rng.normal()) for name in QUESTION_FEATURES}})
    report = mdm.compare([r for r in rows if not r["held_out"]], [r for r in rows if r["held_out"]], margin=True)
    plain = mdm.compare([r for r in rows if not r["held_out"]], [r for r in rows if r["held_out"]], margin=False)
    assert report["auc_right_vs_rest"] > 0.8 > plain["auc_right_vs_rest"]  # the features alone are noise here
    assert report["at_0.05"]["withheld_refused"] > plain["at_0.05"]["withheld_refused"]
    assert report["at_0.05"]["unanswerable_refused"] is None  # there are none: no share
    assert mdm.matrix(rows[:5], True, 0.0).shape == (5, len(QUESTION_FEATURES) + 2)
