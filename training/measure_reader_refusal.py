"""Does the extractive reader tell answerable questions from unanswerable ones, on the sentences
the service weighs? ROC AUC (answerable vs not) of the reader's scores, per SQuAD 2.0 file.

    python3 training/measure_reader_refusal.py FILE.json [--model reader.onnx] [--withheld N]

For each question the service is asked as usual (defaults); the reader's readings of the
chooser's best sentences give three scores: its best span's score (start + end logit), minus
its "no answer" score ([CLS]), and the difference of the two. An AUC near .5 says a score is no
use to the decider (``decide.LearnedAbstainer``). With ``--withheld``, the same against
answerable questions asked of their article without the paragraph that answers them. Measure only on articles the model was not
trained on (its card's ``training.holdout``); ``--model`` reads another export, for example a
cross-validation fold's (``train_reader.py --holdout A`` then ``export_reader.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from qa_service import read  # noqa: E402
from qa_service.config import Settings  # noqa: E402
from qa_service.evaluate import load_squad  # noqa: E402
from qa_service.extract import SpanModel  # noqa: E402
from qa_service.pipeline import build_pipeline  # noqa: E402
from qa_service.values import Corpus  # noqa: E402
from train_answer_model import roc_auc  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("squad", type=Path)
    parser.add_argument("--model", type=Path, help="another reader.onnx (default: the bundled one)")
    parser.add_argument("--withheld", type=int, default=0, metavar="N",
                        help="also ask the answerable questions of N paragraphs an article (drawn with a fixed "
                             "seed) of the article without that paragraph: on-topic questions it no longer answers")
    args = parser.parse_args(argv)
    corpus, questions = load_squad(args.squad)
    model = None
    if args.model is not None:
        model = SpanModel(args.model, sha256=hashlib.sha256(args.model.read_bytes()).hexdigest())
    seen: list[list] = []
    readings = read.LearnedReader._readings

    def recording(self, question, candidates, inside=()):  # noqa: ANN001, ANN202
        out = readings(self, question, candidates, inside)
        seen.append(out[: len(candidates)])  # the chooser's best, whose scores the decider reads
        return out

    def built(documents: tuple, passages: tuple):  # noqa: ANN202
        pipe = build_pipeline(Settings(), Corpus(documents, passages))
        if model is not None and isinstance(pipe.reader, read.LearnedReader):
            pipe.reader.span_model = model
        return pipe

    def row(pipe, q, kind: str) -> tuple | None:  # noqa: ANN001
        seen.clear()
        answer = pipe.ask(q.question)
        if not seen or not seen[-1]:
            return None  # nothing was read (no hits, or a follow-up)
        best = max(r.score for r in seen[-1])
        null = min(r.null for r in seen[-1])
        return (kind, best, -null, best - null, answer.confidence)

    rng = random.Random(11)
    read.LearnedReader._readings = recording  # type: ignore[method-assign]
    try:
        rows = []
        for pool in dict.fromkeys(q.pool for q in questions):
            documents = tuple(d for d in corpus.documents if d.id == pool)
            passages = tuple(p for p in corpus.passages if p.document == pool)
            pipe = built(documents, passages)
            mine = [q for q in questions if q.pool == pool]
            rows += [row(pipe, q, "answerable" if q.answerable else "unanswerable") for q in mine]
            golds = sorted({q.gold_passages[0] for q in mine if q.answerable and q.gold_passages})
            for gold in rng.sample(golds, min(args.withheld, len(golds))):
                without = built(documents, tuple(p for p in passages if p.id != gold))
                rows += [row(without, q, "withheld") for q in mine if q.answerable and q.gold_passages[0] == gold]
    finally:
        read.LearnedReader._readings = readings  # type: ignore[method-assign]
    rows = [r for r in rows if r is not None]
    report: dict[str, object] = {"file": args.squad.name}
    for negatives in ("unanswerable", "withheld"):
        pair = [r for r in rows if r[0] in ("answerable", negatives)]
        report[f"answerable/{negatives}"] = f"{sum(r[0] == 'answerable' for r in pair)}/{sum(r[0] == negatives for r in pair)}"
        if not any(r[0] == negatives for r in pair):
            continue
        for i, name in enumerate(("best_span", "minus_no_answer", "best_minus_no_answer", "decider_confidence"), 1):
            values = [(r[0] == "answerable", r[i]) for r in pair if r[i] is not None]
            report[f"{negatives}:{name}"] = round(roc_auc(np.array([v for _, v in values]),
                                                          np.array([a for a, _ in values])), 3)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
