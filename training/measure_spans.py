"""Measure the span rules alone, on the SQuAD 2.0 subset's answerable questions.

    python3 training/measure_spans.py                 # development articles (all but the held-out ones)
    python3 training/measure_spans.py --held-out      # the held-out articles only
    python3 training/measure_spans.py --all
    python3 training/measure_spans.py --show other --limit 30   # examples of one answer type

For every answerable question, the sentence of its paragraph that holds the (first) gold
answer is taken as the answer sentence (an oracle: sentence choice is left out), and
``find_span(sentence, question, answer_type(question))`` is scored with SQuAD's exact match and
token F1 against the best gold answer. Per answer type: how often a span is given, EM and F1 of
the spans given, and the F1 when the whole sentence stands in for a missing span (as
``qa-service eval`` scores answers).

Whole articles are held out (``HELD_OUT``): develop on the others, check on these.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from qa_service.evaluate import exact_match, token_f1  # noqa: E402
from qa_service.spans import ANSWER_TYPES, answer_type, find_span  # noqa: E402
from qa_service.text import sentence_spans  # noqa: E402

DATA = HERE / "squad2-subset" / "squad2-subset.json"
# Checked on, never developed on: three whole articles of the subset's eleven.
HELD_OUT = ("IPod", "To_Kill_a_Mockingbird", "Solar_energy")


def examples(path: Path, which: str) -> list[tuple[str, str, str, list[str]]]:
    """(article, oracle sentence, question, gold answers) of every answerable question."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out = []
    for article in data:
        held = article["title"] in HELD_OUT
        if (which == "dev" and held) or (which == "held-out" and not held):
            continue
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            spans = sentence_spans(context)
            for qa in paragraph["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    continue
                first = qa["answers"][0]
                start = first["answer_start"]
                end = start + len(first["text"])
                inside = [s for s in spans if s.start <= start < s.end]
                if not inside or end > inside[0].end:  # the answer crosses sentences: no oracle sentence
                    continue
                sentence = context[inside[0].start : inside[0].end]
                out.append((article["title"], sentence, qa["question"], [a["text"] for a in qa["answers"]]))
    return out


def measure(rows: list[tuple[str, str, str, list[str]]], show: str | None, limit: int) -> None:
    stats: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    shown = 0
    started = time.perf_counter()
    for _, sentence, question, golds in rows:
        kind = answer_type(question)
        span = find_span(sentence, question, kind)
        answer = span.text if span is not None else sentence
        em = max(exact_match(answer, g) for g in golds)
        f1 = max(token_f1(answer, g) for g in golds)
        sent_f1 = max(token_f1(sentence, g) for g in golds)
        for key in (kind, "all"):
            s = stats[key]
            s["n"] += 1
            s["fallback_f1"] += f1
            s["fallback_em"] += em
            s["sentence_f1"] += sent_f1
            if span is not None:
                s["given"] += 1
                s["em"] += em
                s["f1"] += f1
        if show and kind == show and shown < limit and (span is None or f1 < 1):
            shown += 1
            print(f"Q: {question}\nS: {sentence}\nG: {golds[0]!r}  span: {span.text if span else None!r}  F1 {f1:.2f}\n")
    elapsed = time.perf_counter() - started
    print(f"{'type':<13}{'n':>6}{'given':>8}{'EM|given':>10}{'F1|given':>10}{'EM':>8}{'F1':>8}{'sent F1':>9}")
    for kind in (*ANSWER_TYPES, "all"):
        s = stats.get(kind)
        if not s:
            continue
        n, given = s["n"], s["given"]
        em_g = 100 * s["em"] / given if given else float("nan")
        f1_g = 100 * s["f1"] / given if given else float("nan")
        print(f"{kind:<13}{int(n):>6}{100 * given / n:>7.1f}%{em_g:>10.1f}{f1_g:>10.1f}"
              f"{100 * s['fallback_em'] / n:>8.1f}{100 * s['fallback_f1'] / n:>8.1f}{100 * s['sentence_f1'] / n:>9.1f}")
    print(f"({len(rows)} questions, {elapsed:.2f} s; given = share with a span; EM/F1|given = of the spans given; "
          "EM/F1 = span else sentence, as eval scores; sent F1 = the sentence alone)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--held-out", action="store_true", help=f"only the held-out articles {HELD_OUT}")
    group.add_argument("--all", action="store_true", help="every article")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--show", choices=ANSWER_TYPES, help="print misses of this answer type")
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args()
    which = "held-out" if args.held_out else "all" if args.all else "dev"
    measure(examples(args.data, which), args.show, args.limit)


if __name__ == "__main__":
    main()
