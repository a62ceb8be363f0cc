"""Evaluation: question sets, retrieval and answer metrics, reports.

Two kinds of question set:
- ours (``corpus/questions.jsonl``): gold answers are short strings found in the article, so a
  passage is relevant when it contains one; it survives any change of passage splitting.
- SQuAD v1.1/v2.0 JSON: each article a document, each paragraph a passage; the gold passage is
  the paragraph a question came from.

Either is asked through a :class:`Asker` (the pipeline in-process, or a server over HTTP) and
scored by the same metric functions. A rank-bm25 baseline with whitespace tokens runs on the
same passages for comparison.
"""

from __future__ import annotations

import html
import itertools
from collections import Counter
import json
import math
import re
import time
import unicodedata
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence

from rank_bm25 import BM25Okapi

from . import contract
from .config import Settings, load_settings
from .errors import EvalError
from .ingest import load_corpus, load_questions, split_passages
from .pipeline import Pipeline, build_encoder, build_pipeline
from .text import slugify
from .values import Answer, Corpus, Document, Passage, Question

__all__ = [
    "Outcome",
    "Report",
    "evaluate",
    "load_questions",
    "load_squad",
    "mrr_at",
    "ndcg_at",
]

KS_DEFAULT = (1, 3, 5, 10)


@dataclass(frozen=True)
class Outcome:
    """What the system returned for one question, and how it scored."""

    question: Question
    passage_ids: tuple[str, ...]
    relevance: tuple[bool, ...]  # per returned passage: does it hold a gold answer / is it the gold one
    answer: str | None
    answer_passage: str | None
    latency_ms: float
    first_hit: int | None  # 1-based rank of the first relevant passage in the top 10, if any
    relevant_total: int
    answer_correct: bool
    evidence_match: bool
    error: str = ""
    span: str | None = None  # the exact answer inside the sentence, when one was found
    confidence: float | None = None  # the decider's probability that the answer is right, when it has one


# ---------------------------------------------------------------- loading question sets


def _norm(text: str) -> str:
    """Compare answers loosely: case, accents, quotes and white space don't matter."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.translate(str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"}))
    return " ".join(text.split())


def contains_answer(text: str | None, answers: Iterable[str]) -> bool:
    if not text:
        return False
    norm = _norm(text)
    return any(_norm(a) in norm for a in answers if a.strip())


def _expect(value: Any, where: str, kind: type, said: str) -> None:
    if not isinstance(value, kind):
        raise EvalError(f"{where} must be {said} (not SQuAD JSON)")


def load_squad(path: Path) -> tuple[Corpus, list[Question]]:
    """SQuAD v1.1/v2.0 JSON as a corpus (article = document, paragraph = passage) and questions."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalError(f"{path}: file not found") from None
    except OSError as exc:
        raise EvalError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvalError(f"{path}: not SQuAD JSON ({exc})") from None
    except RecursionError:
        raise EvalError(f"{path}: not SQuAD JSON (nested too deeply)") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise EvalError(f"{path}: not SQuAD JSON (no 'data' list)")
    documents, passages, questions = [], [], []
    try:
        for n, article in enumerate(data["data"], start=1):
            where = f"{path}: article {n}"
            _expect(article, where, dict, "an object")
            _expect(article.get("title"), f"{where}: 'title'", str, "a string")
            _expect(article.get("paragraphs"), f"{where}: 'paragraphs'", list, "a list")
            slug = slugify(article["title"], "article")
            text, doc_passages = "", []
            for number, paragraph in enumerate(article["paragraphs"], start=1):
                _expect(paragraph, f"{where}, paragraph {number}", dict, "an object")
                _expect(paragraph.get("context"), f"{where}, paragraph {number}: 'context'", str, "a string")
                _expect(paragraph.get("qas"), f"{where}, paragraph {number}: 'qas'", list, "a list")
                start = len(text) + (2 if text else 0)
                text = f"{text}\n\n{paragraph['context']}" if text else paragraph["context"]
                passage = Passage(f"{slug}-p{number:03d}", slug, number, start, len(text), paragraph["context"])
                doc_passages.append(passage)
                for qa in paragraph["qas"]:
                    impossible = bool(qa.get("is_impossible"))
                    answers = () if impossible else tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                    questions.append(Question(
                        id=str(qa["id"]), question=qa["question"], answers=answers,
                        type="unanswerable" if impossible else "fact",
                        gold_passages=() if impossible else (passage.id,),
                        evidences=tuple(qa.get("evidences", ())), pool=slug,
                    ))
            documents.append(Document(slug, article["title"].replace("_", " "), path.name, "", text))
            passages.extend(doc_passages)
    except (KeyError, TypeError, AttributeError) as exc:
        raise EvalError(f"{path}: not SQuAD JSON ({type(exc).__name__}: {exc})") from None
    if not questions:
        raise EvalError(f"{path}: no questions")
    return Corpus(tuple(documents), tuple(passages)), questions


# ---------------------------------------------------------------- metrics


def mrr_at(first_hits: Sequence[int | None], k: int = 10) -> float:
    """Mean reciprocal rank of the first relevant passage, 0 when none is in the top k."""
    if not first_hits:
        return 0.0
    return sum(1 / r for r in first_hits if r is not None and r <= k) / len(first_hits)


def ndcg_at(relevance: Sequence[Sequence[bool]], relevant_totals: Sequence[int], k: int = 10) -> float:
    """Mean nDCG@k with binary relevance; the ideal ranking puts all relevant passages first."""
    scores = []
    for rels, total in zip(relevance, relevant_totals):
        dcg = sum(1 / math.log2(i + 2) for i, rel in enumerate(rels[:k]) if rel)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(total, k)))
        scores.append(dcg / ideal if ideal else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


# ---------------------------------------------------------------- askers


class Asker(Protocol):
    def __call__(self, q: Question, top_k: int) -> tuple[list[tuple[str, str]], str | None, str | None,
                                                         str | None, float | None]:
        """([(passage id, passage text)], answer text or None, its passage id or None, its span or
        None, its confidence or None)."""
        ...


def _summary(a: Answer) -> tuple[list[tuple[str, str]], str | None, str | None, str | None, float | None]:
    passages = [(r.hit.passage.id, r.hit.passage.text) for r in a.passages]
    short = a.answer
    return (passages, (short.text if short else None), (short.passage_id if short else None),
            (short.span.text if short and short.span else None), a.confidence)


def pipeline_asker(pipelines: dict[str, Pipeline] | Pipeline) -> Asker:
    def ask(q: Question, top_k: int):
        pipeline = pipelines if isinstance(pipelines, Pipeline) else pipelines[q.pool]
        return _summary(pipeline.ask(q.question, history=q.history, top_k=top_k))

    return ask


def http_asker(url: str, timeout: float = 30.0) -> Asker:
    endpoint = url.rstrip("/") + "/api/ask"

    def ask(q: Question, top_k: int):
        body = json.dumps({"question": q.question, "history": list(q.history), "top_k": top_k}).encode()
        request = urllib.request.Request(endpoint, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                data = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise EvalError(f"{endpoint}: HTTP {exc.code} for question {q.id}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise EvalError(f"{endpoint}: cannot reach the server ({getattr(exc, 'reason', exc)})") from None
        except ValueError:
            raise EvalError(f"{endpoint}: the answer is not JSON") from None
        try:
            return _summary(contract.answer_from_json(data))
        except ValueError:
            raise EvalError(f"{endpoint}: the answer does not have the API's shape") from None

    return ask


def baseline_asker(corpus: Corpus, per_document: bool) -> Asker:
    """rank-bm25's README usage: BM25Okapi over lowercase whitespace tokens; no answer sentence."""
    pools: dict[str, tuple[list[Passage], BM25Okapi]] = {}
    groups = itertools.groupby(corpus.passages, key=lambda p: p.document) if per_document else [("", corpus.passages)]
    for name, group in groups:
        members = list(group)
        pools[name] = (members, BM25Okapi([p.text.lower().split() for p in members]))

    def ask(q: Question, top_k: int):
        members, bm25 = pools[q.pool if per_document else ""]
        scores = bm25.get_scores(q.question.lower().split())
        order = sorted(range(len(members)), key=lambda i: (-scores[i], i))[:top_k]
        return [(members[i].id, members[i].text) for i in order], None, None, None, None

    return ask


# ---------------------------------------------------------------- running


def _relevant(q: Question, passage_id: str, text: str) -> bool:
    if q.gold_passages:
        return passage_id in q.gold_passages
    return contains_answer(text, q.answers)


def _evidence_match(answer: str | None, evidences: Sequence[str]) -> bool:
    if not answer or not evidences:
        return False
    a = _norm(answer)
    return any(_norm(e) in a or a in _norm(e) for e in evidences if e.strip())


def run_questions(questions: Sequence[Question], ask: Asker, relevant_totals: Callable[[Question], int],
                  depth: int = 10, progress: Callable[[int, int], None] | None = None) -> list[Outcome]:
    outcomes = []
    for done, q in enumerate(questions):
        if progress is not None:
            progress(done, len(questions))
        started = time.perf_counter()
        passages, answer, answer_passage, span, confidence = ask(q, depth)
        latency = (time.perf_counter() - started) * 1000
        rels = [_relevant(q, pid, text) for pid, text in passages]
        first = next((i + 1 for i, r in enumerate(rels) if r), None)
        outcomes.append(Outcome(
            question=q, passage_ids=tuple(pid for pid, _ in passages), relevance=tuple(rels),
            answer=answer, answer_passage=answer_passage,
            latency_ms=latency, first_hit=first, relevant_total=relevant_totals(q) if q.answerable else 0,
            answer_correct=q.answerable and contains_answer(answer, q.answers),
            evidence_match=_evidence_match(answer, q.evidences),
            span=span, confidence=confidence,
        ))
    if progress is not None:
        progress(len(questions), len(questions))
    return outcomes


@dataclass
class Report:
    """Metrics of one run, the failures, and the same for the baseline when there is one."""

    name: str
    metrics: dict[str, float]
    counts: dict[str, int]
    failures: list[dict[str, Any]] = field(default_factory=list)
    baseline: dict[str, float] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    by_type: dict[str, dict[str, float]] = field(default_factory=dict)
    # each stage's contribution, measured in the same run: {"lexical": {...}, "hybrid": {...}}
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    reliability: list[dict[str, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def score(outcomes: Sequence[Outcome], ks: Sequence[int], with_answers: bool = True) -> dict[str, float]:
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    followups = [o for o in answerable if o.question.type == "followup"]
    m: dict[str, float] = {}
    for k in ks:
        m[f"hit@{k}"] = _mean(o.first_hit is not None and o.first_hit <= k for o in answerable)
    m["mrr@10"] = mrr_at([o.first_hit for o in answerable], 10)
    m["ndcg@10"] = ndcg_at([o.relevance for o in answerable], [o.relevant_total for o in answerable], 10)
    if with_answers:
        m["short_answer"] = _mean(o.answer_correct for o in answerable)
        if any(o.question.evidences for o in answerable):
            m["evidence"] = _mean(o.evidence_match for o in answerable)
        abstained = [o for o in outcomes if o.answer is None]
        if unanswerable:
            m["abstain_precision"] = _mean(not o.question.answerable for o in abstained) if abstained else 1.0
            m["abstain_recall"] = _mean(o.answer is None for o in unanswerable)
        m["false_abstentions"] = float(sum(o.answer is None for o in answerable))
        if unanswerable and answerable:
            m["false_abstention_rate"] = m["false_abstentions"] / len(answerable)
        if followups:
            m["followup"] = _mean(o.answer_correct for o in followups)
        # SQuAD's exact match and token F1 of the answer given: the span when there is one, else
        # the whole sentence (a refusal scores 0), against the best of the gold answers.
        given = [(o.span or o.answer or "", o.question.answers) for o in answerable]
        m["span_em"] = _mean(max(exact_match(text, gold) for gold in golds) for text, golds in given)
        m["span_f1"] = _mean(max(token_f1(text, gold) for gold in golds) for text, golds in given)
        answered = [o for o in answerable if o.answer is not None]
        m["span_found"] = _mean(o.span is not None for o in answered)
    latencies = [o.latency_ms for o in outcomes]
    m["latency_p50_ms"] = _percentile(latencies, 0.5)
    m["latency_p95_ms"] = _percentile(latencies, 0.95)
    return m


RELIABILITY_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def reliability(outcomes: Sequence[Outcome], edges: Sequence[float] = RELIABILITY_BINS) -> list[dict[str, float]]:
    """Answers given, by confidence bin: how many, their mean confidence, and how many were right
    (an answer to an unanswerable question is wrong). Empty when no answer carries a confidence."""
    given = [o for o in outcomes if o.answer is not None and o.confidence is not None]
    rows = []
    for low, high in zip(edges, edges[1:]):
        inside = [o for o in given if low <= o.confidence < high or (high == edges[-1] and o.confidence == high)]  # type: ignore[operator]
        if inside:
            rows.append({"low": low, "high": high, "answers": len(inside),
                         "confidence": _mean(o.confidence for o in inside),  # type: ignore[misc]
                         "accuracy": _mean(o.answer_correct for o in inside)})
    return rows


def _squad_tokens(text: str) -> list[str]:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(c for c in text.lower() if c not in _PUNCTUATION)
    return re.sub(r"\b(a|an|the)\b", " ", text).split()


_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def exact_match(prediction: str, gold: str) -> float:
    return float(_squad_tokens(prediction) == _squad_tokens(gold))


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD's token F1 between an answer and a gold answer."""
    pred, ref = _squad_tokens(prediction), _squad_tokens(gold)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _mean(values: Iterable[bool | float]) -> float:
    values = list(values)
    return sum(float(v) for v in values) / len(values) if values else 0.0


# ---------------------------------------------------------------- putting it together


def fetch_corpus(url: str, timeout: float = 30.0) -> Corpus:
    """The passages a running server searches, read page by page from ``GET /api/passages``."""
    passages: list[Passage] = []
    offset = 0
    while True:
        endpoint = f"{url.rstrip('/')}/api/passages?offset={offset}&limit=1000"
        try:
            with urllib.request.urlopen(endpoint, timeout=timeout) as response:
                page = json.loads(response.read().decode("utf-8"))
            batch = page["passages"]
        except (urllib.error.URLError, OSError) as exc:
            raise EvalError(f"{endpoint}: cannot reach the server ({getattr(exc, 'reason', exc)})") from None
        except (ValueError, KeyError, TypeError):
            raise EvalError(f"{endpoint}: the answer does not have the API's shape") from None
        try:
            passages.extend(Passage(p["id"], p["document"], p["index"], p["start"], p["end"], p["text"]) for p in batch)
        except (KeyError, TypeError):
            raise EvalError(f"{endpoint}: the passages do not have the API's shape") from None
        offset += len(batch)
        if not batch or offset >= page.get("total", 0):
            break
    documents = tuple(Document(d, d, "", "", "") for d in dict.fromkeys(p.document for p in passages))
    return Corpus(documents, tuple(passages))


def _pools(corpus: Corpus) -> dict[str, Corpus]:
    by_doc: dict[str, list[Passage]] = {}
    for p in corpus.passages:
        by_doc.setdefault(p.document, []).append(p)
    return {d.id: Corpus((d,), tuple(by_doc[d.id])) for d in corpus.documents if d.id in by_doc}


def _relevant_counter(corpus: Corpus, per_pool: bool) -> Callable[[Question], int]:
    def count(q: Question) -> int:
        if q.gold_passages:
            return len(q.gold_passages)
        pool = [p for p in corpus.passages if not per_pool or p.document == q.pool]
        return sum(contains_answer(p.text, q.answers) for p in pool)

    return count


def _failures(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    failures = []
    for o in outcomes:
        q = o.question
        if q.answerable and o.first_hit == 1 and o.answer_correct:
            continue
        if not q.answerable and o.answer is None:
            continue
        if not q.answerable:
            problem = "answered a question the document cannot answer"
        elif o.answer is None:
            problem = "abstained"
        elif o.first_hit != 1:
            problem = "best passage not relevant" if o.answer_correct else "missed passage and answer"
        else:
            problem = "wrong answer sentence"
        failures.append({
            "id": q.id, "type": q.type, "question": q.question, "history": list(q.history),
            "expected": list(q.answers) or None, "answer": o.answer, "answer_passage": o.answer_passage,
            "passages": list(o.passage_ids[:3]), "first_hit_rank": o.first_hit, "problem": problem,
        })
    return failures


def _by_type(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float]]:
    """hit@1, short-answer accuracy (abstention for unanswerable ones) and count per question type."""
    table: dict[str, dict[str, float]] = {}
    for qtype in dict.fromkeys(o.question.type for o in outcomes):
        group = [o for o in outcomes if o.question.type == qtype]
        if qtype == "unanswerable":
            table[qtype] = {"questions": len(group), "abstained": _mean(o.answer is None for o in group)}
        else:
            table[qtype] = {"questions": len(group), "hit@1": _mean(o.first_hit == 1 for o in group),
                            "short_answer": _mean(o.answer_correct for o in group)}
    return table


def evaluate(
    questions: Sequence[Question],
    corpus: Corpus | None = None,
    settings: Settings | None = None,
    url: str | None = None,
    per_pool: bool = False,
    ks: Sequence[int] = KS_DEFAULT,
    baseline: bool = True,
    name: str = "qa-service",
    stages: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    """Ask every question, score the outcomes, and run the baseline on the same passages. With
    ``stages`` and sentence meaning on, the words-only path runs too, so the report shows what
    meaning adds in the same run. ``progress(stage, done, total)`` is told how far each run is."""

    def told(stage: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, total: progress(stage, done, total))

    settings = settings or Settings()
    if url:
        corpus = fetch_corpus(url)
        ask = http_asker(url)
    else:
        if corpus is None:
            corpus = load_corpus(Path(settings.corpus_dir))
        if per_pool:
            ask = pipeline_asker({pid: build_pipeline(settings, pool) for pid, pool in _pools(corpus).items()})
        else:
            ask = pipeline_asker(build_pipeline(settings, corpus))
    if not per_pool:
        questions = [replace(q, pool="") for q in questions]
    depth = max(10, *ks)
    counter = _relevant_counter(corpus, per_pool)
    outcomes = run_questions(questions, ask, counter, depth, told(name))
    report = Report(
        name=name,
        metrics=score(outcomes, ks),
        counts={
            "questions": len(questions),
            "answerable": sum(q.answerable for q in questions),
            "unanswerable": sum(not q.answerable for q in questions),
            "followups": sum(q.type == "followup" for q in questions),
            "documents": len(corpus.documents),
            "passages": len(corpus.passages),
        },
        failures=_failures(outcomes),
        by_type=_by_type(outcomes),
        reliability=reliability(outcomes),
        settings={"url": url} if url else {k: (str(v) if isinstance(v, Path) else v)
                                           for k, v in asdict(settings).items() if k not in ("host", "port", "threads")},
    )
    if baseline:
        answerable = [q for q in questions if q.answerable]
        base = run_questions(answerable, baseline_asker(corpus, per_pool), counter, depth, told("baseline"))
        report.baseline = score(base, ks, with_answers=False)
    if stages and not url and settings.semantic and build_encoder(settings) is not None:
        lexical = evaluate(questions, corpus, settings.replace(semantic=False), per_pool=per_pool, ks=ks,
                           baseline=False, stages=False, name="words only", progress=progress)
        report.stages = {"lexical": {"metrics": lexical.metrics, "by_type": lexical.by_type},
                         "hybrid": {"metrics": report.metrics, "by_type": report.by_type}}
    return report


def regrouped(corpus: Corpus, passage_words: int) -> Corpus:
    """The same documents split again into passages of another size."""
    passages = [p for d in corpus.documents for p in split_passages(d.id, d.text, passage_words)]
    return Corpus(corpus.documents, tuple(passages))


def parse_grid(specs: Sequence[str]) -> list[dict[str, str]]:
    """``["k1=1.2,1.5", "b=0.75"]`` -> every combination as settings overrides (checked)."""
    axes = []
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        options = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not options:
            raise EvalError(f"--grid {spec!r}: expected NAME=VALUE[,VALUE...]")
        axes.append([(name, v) for v in options])
    combos = [dict(c) for c in itertools.product(*axes)]
    for combo in combos:
        load_settings(combo, env={})  # raises SettingsError naming a bad one
    return combos


# ---------------------------------------------------------------- output


_PERCENT = ("hit@", "mrr", "ndcg", "short_answer", "abstain", "followup", "evidence")


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    if name.startswith("latency"):
        return f"{value:.2f} ms"
    if name == "false_abstentions":
        return f"{value:.0f}"
    return f"{value:.3f}"


def format_report(report: Report, failures: int = 50) -> str:
    c = report.counts
    lines = [
        f"{report.name}: {c['questions']} questions ({c['answerable']} answerable, {c['unanswerable']} unanswerable, "
        f"{c['followups']} follow-ups) over {c['passages']} passages in {c['documents']} document(s)",
        "",
        f"{'metric':<20}{'ours':>12}{'baseline':>12}",
    ]
    for metric, value in report.metrics.items():
        base = report.baseline.get(metric) if report.baseline else None
        lines.append(f"{metric:<20}{_fmt(metric, value):>12}{_fmt(metric, base):>12}")
    if report.baseline is not None:
        lines.append("baseline: rank-bm25 BM25Okapi, lowercase whitespace tokens, same passages")
    if len(report.by_type) > 1:
        lines.append("")
        lines.append(f"{'by type':<20}{'questions':>12}{'hit@1':>12}{'short':>12}{'abstained':>12}")
        for qtype, row in report.by_type.items():
            cells = [f"{row['questions']:.0f}"] + [f"{row[k]:.3f}" if k in row else "-"
                                                   for k in ("hit@1", "short_answer", "abstained")]
            lines.append(f"{qtype:<20}" + "".join(f"{c:>12}" for c in cells))
    if report.stages:
        lines.append("")
        lines.append(_format_stages(report.stages))
    if report.reliability:
        lines.append("")
        lines.append(f"{'confidence':<20}{'answers':>12}{'mean':>12}{'right':>12}")
        for row in report.reliability:
            lines.append(f"{row['low']:.1f}-{row['high']:.1f}".ljust(20) + f"{row['answers']:>12}"
                         f"{row['confidence']:>12.3f}{row['accuracy']:>12.3f}")
    lines.append("")
    lines.append(f"failures: {len(report.failures)}")
    for f in report.failures[:failures]:
        turns = " / ".join(f["history"] + [f["question"]])
        lines.append(f"  {f['id']} [{f['type']}] {turns}")
        expected = " | ".join(f["expected"]) if f["expected"] else "(no answer in the document)"
        got = f["answer"] if f["answer"] is not None else "(abstained)"
        rank = f["first_hit_rank"] if f["first_hit_rank"] is not None else "none in top 10"
        lines.append(f"      {f['problem']}; expected: {expected}; first relevant passage: {rank}")
        lines.append(f"      got: {_clip(got, 160)}")
    if len(report.failures) > failures:
        lines.append(f"  ... and {len(report.failures) - failures} more (see --json)")
    lines.append("")
    lines.append("summary: " + " ".join(f"{m}={_fmt(m, v).replace(' ', '')}" for m, v in report.metrics.items()))
    return "\n".join(lines)


def _format_stages(stages: dict[str, dict[str, Any]]) -> str:
    """Words only against words + meaning, overall and by type, from the same run."""
    lexical, hybrid = stages["lexical"], stages["hybrid"]
    lines = [f"{'stages':<26}{'words only':>12}{'+ meaning':>12}"]
    for metric in ("hit@1", "hit@3", "mrr@10", "short_answer", "span_f1", "abstain_recall", "false_abstentions",
                   "followup"):
        if metric in hybrid["metrics"]:
            lines.append(f"{metric:<26}{_fmt(metric, lexical['metrics'].get(metric)):>12}"
                         f"{_fmt(metric, hybrid['metrics'][metric]):>12}")
    for qtype, row in hybrid["by_type"].items():
        if "hit@1" in row:
            before = lexical["by_type"].get(qtype, {})
            lines.append(f"{qtype + ' hit@1/short':<26}"
                         f"{_fmt('hit@1', before.get('hit@1')) + '/' + _fmt('short', before.get('short_answer')):>12}"
                         f"{_fmt('hit@1', row['hit@1']) + '/' + _fmt('short', row['short_answer']):>12}")
    return "\n".join(lines)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def check_floors(report: Report, floors: Sequence[str]) -> list[str]:
    """``["hit@1=0.85"]`` -> the broken floors, each as a sentence; EvalError for a bad spec."""
    broken = []
    for spec in floors:
        name, sep, value = spec.partition("=")
        try:
            floor = float(value)
        except ValueError:
            raise EvalError(f"--fail-under {spec!r}: expected METRIC=NUMBER") from None
        if not sep or name not in report.metrics:
            known = ", ".join(m for m in report.metrics if not m.startswith(("latency", "false")))
            raise EvalError(f"--fail-under {spec!r}: unknown metric; known: {known}")
        if report.metrics[name] < floor:
            broken.append(f"{name} = {report.metrics[name]:.3f} is below {floor}")
    return broken


def format_grid(rows: Sequence[tuple[dict[str, str], Report]], ks: Sequence[int]) -> str:
    keys = [f"hit@{k}" for k in ks] + ["mrr@10", "ndcg@10", "short_answer", "abstain_recall", "false_abstentions",
                                        "followup"]
    keys = [k for k in keys if k in rows[0][1].metrics]
    ranked = sorted(rows, key=lambda r: (-r[1].metrics.get("hit@1", 0), -r[1].metrics.get("mrr@10", 0)))
    width = max(len(_combo(c)) for c, _ in ranked) + 2
    cols = [max(len(k) + 2, 10) for k in keys]
    lines = [f"{'settings':<{width}}" + "".join(f"{k:>{c}}" for k, c in zip(keys, cols))]
    for combo, report in ranked:
        lines.append(f"{_combo(combo):<{width}}"
                     + "".join(f"{_fmt(k, report.metrics[k]):>{c}}" for k, c in zip(keys, cols)))
    return "\n".join(lines)


def _combo(combo: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in combo.items()) or "(defaults)"


def html_report(report: Report) -> str:
    """One self-contained page: metrics, an inline SVG chart against the baseline, the failures."""
    e = html.escape
    chart_metrics = [m for m in report.metrics if m.startswith("hit@") or m == "mrr@10"]
    bar_w, gap, height = 28, 26, 200
    width = len(chart_metrics) * (2 * bar_w + gap) + 60
    bars = []
    for i, m in enumerate(chart_metrics):
        x = 40 + i * (2 * bar_w + gap)
        for j, (value, colour, who) in enumerate(
            ((report.metrics[m], "#1d4ed8", "ours"),
             ((report.baseline or {}).get(m), "#9ca3af", "baseline"))):
            if value is None:
                continue
            h = value * height
            bars.append(f'<rect x="{x + j * bar_w}" y="{20 + height - h:.1f}" width="{bar_w - 4}" height="{h:.1f}" '
                        f'fill="{colour}"><title>{e(m)} {who}: {value:.3f}</title></rect>'
                        f'<text x="{x + j * bar_w + (bar_w - 4) / 2}" y="{14 + height - h:.1f}" font-size="10" '
                        f'text-anchor="middle">{value:.2f}</text>')
        bars.append(f'<text x="{x + bar_w}" y="{height + 36}" font-size="12" text-anchor="middle">{e(m)}</text>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 70}" role="img" '
           f'aria-label="hit@k and MRR, ours against the baseline">'
           f'<line x1="36" y1="{20 + height}" x2="{width}" y2="{20 + height}" stroke="#111"/>{"".join(bars)}'
           f'<rect x="40" y="{height + 48}" width="12" height="12" fill="#1d4ed8"/>'
           f'<text x="58" y="{height + 58}" font-size="12">qa-service</text>'
           f'<rect x="150" y="{height + 48}" width="12" height="12" fill="#9ca3af"/>'
           f'<text x="168" y="{height + 58}" font-size="12">baseline (rank-bm25, whitespace tokens)</text></svg>')
    rows = "".join(
        f"<tr><th scope='row'>{e(m)}</th><td>{e(_fmt(m, v))}</td>"
        f"<td>{e(_fmt(m, (report.baseline or {}).get(m)))}</td></tr>"
        for m, v in report.metrics.items())
    fails = "".join(
        f"<tr><td>{e(f['id'])}</td><td>{e(' / '.join(f['history'] + [f['question']]))}</td>"
        f"<td>{e(' | '.join(f['expected'] or ['(not in the document)']))}</td>"
        f"<td>{e(f['answer'] or '(abstained)')}</td><td>{e(str(f['first_hit_rank'] or '-'))}</td>"
        f"<td>{e(f['problem'])}</td></tr>"
        for f in report.failures)
    c = report.counts
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(report.name)} evaluation</title>
<style>
body{{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;color:#111}}
table{{border-collapse:collapse;margin:1rem 0}}th,td{{border:1px solid #d1d5db;padding:.3rem .6rem;text-align:left;
vertical-align:top}}thead th{{background:#f3f4f6}}td:nth-child(2){{max-width:28rem}}
</style></head><body>
<h1>{e(report.name)} evaluation</h1>
<p>{c['questions']} questions ({c['answerable']} answerable, {c['unanswerable']} unanswerable,
{c['followups']} follow-ups) over {c['passages']} passages in {c['documents']} document(s).</p>
<h2>Metrics</h2>
<table><thead><tr><th>metric</th><th>qa-service</th><th>baseline</th></tr></thead><tbody>{rows}</tbody></table>
{svg}
<h2>Failures ({len(report.failures)})</h2>
<table><thead><tr><th>id</th><th>question</th><th>expected</th><th>answer</th><th>first relevant rank</th>
<th>problem</th></tr></thead><tbody>{fails}</tbody></table>
</body></html>
"""
