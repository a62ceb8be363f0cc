"""From one article to a million passages: index time, start-up, memory and per-question time at
1k / 10k / 100k passages (1M with --million), against rank-bm25, bm25s, tantivy and SQLite FTS5 on
the same passages and terms, plus the bundled article against the previous index, in one run.

    python3 benchmarks/scale.py                       # 1k, 10k, 100k; about 10 minutes on 2 cores
    python3 benchmarks/scale.py --sizes 1000 --questions 50   # a quick look
    python3 benchmarks/scale.py --million             # adds 1M (about 25 minutes, ~6 GiB of disk in --work)

tantivy and bm25s are not among the project's dependencies: `pip install tantivy bm25s` first, or
their columns say skipped. `index` runs with its default workers (one per core).

The corpus is generated (seeded): real SQuAD sentences (corpus/squad-expmrc) with content words
swapped for made-up ones drawn from a Zipf law, so the vocabulary keeps growing with the corpus
as real text does. Questions are 3-8 words taken from random passages. Each measured thing runs in
its own process (peak RSS is that process's own). rank-bm25 is skipped once its estimated time
passes --budget seconds, and says so. Wall-clock figures vary with the machine and its load;
ratios in one run are what compare.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # (a process timing main's code puts main's package first, and this after it)
    sys.path.insert(0, str(ROOT))

SQUAD = ROOT / "corpus" / "squad-expmrc" / "expmrc-squad-dev.json"
PARAGRAPHS_PER_FILE = 20
_WORD = re.compile(r"[A-Za-z]{4,}")
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def _made_up(rank: int) -> str:
    """A pronounceable word for a Zipf rank: the same rank is always the same word."""
    parts = []
    rank += len(_SYLLABLES) ** 2  # at least three syllables: never an English word's stem
    while rank:
        rank, digit = divmod(rank, len(_SYLLABLES))
        parts.append(_SYLLABLES[digit])
    return "".join(parts)


def generate(folder: Path, passages: int, seed: int) -> None:
    """Source files of about ``passages`` paragraphs of 2-3 SQuAD sentences, content words swapped."""
    from qa_service.text import STOPWORDS, sentence_spans

    marker = folder / ".generated.json"
    wanted = {"passages": passages, "seed": seed, "version": 1}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    data = json.loads(SQUAD.read_text(encoding="utf-8"))
    sentences = [c["context"][a:b] for article in data["data"] for c in article["paragraphs"]
                 for a, b in sentence_spans(c["context"])]
    sentences = [s for s in sentences if 8 <= len(s.split()) <= 40]
    rng = random.Random(seed)
    import numpy as np

    zipf = np.random.default_rng(seed)

    def swap(sentence: str, ranks: list[int]) -> str:
        out, last, n = [], 0, 0
        for m in _WORD.finditer(sentence):
            if m.group().lower() in STOPWORDS or rng.random() < 0.5:
                continue
            word = _made_up(ranks[n % len(ranks)])
            n += 1
            out.append(sentence[last : m.start()])
            out.append(word.capitalize() if m.group()[0].isupper() else word)
            last = m.end()
        out.append(sentence[last:])
        return "".join(out)

    files = math.ceil(passages / PARAGRAPHS_PER_FILE)
    written = 0
    for f in range(files):
        paragraphs = []
        for _ in range(min(PARAGRAPHS_PER_FILE, passages - written)):
            ranks = (zipf.zipf(1.3, 24) - 1).tolist()
            chosen = rng.sample(sentences, rng.choice((2, 3)))
            paragraphs.append(" ".join(swap(s, ranks) for s in chosen))
            written += 1
        title = f"Report {f + 1} on {_made_up(f).capitalize()}"
        (folder / f"doc-{f:07d}.txt").write_text(title + "\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    marker.write_text(json.dumps(wanted))


# ---------------------------------------------------------------- measured in child processes


def _child(code: str, *args: str) -> dict:
    """Run ``code`` (a function in this file) in a fresh interpreter; its JSON result, with its peak RSS."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", code, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{code} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - started
    return result


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_index(src: str, out: str) -> dict:
    from qa_service.cli import main

    started = time.perf_counter()
    code = main(["index", src, "--out", out, "--semantic", "false"])
    return {"code": code, "index_s": time.perf_counter() - started, "rss_mib": _rss_mib()}


def _questions(pipeline, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    passages = pipeline.index.passages
    while len(out) < count:
        p = passages[rng.randrange(len(passages))]
        words = [w for w in re.findall(r"[A-Za-z]{3,}", p.text)]
        if len(words) < 8:
            continue
        n = rng.randint(3, 8)
        out.append(" ".join(rng.sample(words, n)) + "?")
    return out


def _percentiles(ms: list[float]) -> dict:
    ordered = sorted(ms)
    return {"p50": statistics.median(ordered), "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]}


def child_serve(corpus: str, questions: str, seed: str) -> dict:
    """What `serve` does before its first answer (load the corpus, the saved index), then questions in process."""
    from qa_service.config import Settings
    from qa_service.pipeline import build_pipeline

    started = time.perf_counter()
    pipeline = build_pipeline(Settings().replace(corpus=corpus, semantic=False))
    pipeline.warm_up()
    startup = time.perf_counter() - started
    rss_loaded = _rss_mib()
    asked = _questions(pipeline, int(questions), int(seed))
    queries = [pipeline.analyse(q) for q in asked]
    retrieval, answer = [], []
    for query in queries:  # warm: a first pass touches the mapped pages a question needs
        pipeline.index.search(query, 10)
    for query in queries:
        t = time.perf_counter()
        pipeline.index.search(query, 10)
        retrieval.append((time.perf_counter() - t) * 1000)
    for q in asked:
        t = time.perf_counter()
        pipeline.ask(q)
        answer.append((time.perf_counter() - t) * 1000)
    terms = [[t for t in pipeline.index.tokenizer.terms(q)] for q in asked]
    Path(corpus, ".bench-questions.json").write_text(json.dumps({"questions": asked, "terms": terms}))
    rss = _rss_mib()  # before git main's retriever joins this process
    # git main's retriever over the same arrays, interleaved with ours, taking turns at going first
    # (the second finds the postings in the CPU's caches): the machine's load falls on both alike
    previous, pair = _main_index(pipeline), {"this": [], "main": []}
    if previous is not None:
        for query in queries:
            previous.search(query, 10)
        for i, query in enumerate(queries):
            for name in (("this", "main") if i % 2 else ("main", "this")):
                t = time.perf_counter()
                (pipeline.index if name == "this" else previous).search(query, 10)
                pair[name].append((time.perf_counter() - t) * 1000)
    return {"startup_s": startup, "rss_loaded_mib": rss_loaded, "rss_mib": rss,
            "passages": len(pipeline.index), "terms": len(pipeline.index.data.terms),
            "retrieval_ms": _percentiles(retrieval), "answer_ms": _percentiles(answer),
            "retrieval_pair_ms": {name: _percentiles(ms) for name, ms in pair.items()} if pair["main"] else None}


def _main_index(pipeline):  # noqa: ANN001, ANN202
    """git main's ``Index`` (its index.py loaded beside ours) over this pipeline's arrays, or None
    when main's is this one: retrieval before and after, timed in one process."""
    import importlib.util

    from qa_service.config import Settings

    try:
        source = subprocess.run(["git", "-C", str(ROOT), "show", "main:qa_service/index.py"], capture_output=True,
                                text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    if source == (ROOT / "qa_service" / "index.py").read_text(encoding="utf-8"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "main_index.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("qa_service._main_index", path)
        old = importlib.util.module_from_spec(spec)
        old.__package__ = "qa_service"
        sys.modules["qa_service._main_index"] = old
        spec.loader.exec_module(old)
    s, index = Settings(), pipeline.index
    return old.Index(index.passages, index.tokenizer, scorer=s.scorer, k1=s.k1, b=s.b, delta=s.delta, data=index.data)


def _docs_and_queries(corpus: str) -> tuple[list[list[str]], list[list[str]], object]:
    """Every passage's terms (from the saved index, as ids) and the questions' terms: the same
    terms for every engine."""
    import numpy as np

    from qa_service.index import INDEX_DIR

    meta = json.loads(Path(corpus, INDEX_DIR, "meta.json").read_text())
    where = Path(corpus, INDEX_DIR)
    offsets = np.load(where / "tokens_offsets.npy")
    term = np.load(where / "tokens_term.npy")
    terms = json.loads((where / "terms.json").read_text())
    names = [f"t{i}" for i in range(len(terms))]
    docs = [[names[t] for t in term[offsets[p] : offsets[p + 1]].tolist()] for p in range(meta["passages"])]
    asked = json.loads(Path(corpus, ".bench-questions.json").read_text())
    ids = {t: f"t{i}" for i, t in enumerate(terms)}
    queries = [[ids.get(t, "unknownterm") for t in q] for q in asked["terms"]]
    return docs, queries, terms


def child_engine(corpus: str, engine: str, budget: str) -> dict:
    import numpy as np

    docs, queries, _ = _docs_and_queries(corpus)
    rss_docs = _rss_mib()
    started = time.perf_counter()
    if engine == "rank-bm25":
        from rank_bm25 import BM25Plus

        model = BM25Plus(docs)

        def search(q):
            scores = model.get_scores(q)
            return np.argsort(-scores, kind="stable")[:10]
    elif engine == "bm25s":
        import bm25s

        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(t, len(vocab)) for t in d] for d in docs]
        model = bm25s.BM25(method="bm25+", k1=1.5, b=0.75, delta=1.0, dtype="float64")
        model.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)

        def search(q):
            known = [vocab[t] for t in q if t in vocab]
            if not known:
                return []
            return model.retrieve([known], k=10, show_progress=False, n_threads=1)
    elif engine == "tantivy":
        import tantivy

        schema_builder = tantivy.SchemaBuilder()
        schema_builder.add_text_field("body", stored=False, tokenizer_name="whitespace", index_option="freq")
        schema = schema_builder.build()
        index = tantivy.Index(schema)
        writer = index.writer(heap_size=200_000_000, num_threads=1)
        for d in docs:
            writer.add_document(tantivy.Document(body=" ".join(d)))
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        searcher = index.searcher()

        def search(q):
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", t)) for t in q])
            return searcher.search(query, 10).hits
    elif engine == "sqlite-fts5":
        import sqlite3

        db = sqlite3.connect(":memory:")
        db.execute("CREATE VIRTUAL TABLE p USING fts5(body, tokenize='unicode61')")
        db.executemany("INSERT INTO p(rowid, body) VALUES (?, ?)", ((i, " ".join(d)) for i, d in enumerate(docs)))
        db.commit()

        def search(q):
            match = " OR ".join(f'"{t}"' for t in q)
            return db.execute("SELECT rowid FROM p WHERE p MATCH ? ORDER BY bm25(p) LIMIT 10", (match,)).fetchall()
    else:
        raise SystemExit(f"unknown engine {engine}")
    build = time.perf_counter() - started
    del docs
    times: list[float] = []
    spent, limit = 0.0, float(budget)
    queries = [q for q in queries if q]
    for q in queries:  # warm-up pass on the first few
        search(q)
        if len(times) > 2:
            break
        t = time.perf_counter()
        search(q)
        times.append((time.perf_counter() - t) * 1000)
    times = []
    for q in queries:
        t = time.perf_counter()
        search(q)
        times.append((time.perf_counter() - t) * 1000)
        spent += times[-1] / 1000
        if spent > limit:
            break
    return {"build_s": build, "rss_mib": _rss_mib(), "rss_docs_mib": rss_docs, "questions": len(times),
            "of": len(queries), "ms": _percentiles(times)}


def child_parity(corpus: str) -> dict:
    """Our scores against rank-bm25's get_scores on the benchmark's own questions (a sample)."""
    import numpy as np
    from rank_bm25 import BM25Plus

    from qa_service.config import Settings
    from qa_service.pipeline import build_pipeline

    pipeline = build_pipeline(Settings().replace(corpus=corpus, semantic=False))
    index = pipeline.index
    own = [[t.term for t in index._passage_tokens(p)] for p in range(len(index))]
    docs = [d + index._acronyms_of(d) for d in own]  # the index's documents: a long form spelt out holds its acronym
    reference = BM25Plus(docs)
    asked = json.loads(Path(corpus, ".bench-questions.json").read_text())["terms"][:20]
    worst, same_top = 0.0, 0
    for terms in asked:
        ours, theirs = index.scores(terms), reference.get_scores(terms)
        worst = max(worst, float(np.max(np.abs(ours - theirs))))
        same_top += list(np.argsort(-ours, kind="stable")[:10]) == list(np.argsort(-theirs, kind="stable")[:10])
    return {"max_abs_diff": worst, "same_top10": same_top, "of": len(asked)}


def child_article(repeat: str) -> dict:
    """The bundled article: this index against the previous one (git main's index.py), interleaved."""
    import importlib.util

    import qa_service
    import qa_service.pipeline as pipeline_module
    from benchmarks.timing import interleaved
    from qa_service.config import Settings
    from qa_service.ingest import load_corpus, load_questions

    old_source = subprocess.run(["git", "-C", str(ROOT), "show", "main:qa_service/index.py"], capture_output=True,
                                text=True, check=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "old_index.py"
        path.write_text(old_source)
        spec = importlib.util.spec_from_file_location("qa_service._old_index", path,
                                                      submodule_search_locations=None)
        old = importlib.util.module_from_spec(spec)
        old.__package__ = "qa_service"
        sys.modules["qa_service._old_index"] = old
        spec.loader.exec_module(old)
    corpus = load_corpus(ROOT / "corpus")
    questions = load_questions(ROOT / "corpus" / "questions.jsonl")
    result = {}
    for semantic in (False, True):
        settings = Settings().replace(semantic=semantic)
        new = pipeline_module.build_pipeline(settings, corpus)
        real_index, real_load = pipeline_module.Index, pipeline_module.load_or_build_data
        pipeline_module.Index = lambda passages, tokenizer, data=None, **kw: old.Index(passages, tokenizer, **kw)
        pipeline_module.load_or_build_data = lambda *a, **k: None
        try:
            previous = pipeline_module.build_pipeline(settings, corpus)
        finally:
            pipeline_module.Index, pipeline_module.load_or_build_data = real_index, real_load
        for p in (new, previous):
            p.warm_up()
        ms = interleaved({"new": lambda q, p=new: p.ask(q.question, q.history),
                          "previous": lambda q, p=previous: p.ask(q.question, q.history)}, questions, int(repeat))
        result["meaning" if semantic else "words"] = {**ms, "ratio": ms["new"] / ms["previous"]}
    return result


def child_codebase(repeat: str) -> dict:
    """The bundled article's questions answered by whichever qa_service this process imports
    (this tree, or main's extracted beside it): per-question ms, words only and with meaning."""
    from benchmarks.timing import interleaved
    from qa_service.config import Settings
    from qa_service.ingest import load_corpus, load_questions
    from qa_service.pipeline import build_pipeline

    import qa_service

    corpus = load_corpus(ROOT / "corpus")
    questions = load_questions(ROOT / "corpus" / "questions.jsonl")
    words = build_pipeline(Settings().replace(semantic=False), corpus)
    meaning = build_pipeline(Settings(), corpus)
    for p in (words, meaning):
        p.warm_up()
    ms = interleaved({"words": lambda q: words.ask(q.question, q.history),
                      "meaning": lambda q: meaning.ask(q.question, q.history)}, questions, int(repeat))
    return {**ms, "package": str(Path(qa_service.__file__).parent.parent)}


def before_and_after(repeat: int, rounds: int = 3) -> dict:
    """The whole service on the bundled article: git main against this tree, in alternating processes."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "main", "qa_service"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        runs: dict[str, list[dict]] = {"main": [], "this": []}
        for _ in range(rounds):
            for name, path in (("main", tmp), ("this", str(ROOT))):
                done = subprocess.run([sys.executable, "-c", f"import sys; __file__ = {__file__!r}; "
                                       f"sys.path.insert(0, {path!r}); "
                                       f"sys.path.insert(1, {str(ROOT)!r}); sys.argv = ['scale', '--child', 'codebase', "
                                       f"{str(repeat)!r}]; exec(open({__file__!r}).read())"],
                                      capture_output=True, text=True, cwd=ROOT)
                if done.returncode:
                    raise SystemExit(done.stderr[-2000:])
                result = json.loads(done.stdout.strip().splitlines()[-1])
                assert Path(result["package"]).resolve() == Path(path).resolve(), result["package"]
                runs[name].append(result)
    out = {}
    for kind in ("words", "meaning"):
        before = statistics.median(r[kind] for r in runs["main"])
        after = statistics.median(r[kind] for r in runs["this"])
        out[kind] = {"main": before, "this": after, "ratio": after / before}
    return out


# ---------------------------------------------------------------- the table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--million", action="store_true", help="add 1,000,000 passages")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of questions each engine may take")
    parser.add_argument("--engines", default="rank-bm25,bm25s,tantivy,sqlite-fts5")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "qa-service-scale")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=5, help="rounds of the bundled article's questions")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(globals()[f"child_{args.child[0]}"](*args.child[1:])))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s] + ([1_000_000] if args.million else [])
    whole = before_and_after(args.repeat)
    print(f"bundled article, whole service per question (git main -> this tree, alternating processes): "
          f"words only {whole['words']['main']:.2f} -> {whole['words']['this']:.2f} ms (x{whole['words']['ratio']:.2f}); "
          f"with meaning {whole['meaning']['main']:.2f} -> {whole['meaning']['this']:.2f} ms "
          f"(x{whole['meaning']['ratio']:.2f})", flush=True)
    article = _child("article", str(args.repeat))
    print(f"bundled article, whole answer per question (main's index.py -> this one, same process): "
          f"words only {article['words']['previous']:.2f} -> {article['words']['new']:.2f} ms "
          f"(x{article['words']['ratio']:.2f}); with meaning {article['meaning']['previous']:.2f} -> "
          f"{article['meaning']['new']:.2f} ms (x{article['meaning']['ratio']:.2f})", flush=True)
    rows = []
    for n in sizes:
        src, out = args.work / f"src-{n}", args.work / f"corpus-{n}"
        started = time.perf_counter()
        generate(src, n, args.seed)
        generated = time.perf_counter() - started
        shutil.rmtree(out, ignore_errors=True)
        indexed = _child("index", str(src), str(out))
        served = _child("serve", str(out), str(args.questions), str(args.seed))
        parity = _child("parity", str(out)) if n <= 100_000 else None
        engines = {}
        for engine in [e for e in args.engines.split(",") if e]:
            if engine == "rank-bm25" and n > 100_000:
                engines[engine] = {"skipped": "over the time budget (build alone is minutes, each question seconds)"}
                continue
            try:
                engines[engine] = _child("engine", str(out), engine, str(args.budget))
            except (SystemExit, Exception) as exc:  # noqa: BLE001 - an engine that is missing is said, not fatal
                engines[engine] = {"skipped": str(exc).splitlines()[-1][:200]}
        row = {"passages": served["passages"], "terms": served["terms"], "generate_s": generated, "index": indexed,
               "serve": served, "parity": parity, "engines": engines}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print("| passages | terms | `index` | index peak RSS | start-up (saved index) | serve RSS | retrieval p50 / p95 "
          "| git main's retrieval p50 / p95 (interleaved with this tree's) | whole answer p50 / p95 (words) | rank-bm25 p50 | bm25s p50 | tantivy p50 "
          "| SQLite FTS5 p50 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    def main_ms(s: dict) -> str:
        got = s.get("retrieval_pair_ms")
        if not got:
            return "–"
        return (f"{got['main']['p50']:.2f} / {got['main']['p95']:.2f} ms (this tree "
                f"{got['this']['p50']:.2f} / {got['this']['p95']:.2f} ms)")

    for row in rows:
        s, e = row["serve"], row["engines"]

        def engine(name: str) -> str:
            got = e.get(name)
            if not got:
                return "–"
            if "skipped" in got:
                return "skipped"
            part = "" if got["questions"] == got["of"] else f" ({got['questions']} of {got['of']} q, budget)"
            return f"{got['ms']['p50']:.2f} ms{part}"

        print(f"| {row['passages']:,} | {row['terms']:,} | {row['index']['index_s']:.1f} s | "
              f"{row['index']['rss_mib']:.0f} MiB | {s['startup_s']:.2f} s | {s['rss_mib']:.0f} MiB | "
              f"{s['retrieval_ms']['p50']:.2f} / {s['retrieval_ms']['p95']:.2f} ms | "
              f"{main_ms(s)} | {s['answer_ms']['p50']:.2f} / {s['answer_ms']['p95']:.2f} ms | {engine('rank-bm25')} | "
              f"{engine('bm25s')} | {engine('tantivy')} | {engine('sqlite-fts5')} |")
    for row in rows:
        tantivy, s = row["engines"].get("tantivy") or {}, row["serve"]
        if "ms" in tantivy:
            pair = s.get("retrieval_pair_ms")
            print(f"retrieval at {row['passages']:,} against tantivy's p50 (same run): this tree "
                  f"x{s['retrieval_ms']['p50'] / tantivy['ms']['p50']:.1f}"
                  + (f" (interleaved x{pair['this']['p50'] / tantivy['ms']['p50']:.1f}), git main "
                     f"x{pair['main']['p50'] / tantivy['ms']['p50']:.1f}" if pair else ""))
    for row in rows:
        if row["parity"]:
            p = row["parity"]
            print(f"parity at {row['passages']:,}: max |ours - rank-bm25| {p['max_abs_diff']:.1e}, "
                  f"same top 10 on {p['same_top10']} of {p['of']} questions")


if __name__ == "__main__":
    main()
