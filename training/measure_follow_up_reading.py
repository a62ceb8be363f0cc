"""Should the reader read a follow-up with the question before it? Span F1 of the reader in
each answerable question's own sentence, read alone and read after another question.

    python3 training/measure_follow_up_reading.py FILE.json [--model reader.onnx] [--seed N]

SQuAD has no conversations, so a conversation is made of two questions of one paragraph: for
each answerable question, another answerable question of its paragraph (drawn with a fixed seed)
is put before it, as the service once did with a follow-up ("Q1 Q2"). The reader reads the
question's sentence with one sentence either side, as the service does, and its best span inside
the sentence is scored against the gold answers (SQuAD's token F1, best over them). Measure only
on articles the model was not trained on (its card's ``training.holdout``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path
from typing import Any, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from qa_service.config import Settings  # noqa: E402
from qa_service.evaluate import token_f1  # noqa: E402
from qa_service.extract import SpanModel, whole_words  # noqa: E402
from qa_service.pipeline import build_span_model  # noqa: E402
from qa_service.text import sentence_spans  # noqa: E402


def pairs(data: dict[str, Any], seed: int) -> list[tuple[str, str, str, tuple[int, int], list[str]]]:
    """(earlier question, question, excerpt, the question's sentence in the excerpt, gold answers)
    for every answerable question whose paragraph has another answerable question."""
    rng = random.Random(seed)
    out = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            text = paragraph["context"]
            asked = [q for q in paragraph["qas"] if not q.get("is_impossible") and q["answers"]]
            spans = list(sentence_spans(text))
            for question in asked:
                others = [q for q in asked if q is not question]
                at = question["answers"][0]["answer_start"]
                k = next((k for k, (s, e) in enumerate(spans) if s <= at < e), None)
                if not others or k is None:
                    continue
                start, end = spans[max(0, k - 1)][0], spans[min(len(spans) - 1, k + 1)][1]
                out.append((rng.choice(others)["question"], question["question"], text[start:end],
                            (spans[k][0] - start, spans[k][1] - start), [a["text"] for a in question["answers"]]))
    return out


def compare(reader: Any, items: Sequence[tuple[str, str, str, tuple[int, int], list[str]]]) -> dict[str, Any]:
    """Mean span F1 with each question read alone and read after the earlier one."""
    scores: dict[str, list[float]] = {"alone": [], "after_another_question": []}
    for earlier, question, excerpt, sentence, golds in items:
        for name, asked in (("alone", question), ("after_another_question", f"{earlier} {question}")):
            [logits] = reader.logits(asked, [excerpt])
            found = logits.best(sentence)
            if found.score == float("-inf"):
                scores[name].append(0.0)
                continue
            start, end = whole_words(excerpt, found.start, found.end)
            scores[name].append(max(token_f1(excerpt[start:end], gold) for gold in golds))
    return {"questions": len(items), **{name: round(sum(v) / len(v), 3) if v else None for name, v in scores.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("squad", type=Path)
    parser.add_argument("--model", type=Path, help="another reader.onnx (default: the bundled one)")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    if args.model is not None:
        reader = SpanModel(args.model, sha256=hashlib.sha256(args.model.read_bytes()).hexdigest())
    else:
        reader = build_span_model(Settings(extractive=True))
    data = json.loads(args.squad.read_text(encoding="utf-8"))
    print(json.dumps({"file": args.squad.name, **compare(reader, pairs(data, args.seed))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
