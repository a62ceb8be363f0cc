"""What sentence meaning costs: per question against the words-only pipeline in the same run,
the time to embed a corpus's sentences, and the memory the model takes.

    python3 benchmarks/bench_semantic.py [--repeat 3]

Ratios are what to compare between machines; wall-clock numbers vary with the machine.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from timing import interleaved  # noqa: E402

from qa_service import semantic  # noqa: E402
from qa_service.config import Settings  # noqa: E402
from qa_service.evaluate import load_squad  # noqa: E402
from qa_service.ingest import load_corpus, load_questions  # noqa: E402
from qa_service.pipeline import build_encoder, build_pipeline  # noqa: E402


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    before = _rss_mib()
    started = time.perf_counter()
    encoder = build_encoder(Settings())
    if encoder is None:
        sys.exit("the sentence encoder could not be loaded; see the warning above")
    print(f"model load (sha256 checks + onnxruntime session): {time.perf_counter() - started:.2f} s, "
          f"peak RSS {before:.0f} -> {_rss_mib():.0f} MiB")

    corpus = load_corpus(ROOT / "corpus")
    questions = [q.question for q in load_questions(ROOT / "corpus" / "questions.jsonl")]
    lexical = build_pipeline(Settings(semantic=False), corpus)
    hybrid = build_pipeline(Settings(learned=False), corpus)
    learned = build_pipeline(Settings(extractive=False), corpus)
    extractive = build_pipeline(Settings(), corpus)
    stock = build_pipeline(Settings(encoder="stock"), corpus)
    ms = interleaved({"lexical": lexical.ask, "hybrid": hybrid.ask, "learned": learned.ask,
                      "extractive": extractive.ask, "stock": stock.ask}, questions, args.repeat)
    print(f"bundled article, {len(questions)} questions: words only {ms['lexical']:.2f} ms, "
          f"+ meaning (hand-weighted) {ms['hybrid']:.2f} ms, ratio {ms['hybrid'] / ms['lexical']:.1f}x; "
          f"+ learned chooser and decider {ms['learned']:.2f} ms, "
          f"{ms['learned'] / ms['hybrid']:.2f}x the hand-weighted; + the extractive reader (the default) "
          f"{ms['extractive']:.2f} ms, {ms['extractive'] / ms['learned']:.2f}x without it, "
          f"{ms['extractive'] / ms['lexical']:.1f}x words only; the default with the stock encoder "
          f"{ms['stock']:.2f} ms ({ms['extractive'] / ms['stock']:.2f}x)")

    squad, squad_questions = load_squad(ROOT / "corpus" / "squad-expmrc" / "expmrc-squad-dev.json")
    texts, _ = semantic.sentence_texts(squad.passages)
    for name in ("stock", "squad"):
        model = build_encoder(Settings(encoder=name))
        semantic._SEEN.clear()  # measure the embedding itself, not the in-process cache
        started = time.perf_counter()
        vectors = semantic.load_or_build(squad.passages, model, show_progress=False)
        took = time.perf_counter() - started
        print(f"embedding the {len(squad.passages)} ExpMRC paragraphs ({len(texts)} sentences) with the {name} "
              f"encoder: {took:.1f} s, {vectors.matrix.nbytes / 1024 / 1024:.1f} MiB of vectors; "
              f"peak RSS now {_rss_mib():.0f} MiB")
    sample = [q.question for q in squad_questions[:100]]
    ms = interleaved({"lexical": build_pipeline(Settings(semantic=False), squad).ask,
                      "hybrid": build_pipeline(Settings(learned=False), squad).ask,
                      "learned": build_pipeline(Settings(extractive=False), squad).ask,
                      "extractive": build_pipeline(Settings(), squad).ask,
                      "stock": build_pipeline(Settings(encoder="stock"), squad).ask}, sample, args.repeat)
    print(f"ExpMRC global pool, {len(sample)} questions: words only {ms['lexical']:.2f} ms, "
          f"+ meaning (hand-weighted) {ms['hybrid']:.2f} ms, ratio {ms['hybrid'] / ms['lexical']:.1f}x; "
          f"+ learned {ms['learned']:.2f} ms, {ms['learned'] / ms['hybrid']:.2f}x the hand-weighted; "
          f"+ the extractive reader {ms['extractive']:.2f} ms, {ms['extractive'] / ms['learned']:.2f}x without it; "
          f"the default with the stock encoder {ms['stock']:.2f} ms ({ms['extractive'] / ms['stock']:.2f}x)")


if __name__ == "__main__":
    main()
