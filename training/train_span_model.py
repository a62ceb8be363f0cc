"""Train the span chooser: the exact answer where the span rules find none.

    python3 -m pip install -e '.[train]'
    python3 training/train_span_model.py            # writes qa_service/models/span-model.json

For every answerable question of the SQuAD 2.0 subset, the sentence of its paragraph that holds
the (first) gold answer is the answer sentence (an oracle: sentence choice is the answer
chooser's job), and every phrase :func:`qa_service.spans.span_candidates` finds in it is a
candidate, with the rules' own span (:func:`qa_service.spans.find_span`) among the features. A
candidate is right when its token F1 with the best gold answer (SQuAD's definition) is at least
0.5. Gradient-boosted trees (scikit-learn, training only; the service walks them with numpy)
score the candidates; the span is the best one, given only where the rules give none and its
probability reaches ``threshold``.

Everything is cross-validated leaving one article out. The threshold is the lowest whose spans,
out of fold, score at least twice the F1 of the sentences they replace (``--gain``): below it a
span is a guess. The figures go into the model file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from measure_spans import examples  # noqa: E402
from provenance import data_record, trained_at_commit  # noqa: E402

from qa_service.evaluate import token_f1  # noqa: E402
from qa_service.learned import TreeModel  # noqa: E402
from qa_service.spans import SPAN_FEATURES, answer_type, find_span, span_candidates  # noqa: E402

DATA = HERE / "squad2-subset" / "squad2-subset.json"
OUT = ROOT / "qa_service" / "models" / "span-model.json"
TREES = {"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 40, "l2_regularization": 0.0}
THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 15)]


def extract(path: Path, articles: int | None = None) -> dict[str, np.ndarray]:
    """Candidates (features, F1 with the gold answer, question, article) and each question's rule
    span F1 (NaN when the rules give none) and sentence F1."""
    rows = examples(path, "all")
    names = list(dict.fromkeys(article for article, _, _, _ in rows))[:articles]
    rows = [r for r in rows if r[0] in names]
    x, f1, cand_q, rule_f1, sentence_f1, q_article = [], [], [], [], [], []
    for qi, (article, sentence, question, golds) in enumerate(rows):
        kind = answer_type(question)
        rule = find_span(sentence, question, kind)
        rule_f1.append(max(token_f1(rule.text, g) for g in golds) if rule is not None else np.nan)
        sentence_f1.append(max(token_f1(sentence, g) for g in golds))
        q_article.append(names.index(article))
        for candidate, features in span_candidates(sentence, question, kind, rule):
            x.append(features)
            f1.append(max(token_f1(candidate.text, g) for g in golds))
            cand_q.append(qi)
    return {"x": np.array(x, dtype=np.float64).reshape(-1, len(SPAN_FEATURES)), "f1": np.array(f1),
            "cand_q": np.array(cand_q, dtype=np.int64), "rule_f1": np.array(rule_f1),
            "sentence_f1": np.array(sentence_f1), "q_article": np.array(q_article, dtype=np.int64),
            "articles": np.array(names)}


def fit(x: np.ndarray, y: np.ndarray):  # noqa: ANN201
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(early_stopping=False, random_state=0, **TREES).fit(x, y)


def best_per_question(likely: np.ndarray, data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each question's best candidate: (its probability, its F1); -1 and 0 when it has none."""
    n = len(data["sentence_f1"])
    best_p, best_f1 = np.full(n, -1.0), np.zeros(n)
    for i in np.argsort(-likely, kind="stable")[::-1]:  # the first of equals last, so it wins
        best_p[data["cand_q"][i]], best_f1[data["cand_q"][i]] = likely[i], data["f1"][i]
    return best_p, best_f1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--gain", type=float, default=2.0,
                        help="a span must score this many times its sentence's F1, out of fold")
    parser.add_argument("--articles", type=int, default=None, help="use only the first N articles (quick runs)")
    args = parser.parse_args(argv)
    data = extract(args.data, args.articles)
    y = (data["f1"] >= 0.5).astype(np.int64)
    cand_article = data["q_article"][data["cand_q"]]
    likely = np.zeros(len(y))
    for article in np.unique(data["q_article"]):
        held = cand_article == article
        likely[held] = fit(data["x"][~held], y[~held]).predict_proba(data["x"][held])[:, 1]
    best_p, best_f1 = best_per_question(likely, data)
    rules = ~np.isnan(data["rule_f1"])
    today = np.where(rules, np.nan_to_num(data["rule_f1"]), data["sentence_f1"])
    by_threshold = {}
    threshold = 1.0
    for t in THRESHOLDS:
        given = ~rules & (best_p >= t)
        span_f1 = float(best_f1[given].mean()) if given.any() else 0.0
        sentence_f1 = float(data["sentence_f1"][given].mean()) if given.any() else 0.0
        mean = float(np.where(given, best_f1, today).mean())
        by_threshold[str(t)] = {"f1": round(100 * mean, 2), "spans_given": round(float((rules | given).mean()), 4),
                                "learned_f1_given": round(100 * span_f1, 2),
                                "their_sentences_f1": round(100 * sentence_f1, 2)}
        if threshold == 1.0 and given.any() and span_f1 >= args.gain * sentence_f1:
            threshold = t
    figures = {"rules_then_sentence_f1": round(100 * float(today.mean()), 2),
               "rules_given": round(float(rules.mean()), 4), "by_threshold": by_threshold}
    print(json.dumps(figures, indent=1), file=sys.stderr)
    model = TreeModel.from_sklearn(fit(data["x"], y), SPAN_FEATURES)
    out = {
        "about": "Span chooser (gradient-boosted trees) of qa-service, over the features named in "
                 "qa_service/spans.py (SPAN_FEATURES); trained by training/train_span_model.py. Read with numpy "
                 "by qa_service/learned.py.",
        "data": data_record(args.data, data["articles"], questions=int(len(data["sentence_f1"])),
                            candidates=int(len(y))),
        "trained_at_commit": trained_at_commit(),
        "gain": args.gain,
        "threshold": threshold,
        "cross_validated": figures,
        "parameters": TREES,
        "model": model.to_json(),
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} (threshold {threshold})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
