"""Retrain the answer/refuse decider on what the service reads when it answers, with on-topic
questions the document no longer answers among its negatives.

    python3 training/train_decider.py --encoder-folds DIR1 DIR2 DIR3 \\
        --reader-folds qa_service/models/reader READER_FOLD [--rows rows.jsonl]

``train_answer_model.py`` fits the decider on the chooser's own scores; the service's decider
reads the scores after the extractive reader has weighed in, and SQuAD 2.0's unanswerable
questions were its only negatives. Here every row is what the shipped pipeline hands the decider
(``AnswerSentence.signals``), from ``measure_refusals.collect``: each subset article read with
the encoder fold that held it out, and, where one did, the reader that held it out. Negatives
are SQuAD 2.0's unanswerable questions and "withheld" ones: answerable questions asked of their
article without the paragraph that answers them (``--paragraphs`` paragraphs an article), as a
user asks a document about a fact it does not hold.

- Training: the articles whose reader is not held out (the shipped reader trained on them),
  conditions full and withheld, the rows the coverage rules let through; label: the chosen
  sentence holds a gold answer. Logistic regression (``train_answer_model.fit``).
- Threshold: the confidence below which ``--false-refusals`` of the answerable questions of the
  articles that both encoder and reader held out (read as new text is) are refused, the ones the
  rules refuse included.
- Cross-check, printed and recorded: with two such articles, calibrate on one and measure on the
  other, both ways, against the decider it replaces at its threshold.

Writes the decider and threshold into ``answer-model.json`` (the chooser is left as it is).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from measure_refusals import collect, fold_readers  # noqa: E402
from provenance import trained_at_commit  # noqa: E402
from train_answer_model import DATA, OUT, fit  # noqa: E402

from qa_service.learned import QUESTION_FEATURES, LogisticModel  # noqa: E402

RULES = frozenset({"no_terms", "missing_names", "low_coverage", "no_match"})
Row = dict[str, object]


def heard(row: Row) -> bool:
    """The decider decides this row: the rules let it through and a sentence was chosen."""
    return row["signals"] is not None and row["reason"] not in RULES


def features(rows: Sequence[Row]) -> np.ndarray:
    return np.array([[row["signals"][name] for name in QUESTION_FEATURES] for row in rows],  # type: ignore[index]
                    dtype=np.float64).reshape(-1, len(QUESTION_FEATURES))


def train(rows: Sequence[Row]) -> LogisticModel:
    used = [r for r in rows if heard(r) and r["condition"] in ("full", "withheld")]
    fitted = fit(features(used), np.array([bool(r["right"]) for r in used]))
    return LogisticModel(QUESTION_FEATURES, fitted.mean, fitted.scale, fitted.coef, fitted.intercept)


def calibrate(model: Callable[[np.ndarray], np.ndarray], rows: Sequence[Row], false_refusals: float) -> float:
    """The confidence below which ``false_refusals`` of the answerable questions are refused,
    counting those the rules refuse first (they are refused at any threshold)."""
    answerable = [r for r in rows if r["condition"] == "full" and r["answerable"]]
    scores = np.full(len(answerable), -np.inf)
    kept = [i for i, r in enumerate(answerable) if heard(r)]
    scores[kept] = model(features([answerable[i] for i in kept]))
    return float(np.quantile(scores, false_refusals))


def outcomes(model: Callable[[np.ndarray], np.ndarray], threshold: float, rows: Sequence[Row]) -> dict[str, float]:
    """Shares refused (rules or decider) per kind of question, and answerable ones answered right."""
    scores = {id(r): s for r, s in zip([r for r in rows if heard(r)], model(features([r for r in rows if heard(r)])))}
    refused = {id(r): (not heard(r)) or scores[id(r)] < threshold for r in rows}
    kinds = {"answerable": lambda r: r["condition"] == "full" and r["answerable"],
             "unanswerable": lambda r: r["condition"] == "full" and not r["answerable"],
             "withheld": lambda r: r["condition"] == "withheld", "offtopic": lambda r: r["condition"] == "offtopic"}
    out: dict[str, float] = {}
    for kind, test in kinds.items():
        group = [r for r in rows if test(r)]
        if group:
            out[f"{kind}_refused"] = round(float(np.mean([refused[id(r)] for r in group])), 4)
    answerable = [r for r in rows if kinds["answerable"](r)]
    out["answered_right"] = round(float(np.mean([bool(r["right"]) and not refused[id(r)] for r in answerable])), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--model", type=Path, default=OUT, help="the answer-model.json to update")
    parser.add_argument("--encoder-folds", type=Path, nargs="+", metavar="DIR")
    parser.add_argument("--reader-folds", type=Path, nargs="*", default=[], metavar="DIR")
    parser.add_argument("--paragraphs", type=int, default=25, help="paragraphs withheld per article")
    parser.add_argument("--offtopic", type=int, default=40, help="questions of the next article asked per article")
    parser.add_argument("--false-refusals", type=float, default=0.05)
    parser.add_argument("--rows", type=Path, default=None, help="read rows written before if it exists, else write them")
    args = parser.parse_args(argv)
    if args.rows is not None and args.rows.exists():
        rows = [json.loads(line) for line in args.rows.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        if not args.encoder_folds:
            parser.error("--encoder-folds is needed to read the questions (or --rows of an earlier run)")
        rows = collect(args.data, args.encoder_folds, args.paragraphs, args.offtopic, seed=11,
                       readers=fold_readers(args.reader_folds))
        if args.rows is not None:
            args.rows.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    held = sorted({str(r["pool"]) for r in rows if r["held_out"]})
    if not held:
        raise SystemExit("no article is held out by both encoder and reader: nothing to calibrate on")
    training = [r for r in rows if not r["held_out"]]
    current = json.loads(args.model.read_text(encoding="utf-8"))
    old = LogisticModel.from_json(current["decider"], QUESTION_FEATURES)
    old_threshold = float(current["threshold"])
    checks = []
    for test in held:
        others = [p for p in held if p != test]
        if not others:
            continue
        model = train(training)
        calibration = [r for r in rows if r["pool"] in others]
        threshold = calibrate(model.probabilities, calibration, args.false_refusals)
        tested = [r for r in rows if r["pool"] == test]
        checks.append({"test": test, "calibrated_on": others, "threshold": round(threshold, 4),
                       "new": outcomes(model.probabilities, threshold, tested),
                       "old": outcomes(old.probabilities, old_threshold, tested)})
        print(json.dumps(checks[-1]), file=sys.stderr)
    model = train(training)
    threshold = calibrate(model.probabilities, [r for r in rows if r["held_out"]], args.false_refusals)
    print(f"held out {held}: threshold {threshold:.4f}; " + json.dumps(
        outcomes(model.probabilities, threshold, [r for r in rows if r["held_out"]])), file=sys.stderr)
    current["decider"] = model.to_json()
    current["threshold"] = round(threshold, 6)
    current["false_refusals"] = args.false_refusals
    current["decider_training"] = {
        "script": "training/train_decider.py", "trained_at_commit": trained_at_commit(),
        "rows": {"training": sum(1 for r in training if heard(r) and r["condition"] in ("full", "withheld")),
                 "withheld_paragraphs_per_article": args.paragraphs},
        "trained_on": sorted({str(r["pool"]) for r in training}), "calibrated_on": held,
        "cross_checks": checks,
    }
    args.model.write_text(json.dumps(current, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.model} (threshold {threshold:.4f})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
