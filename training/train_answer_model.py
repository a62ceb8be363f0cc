"""Train the answer chooser and the answer/refuse decider on the SQuAD 2.0 subset.

    python3 -m pip install -e '.[train]'
    python3 training/train_answer_model.py            # writes qa_service/models/answer-model.json

Every question runs through the shipped pipeline (analysed, retrieved, re-ranked) over its own
article; every sentence of the top passages becomes a candidate with the features in
``qa_service.learned``. Two logistic models are fitted with scikit-learn (training only; the
service reads the weights with numpy):

- the chooser, pointwise on the candidates of answerable questions: does this sentence hold a
  gold answer? The answer is the candidate it scores highest;
- the decider, on every question: is the chosen sentence right? (never, for an unanswerable one)
  Its probability is ``answer.confidence``; the service refuses below ``threshold``.

Everything is cross-validated leaving one article out (the questions of one paragraph are near
duplicates of each other), and the threshold is the one at which the out-of-fold confidences
refuse ``--false-refusals`` of the answerable questions. The figures go into the model file.

The shipped decider and threshold are then replaced by ``train_decider.py``'s, trained on what
the pipeline hands the decider (the reader's weighing included) with on-topic questions whose
paragraph is withheld among the negatives: run it after this script.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from provenance import data_record, trained_at_commit  # noqa: E402

from qa_service.config import Settings  # noqa: E402
from qa_service.evaluate import contains_answer, load_squad  # noqa: E402
from qa_service.learned import (CANDIDATE_FEATURES, NO_CANDIDATE, QUESTION_FEATURES,  # noqa: E402
                                LogisticModel, TreeModel, candidate_features, question_basics, question_features)
from qa_service.encode import MiniLMEncoder, load_encoder_card  # noqa: E402
from qa_service.pipeline import build_pipeline  # noqa: E402
from qa_service.text import slugify  # noqa: E402
from qa_service.values import Corpus  # noqa: E402

DATA = HERE / "squad2-subset" / "squad2-subset.json"
OUT = ROOT / "qa_service" / "models" / "answer-model.json"
C = 1.0  # inverse regularisation of the decider
# The chooser's trees: small ones (measured, cross-validated: .753-.754 for every setting tried)
TREES = {"max_iter": 150, "learning_rate": 0.05, "max_leaf_nodes": 8, "min_samples_leaf": 80, "l2_regularization": 1.0}


def fold_encoders(folders: list[Path]) -> dict[str, MiniLMEncoder]:
    """For each article, an encoder (``export_encoder.py`` output folders) whose training did not see it."""
    out: dict[str, MiniLMEncoder] = {}
    every = {a["title"] for a in json.loads(DATA.read_text(encoding="utf-8"))["data"]}
    for folder in folders:
        card = load_encoder_card(folder / "encoder.json")
        encoder = MiniLMEncoder(folder / "encoder.onnx", sha256=card["sha256"])
        for title in every - set(card["training"]["data"]["articles"]):
            out.setdefault(slugify(title, "article"), encoder)
    return out


def extract(path: Path, settings: Settings, articles: int | None = None,
            encoders: dict[str, MiniLMEncoder] | None = None) -> dict[str, np.ndarray]:
    """Candidates and features for every question of the SQuAD file, through the shipped pipeline
    (with ``encoders``, each article's sentence vectors come from the encoder given for it)."""
    corpus, questions = load_squad(path)
    pools = [d.id for d in corpus.documents][:articles]
    cand_x, cand_y, cand_q = [], [], []
    q_article, q_answerable, q_type, q_current, q_basics, q_ruled = [], [], [], [], [], []
    started = time.perf_counter()
    for a, pool in enumerate(pools):
        docs = tuple(d for d in corpus.documents if d.id == pool)
        passages = tuple(p for p in corpus.passages if p.document == pool)
        encoder = None
        if encoders is not None:
            if pool not in encoders:
                raise SystemExit(f"no encoder fold holds out {pool}")
            encoder = encoders[pool]
        pipeline = build_pipeline(settings, Corpus(docs, passages), encoder=encoder)
        for q in (q for q in questions if q.pool == pool):
            query = pipeline.analyse(q.question)
            hits = pipeline.retrieve(query)
            found, matrix = candidate_features(query, hits, pipeline.index, pipeline.vectors,
                                               settings.reader_passages)
            n = len(q_article)
            q_article.append(a)
            q_answerable.append(q.answerable)
            q_type.append(query.answer_type)
            q_basics.append(question_basics(query, hits))
            current = pipeline.reader.read(query, hits)
            q_ruled.append(pipeline.abstainer.decide(query, hits, current) is not None)  # the coverage rules
            q_current.append(bool(q.answerable and current is not None and contains_answer(current.text, q.answers)))
            for i, c in enumerate(found):
                cand_x.append(matrix[i])
                cand_y.append(bool(q.answerable and contains_answer(c.text, q.answers)))
                cand_q.append(n)
        print(f"  {pool}: {sum(1 for x in q_article if x == a)} questions "
              f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return {
        "cand_x": np.array(cand_x, dtype=np.float64).reshape(-1, len(CANDIDATE_FEATURES)),
        "cand_y": np.array(cand_y, dtype=bool), "cand_q": np.array(cand_q, dtype=np.int64),
        "q_article": np.array(q_article, dtype=np.int64), "q_answerable": np.array(q_answerable, dtype=bool),
        "q_current": np.array(q_current, dtype=bool), "q_type": np.array(q_type),
        "q_basics": np.array(q_basics, dtype=np.float64), "q_ruled": np.array(q_ruled, dtype=bool),
        "articles": np.array(pools),
    }


def fit(x: np.ndarray, y: np.ndarray) -> LogisticModel:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=C, max_iter=2000).fit((x - mean) / scale, y)
    return LogisticModel([f"f{i}" for i in range(x.shape[1])], mean, scale, model.coef_[0],
                         float(model.intercept_[0]))


def fit_trees(x: np.ndarray, y: np.ndarray) -> TreeModel:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(early_stopping=False, random_state=0, **TREES).fit(x, y)
    return TreeModel.from_sklearn(model, CANDIDATE_FEATURES)


def choose(model: TreeModel, data: dict[str, np.ndarray], questions: np.ndarray) -> dict[int, tuple[int, np.ndarray]]:
    """Per question: (index of the chosen candidate among all candidates, the question's logits)."""
    out = {}
    logits = model.logits(data["cand_x"])
    for q in questions:
        rows = np.flatnonzero(data["cand_q"] == q)
        if len(rows):
            out[int(q)] = (int(rows[np.argmax(logits[rows])]), logits[rows])
    return out


def decider_rows(data: dict[str, np.ndarray], chosen: dict[int, tuple[int, np.ndarray]], questions: np.ndarray):
    x, y = [], []
    for q in questions:
        basics = data["q_basics"][q]
        if int(q) in chosen:
            row, logits = chosen[int(q)]
            rows = np.flatnonzero(data["cand_q"] == q)
            x.append(question_features(basics, data["cand_x"][rows], logits, int(row - rows[0])))
            y.append(bool(data["cand_y"][row]))
        else:
            coverage, names, missing, typed, follow_up, top_share = basics
            x.append((NO_CANDIDATE, 0.0, coverage, names, missing, 0.0, 0.0, 0.0, typed, follow_up, top_share, 1.0, 1.0))
            y.append(False)
    return np.array(x, dtype=np.float64), np.array(y, dtype=bool)


def cross_validate(data: dict[str, np.ndarray]) -> dict[str, object]:
    n_q = len(data["q_article"])
    everyone = np.arange(n_q)
    chosen_oof: dict[int, tuple[int, np.ndarray]] = {}
    for a in range(len(data["articles"])):
        train_q = everyone[(data["q_article"] != a) & data["q_answerable"]]
        mask = np.isin(data["cand_q"], train_q)
        chooser = fit_trees(data["cand_x"][mask], data["cand_y"][mask])
        chosen_oof.update(choose(chooser, data, everyone[data["q_article"] == a]))
    xq, yq = decider_rows(data, chosen_oof, everyone)
    confidence = np.zeros(n_q)
    for a in range(len(data["articles"])):
        test = data["q_article"] == a
        decider = fit(xq[~test], yq[~test])
        confidence[test] = decider.probabilities(xq[test])
    answerable = data["q_answerable"]
    chooser_right = np.array([bool(data["cand_y"][chosen_oof[q][0]]) if q in chosen_oof else False for q in range(n_q)])
    return {"chosen_right": chooser_right, "confidence": confidence, "xq": xq, "yq": yq,
            "chooser_accuracy": float(chooser_right[answerable].mean()),
            "current_accuracy": float(data["q_current"][answerable].mean())}


def threshold_for(confidence: np.ndarray, answerable: np.ndarray, false_refusals: float) -> float:
    """The confidence below which ``false_refusals`` of the answerable questions are refused."""
    return float(np.quantile(confidence[answerable], false_refusals))


def refusal_figures(confidence: np.ndarray, data: dict[str, np.ndarray], threshold: float) -> dict[str, dict[str, float]]:
    out = {}
    for a, name in enumerate(data["articles"]):
        here = data["q_article"] == a
        unanswerable = here & ~data["q_answerable"]
        if not unanswerable.any():
            continue
        answerable = here & data["q_answerable"]
        refused = (confidence < threshold) | data["q_ruled"]  # what the service does: the rules, then the decider
        out[str(name)] = {
            "unanswerable": int(unanswerable.sum()), "answerable": int(answerable.sum()),
            "unanswerable_refused": round(float(refused[unanswerable].mean()), 3),
            "answerable_refused": round(float(refused[answerable].mean()), 3),
            "by_decider_alone": {
                "unanswerable_refused": round(float((confidence[unanswerable] < threshold).mean()), 3),
                "answerable_refused": round(float((confidence[answerable] < threshold).mean()), 3)},
            "by_rules_alone": {
                "unanswerable_refused": round(float(data["q_ruled"][unanswerable].mean()), 3),
                "answerable_refused": round(float(data["q_ruled"][answerable].mean()), 3)},
        }
    return out


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(positive, scores))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--false-refusals", type=float, default=0.05,
                        help="share of answerable questions the threshold may refuse (out of fold)")
    parser.add_argument("--articles", type=int, default=None, help="use only the first N articles (quick runs)")
    parser.add_argument("--encoder-folds", type=Path, nargs="+", default=None, metavar="DIR",
                        help="export_encoder.py folders of encoders each trained with some articles held out: every "
                             "article's sentence similarities come from one that did not see it (out-of-fold "
                             "features for the chooser and decider when the shipped encoder was trained on the same data)")
    parser.add_argument("--features", type=Path, default=None,
                        help="an .npz of extracted features: read it if it exists, else write it (faster reruns)")
    args = parser.parse_args(argv)
    settings = Settings().replace(learned=False)  # candidates as the pipeline finds them; the mix reader is the baseline
    if args.features is not None and args.features.exists():
        with np.load(args.features, allow_pickle=False) as saved:
            data = {k: saved[k] for k in saved.files}
    else:
        print(f"reading {args.data.name} through the pipeline…", file=sys.stderr)
        data = extract(args.data, settings, args.articles,
                       fold_encoders(args.encoder_folds) if args.encoder_folds else None)
        if args.features is not None:
            np.savez(args.features, **data)
    cv = cross_validate(data)
    answerable = data["q_answerable"]
    threshold = threshold_for(cv["confidence"], answerable, args.false_refusals)
    print(f"chooser (cross-validated by article): {cv['chooser_accuracy']:.3f}; "
          f"the reader without it: {cv['current_accuracy']:.3f}", file=sys.stderr)
    # the shipped models: fitted on everything
    everyone = np.arange(len(answerable))
    mask = np.isin(data["cand_q"], everyone[answerable])
    chooser = fit_trees(data["cand_x"][mask], data["cand_y"][mask])
    xq, yq = decider_rows(data, choose(chooser, data, everyone), everyone)
    decider = fit(xq, yq)
    refusals = refusal_figures(cv["confidence"], data, threshold)
    with_unanswerable = np.isin(data["q_article"], [i for i, n in enumerate(data["articles"]) if str(n) in refusals])
    figures = {
        "chooser_accuracy": round(cv["chooser_accuracy"], 4),
        "reader_accuracy_without_chooser": round(cv["current_accuracy"], 4),
        "answerable_auc": round(roc_auc(cv["confidence"][with_unanswerable], answerable[with_unanswerable]), 4)
        if with_unanswerable.any() and (~answerable[with_unanswerable]).any() else None,
        "correct_auc": round(roc_auc(cv["confidence"], cv["yq"]), 4),
        "refusals_by_article": refusals,
    }
    print(json.dumps(figures, indent=1), file=sys.stderr)
    chooser_json = chooser.to_json()
    decider_json = LogisticModel(QUESTION_FEATURES, decider.mean, decider.scale, decider.coef, decider.intercept).to_json()
    model = {
        "about": "Answer chooser (gradient-boosted trees) and answer/refuse decider (logistic regression) of "
                 "qa-service, over the features named in qa_service/learned.py; trained by "
                 "training/train_answer_model.py. Read with numpy by qa_service/learned.py.",
        "data": data_record(args.data, data["articles"], questions=int(len(answerable)),
                            unanswerable=int((~answerable).sum())),
        "trained_at_commit": trained_at_commit(),
        "false_refusals": args.false_refusals,
        "threshold": round(threshold, 6),
        "cross_validated": figures,
        "chooser_parameters": TREES,
        "chooser": chooser_json,
        "decider": decider_json,
    }
    args.out.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} (threshold {threshold:.4f})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
