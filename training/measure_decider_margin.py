"""Would the decider gain from the extractive reader's margin (best span minus "no answer" on the
chosen sentence)? The same rows, a decider fitted with and without it, compared.

    python3 training/measure_refusals.py --encoder-folds DIR1 DIR2 --paragraphs 25 --offtopic 40 \\
        --seed 11 --out rows.jsonl                    # or train_decider.py's --rows file
    python3 training/measure_decider_margin.py rows.jsonl

Rows come from ``measure_refusals.collect`` (each records ``reader_margin``). Each decider is
fitted as ``train_decider.py`` fits it (logistic regression on the rows the rules let through,
full and withheld conditions; label: the chosen sentence holds a gold answer), once on the rows
of the articles not held out, tested on the held-out ones, and once leaving each article out in
turn. On a test article both deciders get the threshold that refuses the same share of its
answerable questions (5% and 10%; the rules' refusals count), and the report gives the share of
withheld and unanswerable questions refused there, the share of answerable ones answered right,
and the ROC AUC of right answers against the rest. A row the reader did not read gets the
training rows' median margin, and a second column says it was not read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from train_answer_model import fit, roc_auc  # noqa: E402
from train_decider import Row, features, heard  # noqa: E402

RATES = (0.05, 0.10)


def matrix(rows: Sequence[Row], margin: bool, fill: float) -> np.ndarray:
    base = features(rows)
    if not margin:
        return base
    read = np.array([r.get("reader_margin") is not None for r in rows], dtype=np.float64)
    values = np.array([r["reader_margin"] if r.get("reader_margin") is not None else fill for r in rows],
                      dtype=np.float64)
    return np.column_stack([base, np.clip(values, -20.0, 20.0), read])


def compare(train: Sequence[Row], test: Sequence[Row], margin: bool) -> dict[str, object]:
    used = [r for r in train if heard(r) and r["condition"] in ("full", "withheld")]
    seen = [float(r["reader_margin"]) for r in used if r.get("reader_margin") is not None]  # type: ignore[arg-type]
    fill = float(np.median(seen)) if seen else 0.0
    model = fit(matrix(used, margin, fill), np.array([bool(r["right"]) for r in used]))
    heard_rows = [r for r in test if heard(r)]
    scores = {id(r): float(s) for r, s in zip(heard_rows, ((matrix(heard_rows, margin, fill) - model.mean)
                                                           / model.scale) @ model.coef + model.intercept)}

    def score(r: Row) -> float:
        return scores.get(id(r), -np.inf)  # refused by a rule: refused at any threshold

    answerable = [r for r in test if r["condition"] == "full" and r["answerable"]]
    out: dict[str, object] = {}
    for rate in RATES:
        threshold = float(np.quantile([score(r) for r in answerable], rate))
        shares = {}
        for kind, test_of in (("withheld", lambda r: r["condition"] == "withheld"),
                              ("unanswerable", lambda r: r["condition"] == "full" and not r["answerable"])):
            group = [r for r in test if test_of(r)]
            shares[f"{kind}_refused"] = round(float(np.mean([score(r) < threshold for r in group])), 3) if group else None
        shares["answered_right"] = round(float(np.mean([bool(r["right"]) and score(r) >= threshold
                                                        for r in answerable])), 3)
        out[f"at_{rate}"] = shares
    judged = [r for r in heard_rows if r["condition"] == "withheld" or (r["condition"] == "full" and r["answerable"])]
    if judged:
        labels = np.array([r["condition"] == "full" and bool(r["right"]) for r in judged])
        if 0 < labels.sum() < len(labels):
            out["auc_right_vs_rest"] = round(roc_auc(np.array([score(r) for r in judged]), labels), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", type=Path)
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.rows.read_text(encoding="utf-8").splitlines() if line.strip()]
    held = [r for r in rows if r["held_out"]]
    report: dict[str, object] = {"held_out": sorted({str(r["pool"]) for r in held})}
    for margin in (False, True):
        name = "with_margin" if margin else "without"
        if held:
            report[f"held_out_{name}"] = compare([r for r in rows if not r["held_out"]], held, margin)
        pools = sorted({str(r["pool"]) for r in rows})
        each = [compare([r for r in rows if r["pool"] != p], [r for r in rows if r["pool"] == p], margin)["at_0.05"]
                for p in pools]
        report[f"one_out_{name}_at_0.05"] = {k: round(float(np.mean([e[k] for e in each if e[k] is not None])), 3)
                                             for k in ("withheld_refused", "unanswerable_refused", "answered_right")
                                             if any(e[k] is not None for e in each)}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
