"""How long answering takes, as a ratio against plain rank-bm25 in the same process.

    python3 benchmarks/bench_ask.py [--repeat 5]

Baseline: rank-bm25's README usage (BM25Okapi over lowercase whitespace tokens, get_scores,
then sort) on the same passages and questions. Ours: Pipeline.ask, the whole answer (tokenise,
score, re-rank, highlight, pick the sentence, decide to abstain). Wall-clock numbers vary
with the machine; the ratio is what to compare between runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from rank_bm25 import BM25Okapi

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa_service.config import Settings  # noqa: E402
from qa_service.evaluate import load_squad  # noqa: E402
from qa_service.ingest import load_corpus, load_questions  # noqa: E402
from qa_service.pipeline import build_pipeline  # noqa: E402


def per_question_ms(fn, questions, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        for q in questions:
            fn(q)
        runs.append((time.perf_counter() - started) * 1000 / len(questions))
    return statistics.median(runs)


def bench(name: str, corpus, questions, repeat: int) -> None:
    started = time.perf_counter()
    pipeline = build_pipeline(Settings(), corpus)
    pipeline.warm_up()
    build_ours = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    bm25 = BM25Okapi([p.text.lower().split() for p in corpus.passages])
    build_base = (time.perf_counter() - started) * 1000

    def baseline(q):
        scores = bm25.get_scores(q.question.lower().split())
        return sorted(range(len(scores)), key=lambda i: -scores[i])[:3]

    def ours(q):
        return pipeline.ask(q.question, history=q.history, top_k=3)

    base_ms = per_question_ms(baseline, questions, repeat)
    ours_ms = per_question_ms(ours, questions, repeat)
    print(f"{name}: {len(corpus.passages)} passages, {len(questions)} questions")
    print(f"  build   ours {build_ours:8.1f} ms   baseline {build_base:8.1f} ms   ratio {build_ours / build_base:6.1f}x")
    print(f"  answer  ours {ours_ms:8.3f} ms   baseline {base_ms:8.3f} ms   ratio {ours_ms / base_ms:6.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    corpus = load_corpus(ROOT / "corpus")
    bench("bundled article", corpus, load_questions(ROOT / "corpus" / "questions.jsonl"), args.repeat)
    squad_corpus, squad_questions = load_squad(ROOT / "corpus" / "squad-expmrc" / "expmrc-squad-dev.json")
    bench("SQuAD articles, global pool", squad_corpus, squad_questions, args.repeat)


if __name__ == "__main__":
    main()
