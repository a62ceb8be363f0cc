"""What a follow-up costs, as a ratio against a stand-alone question in the same run.

    python3 benchmarks/bench_followup.py [--repeat 5]

For every question of a set, the pipeline answers it alone, then answers a follow-up asked
after it ("And when was that?"...) in the two forms the API takes: with the earlier exchange's
answer sent back (what the chat page sends), and with the earlier question only (the answer is
then worked out once more on the way). The analysis of a quoted answer is kept between
requests; the headline figure clears it first, as for the first follow-up on a new answer. The ratio is follow-up time / stand-alone time; the
goal for the exchange form is at most 1.5. Wall-clock numbers vary with the machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from timing import interleaved  # noqa: E402

from qa_service.config import Settings  # noqa: E402
from qa_service.evaluate import load_squad  # noqa: E402
from qa_service.ingest import load_corpus, load_questions  # noqa: E402
from qa_service.pipeline import Pipeline, build_pipeline  # noqa: E402
from qa_service.values import Exchange  # noqa: E402

FOLLOW_UPS = ("And when was that?", "Why did they do that?", "What happened after that?", "And where was it?")


def bench(name: str, pipeline: Pipeline, questions: list[str], repeat: int) -> float:
    pipeline.warm_up()
    firsts = {q: pipeline.answer(q) for q in questions}
    pairs = [(q, FOLLOW_UPS[i % len(FOLLOW_UPS)]) for i, q in enumerate(questions)]
    sent = {q: Exchange(q, a.answer.text, a.answer.passage_id, a.answer.start, True) if a.answer
            else Exchange(q, None, answered=True) for q, a in firsts.items()}
    leaning = sum(pipeline.answer(f, [sent[q]]).follow_up for q, f in pairs)
    quoted = pipeline.analyser._quoted_cache  # the analysis of quoted answers kept between requests

    def cold(p: tuple[str, str]) -> object:
        quoted.clear()  # the first follow-up on an answer: nothing kept from an earlier one
        return pipeline.answer(p[1], [sent[p[0]]])

    ms = interleaved({
        "alone": lambda p: pipeline.answer(p[0]),
        "exchange": cold,
        "again": lambda p: pipeline.answer(p[1], [sent[p[0]]]),
        "question_only": lambda p: (quoted.clear(), pipeline.answer(p[1], [Exchange(p[0])])),
    }, pairs, repeat)
    base = ms["alone"]
    print(f"{name}: {len(pipeline.corpus.passages)} passages, {len(questions)} questions "
          f"({leaning} follow-ups read as such)")
    print(f"  stand-alone question          {base:7.3f} ms")
    print(f"  follow-up, answer sent back   {ms['exchange']:7.3f} ms   ratio {ms['exchange'] / base:5.2f}x"
          "  (goal <= 1.5x)")
    print(f"  another follow-up on it       {ms['again']:7.3f} ms   ratio {ms['again'] / base:5.2f}x"
          "  (its analysis kept)")
    print(f"  follow-up, question only      {ms['question_only']:7.3f} ms   ratio {ms['question_only'] / base:5.2f}x")
    return ms["exchange"] / base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--questions", type=int, default=501, help="how many SQuAD questions (all 501 by default)")
    args = parser.parse_args()
    corpus = load_corpus(ROOT / "corpus")
    own = [q.question for q in load_questions(ROOT / "corpus" / "questions.jsonl") if not q.history]
    squad_corpus, squad_questions = load_squad(ROOT / "corpus" / "squad-expmrc" / "expmrc-squad-dev.json")
    for label, settings in (("words only", Settings(semantic=False)), ("words + meaning", Settings())):
        bench(f"bundled article, {label}", build_pipeline(settings, corpus), own, args.repeat)
        bench(f"SQuAD articles, global pool, {label}", build_pipeline(settings, squad_corpus),
              [q.question for q in squad_questions][: args.questions], args.repeat)


if __name__ == "__main__":
    main()
