"""What the service refuses on the SQuAD 2.0 subset, in three conditions, and the
``coverage_by_meaning`` calibration.

    python3 training/measure_refusals.py --encoder-folds DIR1 DIR2 DIR3 [--out rows.jsonl]
    python3 training/measure_refusals.py --data corpus/squad-expmrc/expmrc-squad-dev.json \
        --paragraphs 1000 --offtopic 0        # measuring only: every paragraph withheld in turn

Every question goes through the shipped pipeline (defaults), over:

- ``full``: its own article (answerable questions, and SQuAD 2.0's unanswerable ones);
- ``withheld``: its article without the paragraph that answers it (``--paragraphs`` paragraphs
  an article, drawn at random with a fixed seed): an on-topic question the document no longer
  answers, as a user asks of a document that lacks the fact;
- ``offtopic``: another article (the next one in the file; ``--offtopic`` questions an article):
  a question about something else.

Each article is read with the encoder fold that did not train on it (``--encoder-folds``:
``export_encoder.py`` folders of encoders trained with some articles held out), as the service
would read a new document. Note that the shipped reader trained on every article but the one its
card holds out, so confidences on the others are higher than on new text.

It prints, per condition, how many questions each rule refused and the decider's refusals, and
the cosine of the chosen sentence for the questions refused for low coverage. The calibrated
``coverage_by_meaning`` is the lowest of 0.30, 0.35, ..., 0.95 at which no off-topic question
refused for low coverage would be heard by the decider (its chosen sentence's cosine below it).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from qa_service import read  # noqa: E402
from qa_service.config import Settings  # noqa: E402
from qa_service.evaluate import contains_answer, load_squad  # noqa: E402
from qa_service.extract import SpanModel, load_reader_card  # noqa: E402
from qa_service.text import slugify  # noqa: E402
from qa_service.pipeline import Pipeline, build_pipeline  # noqa: E402
from qa_service.values import Corpus, Question  # noqa: E402
from train_answer_model import DATA, fold_encoders  # noqa: E402

GRID = [round(0.30 + 0.05 * i, 2) for i in range(14)]


def _row(pipeline: Pipeline, q: Question, condition: str, pool: str) -> dict[str, object]:
    """One question asked of ``pool`` (its own article, or another for an off-topic one).
    ``reader_margin``: the extractive reader's best span in the chosen sentence minus its "no
    answer" score (None when the reader did not read it)."""
    query = pipeline.analyse(q.question)
    seen: list = []
    real = read._with_read_span

    def recording(sentence, reading, text, query):  # noqa: ANN001, ANN202
        seen.append(reading)
        return real(sentence, reading, text, query)

    read._with_read_span = recording
    try:
        hits, sentence, confidence, abstention = pipeline._decided(query, pipeline.top_k)
    finally:
        read._with_read_span = real
    margin = seen[-1].margin if seen and np.isfinite(seen[-1].margin) else None
    return {
        "reader_margin": None if margin is None else round(float(margin), 4),
        "id": q.id, "pool": pool, "asked_from": q.pool, "condition": condition, "answerable": q.answerable,
        "reason": abstention.reason if abstention else None, "coverage": round(query.coverage, 4),
        "cosine": sentence.signals.get("best_cosine") if sentence is not None and sentence.signals else None,
        "confidence": confidence,
        "signals": dict(sentence.signals) if sentence is not None and sentence.signals else None,
        "right": bool(condition == "full" and q.answerable and sentence is not None
                      and contains_answer(sentence.text, q.answers)),
        "answer_type": query.answer_type,
        "span": None if sentence is None else (None if sentence.span is None else sentence.span.text),
        "sentence": None if sentence is None else sentence.text,
    }


def fold_readers(folders: list[Path]) -> dict[str, SpanModel]:
    """For each article an ``export_reader.py`` folder's card holds out, that reader."""
    out: dict[str, SpanModel] = {}
    for folder in folders:
        card = load_reader_card(folder / "reader.json")
        model = SpanModel(folder / "reader.onnx", sha256=card["sha256"])
        for title in card["training"]["holdout"]:
            out.setdefault(slugify(title, "article"), model)
    return out


def collect(data: Path, folders: list[Path], paragraphs: int, offtopic: int, seed: int,
            readers: dict[str, SpanModel] | None = None) -> list[dict[str, object]]:
    """Every question's row in the three conditions (``readers``: an article's reader when one
    held it out; else the shipped one). ``held_out`` in a row: both encoder and reader held its
    article out."""
    encoders = fold_encoders(folders) if folders else {}  # none: the shipped encoder (a file it did not train on)
    readers = readers or {}
    shipped_holdout = {slugify(t, "article") for t in load_reader_card()["training"]["holdout"]}
    corpus, questions = load_squad(data)
    pools = [d.id for d in corpus.documents]
    settings = Settings().replace(coverage_by_meaning=1.0)  # the rules as they were: what they refuse is measured
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    started = time.perf_counter()

    def build(corpus_here: Corpus, pool: str) -> Pipeline:
        pipeline = build_pipeline(settings, corpus_here, encoder=encoders.get(pool) if folders else None)
        if pool in readers and hasattr(pipeline.reader, "span_model"):
            pipeline.reader.span_model = readers[pool]
        return pipeline

    for a, pool in enumerate(pools):
        docs = tuple(d for d in corpus.documents if d.id == pool)
        passages = tuple(p for p in corpus.passages if p.document == pool)
        pipeline = build(Corpus(docs, passages), pool)
        mine = [q for q in questions if q.pool == pool]
        held_out = not folders or pool in readers or pool in shipped_holdout
        start = len(rows)
        rows += [_row(pipeline, q, "full", pool) for q in mine]
        golds = sorted({q.gold_passages[0] for q in mine if q.answerable})
        for gold in rng.sample(golds, min(paragraphs, len(golds))):
            without = build(Corpus(docs, tuple(p for p in passages if p.id != gold)), pool)
            rows += [_row(without, q, "withheld", pool) for q in mine if q.answerable and q.gold_passages[0] == gold]
        theirs = [q for q in questions if q.pool == pools[(a + 1) % len(pools)] and q.answerable]
        rows += [_row(pipeline, q, "offtopic", pool) for q in rng.sample(theirs, min(offtopic, len(theirs)))]
        for row in rows[start:]:
            row["held_out"] = held_out
        print(f"  {pool} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return rows


def _key(row: dict[str, object]) -> str:
    if row["condition"] != "full":
        return str(row["condition"])
    return "answerable" if row["answerable"] else "unanswerable"


def report(rows: list[dict[str, object]], threshold: float) -> float:
    groups: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        groups.setdefault(_key(row), []).append(row)
    for name, group in groups.items():
        reasons = Counter(str(r["reason"]) for r in group)
        print(f"{name}: {len(group)} questions; answered {reasons.pop('None', 0)}; refused "
              + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
        cosines = np.array([r["cosine"] for r in group if r["reason"] == "low_coverage" and r["cosine"] is not None])
        if len(cosines):
            print(f"  refused for low coverage: chosen sentence's cosine median {np.median(cosines):.3f}, "
                  f"max {cosines.max():.3f}")
    print("coverage_by_meaning: questions refused for low coverage that the decider would hear / would answer "
          "(right, for answerable ones)")
    chosen = 1.0
    for floor in GRID:
        parts = []
        for name, group in groups.items():
            heard = [r for r in group if r["reason"] == "low_coverage" and r["cosine"] is not None
                     and float(r["cosine"]) >= floor]  # type: ignore[arg-type]
            answered = [r for r in heard if r["confidence"] is not None and float(r["confidence"]) >= threshold]  # type: ignore[arg-type]
            right = sum(bool(r["right"]) for r in answered)
            parts.append(f"{name} {len(heard)}/{len(answered)}" + (f" ({right} right)" if name == "answerable" else ""))
            if name == "offtopic" and not heard and chosen == 1.0:
                chosen = floor
        print(f"  {floor:.2f}: " + ", ".join(parts))
    if "offtopic" in groups:
        print(f"calibrated coverage_by_meaning: {chosen:.2f} (the lowest with no off-topic question heard)")
    else:
        print("no off-topic questions asked: nothing to calibrate coverage_by_meaning on")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--encoder-folds", type=Path, nargs="+", default=[], metavar="DIR",
                        help="needed for the subset (the shipped encoder trained on it); none for a SQuAD file the "
                             "models never saw, e.g. --data corpus/squad-expmrc/expmrc-squad-dev.json")
    parser.add_argument("--reader-folds", type=Path, nargs="*", default=[], metavar="DIR",
                        help="export_reader.py folders of readers that held articles out (read those articles with them)")
    parser.add_argument("--paragraphs", type=int, default=10, help="paragraphs withheld per article")
    parser.add_argument("--offtopic", type=int, default=80, help="questions of the next article asked per article")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="write every question's row (JSON lines)")
    parser.add_argument("--rows", type=Path, default=None, help="report from rows written before (no pipeline runs)")
    args = parser.parse_args(argv)
    if args.rows is not None:
        rows = [json.loads(line) for line in args.rows.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        rows = collect(args.data, args.encoder_folds, args.paragraphs, args.offtopic, args.seed,
                       fold_readers(args.reader_folds))
    if args.out is not None:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    threshold = float(json.loads((ROOT / "qa_service" / "models" / "answer-model.json").read_text())["threshold"])
    report(rows, threshold)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
