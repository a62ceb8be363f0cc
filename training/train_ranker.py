"""Measure a learned passage re-ranker over the signals the ranking stages already compute, on
the SQuAD 2.0 subset (measured, not shipped: README, "Measuring answer quality").

    python3 -m pip install -e '.[train]'
    python3 training/train_ranker.py --encoder-folds ENC_A ENC_B [--kind trees]   # about 5 min

Every answerable question runs through the shipped pipeline over its own article (analysed,
retrieved, the hand-weighted re-rankers); each of the hits they hand on (``rerank_depth``, plus
the passages found by meaning) becomes a row of ``ranker.RANK_FEATURES``, labelled by whether it
is the question's own paragraph. A model is fitted pointwise (scikit-learn, training only; the
service reads the weights with numpy) and the hits are ordered by its score.

Everything is cross-validated leaving one article out, against the order the pipeline gives
today, and reported per article. The shipped encoder was fine-tuned on these articles, so its
cosines here are better than on new text: ``--encoder-folds`` takes encoders trained with some
articles held out (``train_encoder.py --holdout ...`` then ``export_encoder.py``), and each
article is read with the one that did not see it. Nothing is written: the figures are printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from train_answer_model import fit as fit_logistic, fit_trees, fold_encoders  # noqa: E402

from qa_service.config import Settings  # noqa: E402
from qa_service.evaluate import load_squad  # noqa: E402
from qa_service.pipeline import build_pipeline  # noqa: E402
from qa_service.values import Corpus, Hit, Query, SentenceSource  # noqa: E402

DATA = HERE / "squad2-subset" / "squad2-subset.json"


RANK_FEATURES = (
    "words",          # the hit's weighted BM25 score over the best one's among the hits
    "words_rank",     # 1 / its place by that score
    "order",          # 1 / its place in the order it is given (the hand-weighted mix)
    "mixed",          # the score it is given over the best one's
    "sentence",       # the share of the question's rarity mass its best sentence holds
    "sentence_gap",   # that share minus the best one's among the hits
    "passage",        # the share the whole passage holds
    "missing_max",    # the largest share one question term holds that the passage lacks
    "cosine",         # its best sentence's cosine with the question
    "cosine_gap",     # minus the best one's among the hits
    "cosine_rank",    # 1 / its place by that cosine
    "cosine_second",  # its second-best sentence's cosine (the best one's when it has one sentence)
    "cosine_mean",    # the mean of its sentences' cosines
    "agree",          # 1 when its closest sentence in meaning is also the one holding most of the words
    "closest_words",  # the share of the question's mass the closest sentence in meaning holds
    "matched",        # the share of the question's own terms the passage holds
)


def _inverse_ranks(values: np.ndarray) -> np.ndarray:
    """1 / place (1 = highest value; ties share the better place)."""
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values))
    place = 0
    for i, j in enumerate(order):
        if i == 0 or values[j] < values[order[i - 1]]:
            place = i + 1
        ranks[j] = place
    return 1.0 / ranks


def rank_features(query: Query, hits: Sequence[Hit], index: SentenceSource, vectors: Any) -> np.ndarray:
    """One row per hit, the columns of ``RANK_FEATURES``. ``vectors`` (semantic.SentenceVectors)
    gives the cosines; without it, or without the question's vector, they are 0."""
    n = len(hits)
    out = np.zeros((n, len(RANK_FEATURES)))
    if not n:
        return out
    mass = sum(query.mass.values()) or 1.0
    own = query.own
    weighted = np.array([float(h.scores.get("weighted", h.scores.get("bm25", h.score))) for h in hits])
    given = np.array([float(h.score) for h in hits])
    best_weighted = weighted.max() if weighted.max() > 0 else 1.0
    best_given = given.max() if given.max() > 0 else 1.0
    with_meaning = vectors is not None and query.vector is not None
    sentence_share = np.zeros(n)
    passage_share = np.zeros(n)
    missing = np.zeros(n)
    cosine = np.zeros(n)
    second = np.zeros(n)
    mean = np.zeros(n)
    agree = np.zeros(n)
    closest_words = np.zeros(n)
    matched = np.zeros(n)
    for i, hit in enumerate(hits):
        sentences = index.sentences(hit.position)
        shares = np.array([query.mass_in(terms) / mass for _, terms in sentences]) if sentences else np.zeros(1)
        every = frozenset().union(*(terms for _, terms in sentences)) if sentences else frozenset()
        sentence_share[i] = shares.max()
        passage_share[i] = query.mass_in(every) / mass
        missing[i] = max((m / mass for t, m in query.mass.items() if t not in every), default=0.0)
        matched[i] = len(own & every) / len(own) if own else 0.0
        if with_meaning:
            cos = vectors.cosines(query.vector, hit.position)
            if len(cos):
                ordered = np.sort(cos)[::-1]
                cosine[i] = ordered[0]
                second[i] = ordered[1] if len(ordered) > 1 else ordered[0]
                mean[i] = float(cos.mean())
                closest = int(np.argmax(cos))
                if closest < len(shares):
                    closest_words[i] = shares[closest]
                    agree[i] = float(shares[closest] >= shares.max())
    out[:, 0] = weighted / best_weighted
    out[:, 1] = _inverse_ranks(weighted)
    out[:, 2] = 1.0 / np.arange(1, n + 1)
    out[:, 3] = given / best_given
    out[:, 4] = sentence_share
    out[:, 5] = sentence_share - sentence_share.max()
    out[:, 6] = passage_share
    out[:, 7] = missing
    out[:, 8] = cosine
    out[:, 9] = cosine - cosine.max()
    out[:, 10] = _inverse_ranks(cosine) if with_meaning else 0.0
    out[:, 11] = second
    out[:, 12] = mean
    out[:, 13] = agree
    out[:, 14] = closest_words
    out[:, 15] = matched
    return out


def extract(path: Path, settings: Settings, encoders=None, articles: int | None = None) -> dict[str, np.ndarray]:
    corpus, questions = load_squad(path)
    pools = [d.id for d in corpus.documents][:articles]
    xs, ys, qs, arts = [], [], [], []
    started = time.perf_counter()
    n = 0
    for a, pool in enumerate(pools):
        docs = tuple(d for d in corpus.documents if d.id == pool)
        passages = tuple(p for p in corpus.passages if p.document == pool)
        encoder = encoders[pool] if encoders is not None else None
        pipeline = build_pipeline(settings, Corpus(docs, passages), encoder=encoder)
        depth = max(r.depth for r in pipeline.rerankers)
        for q in (q for q in questions if q.pool == pool and q.answerable):
            query = pipeline.analyse(q.question)
            hits = pipeline.retrieve(query, depth)[:depth]
            if not hits:
                continue
            gold = set(q.gold_passages)
            xs.append(rank_features(query, hits, pipeline.index, pipeline.vectors))
            ys.append(np.array([h.passage.id in gold for h in hits]))
            qs.append(np.full(len(hits), n))
            arts.append(a)
            n += 1
        print(f"  {pool}: {sum(1 for x in arts if x == a)} questions ({time.perf_counter() - started:.0f} s)",
              file=sys.stderr)
    return {"x": np.concatenate(xs), "y": np.concatenate(ys), "q": np.concatenate(qs),
            "q_article": np.array(arts), "articles": np.array(pools)}


def fit(kind: str, x: np.ndarray, y: np.ndarray):
    """The answer model's own learners (``train_answer_model``): its chooser's trees or its
    decider's standardised logistic regression (only scored here: nothing is saved)."""
    return fit_trees(x, y) if kind == "trees" else fit_logistic(x, y)


def ranks(scores: np.ndarray, y: np.ndarray, q: np.ndarray, questions: np.ndarray) -> np.ndarray:
    """Per question, the 1-based place of its paragraph when the hits are ordered by ``scores``
    (ties keep the given order); 0 when it is not among them."""
    out = np.zeros(len(questions), dtype=np.int64)
    for i, question in enumerate(questions):
        rows = np.flatnonzero(q == question)
        order = sorted(range(len(rows)), key=lambda j: (-scores[rows[j]], j))
        gold = [k for k, j in enumerate(order, start=1) if y[rows[j]]]
        out[i] = gold[0] if gold else 0
    return out


def figures(places: np.ndarray) -> dict[str, float]:
    return {"hit@1": round(float((places == 1).mean()), 4), "hit@3": round(float(((places >= 1) & (places <= 3)).mean()), 4),
            "mrr@10": round(float(np.where((places >= 1) & (places <= 10), 1.0 / np.maximum(places, 1), 0).mean()), 4)}


def cross_validate(data: dict[str, np.ndarray], kind: str) -> dict[str, object]:
    x, y, q = data["x"], data["y"], data["q"]
    given = -np.arange(len(q), dtype=np.float64)  # the order the pipeline hands over: rows are stored in it
    scores = np.zeros(len(q))
    for a in range(len(data["articles"])):
        test = data["q_article"][q] == a
        model = fit(kind, x[~test], y[~test])
        scores[test] = model.logits(x[test])
    questions = np.arange(len(data["q_article"]))
    before, after = ranks(given, y, q, questions), ranks(scores, y, q, questions)
    by_article = {}
    for a, name in enumerate(data["articles"]):
        here = data["q_article"] == a
        by_article[str(name)] = {"questions": int(here.sum()), "pipeline": figures(before[here]),
                                 "learned": figures(after[here])}
    return {"pipeline": figures(before), "learned": figures(after), "by_article": by_article,
            "gained": int(((after == 1) & (before != 1)).sum()), "lost": int(((after != 1) & (before == 1)).sum())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--encoder-folds", type=Path, nargs="+", default=None, metavar="DIR",
                        help="encoders trained with articles held out: each article is read by one that did not see it")
    parser.add_argument("--kind", choices=("logistic", "trees"), default="logistic")
    parser.add_argument("--rows", type=Path, default=None, help="read the features from this .npz if it exists, else write them there")
    parser.add_argument("--articles", type=int, default=None, help="only the first N articles (quick runs)")
    args = parser.parse_args(argv)

    if args.rows is not None and args.rows.exists():
        with np.load(args.rows, allow_pickle=False) as saved:
            data = {k: saved[k] for k in saved.files}
    else:
        encoders = fold_encoders(args.encoder_folds) if args.encoder_folds else None
        data = extract(args.data, Settings(), encoders, args.articles)
        if args.rows is not None:
            np.savez(args.rows, **data)
    report = cross_validate(data, args.kind)
    print(json.dumps({k: v for k, v in report.items() if k != "by_article"}), file=sys.stderr)
    for name, row in report["by_article"].items():
        print(f"  {name:50s} {row['questions']:5d}  {row['pipeline']}  ->  {row['learned']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
