"""Adding and removing a document: incremental (``extend_data``/``drop_data``, ``extend_vectors``/
``drop_vectors``) against a full rebuild (``build_data`` and every sentence encoded again), in one
run, as ratios.

    python3 benchmarks/add_documents.py                  # the bundled corpus, words and meaning (~2 minutes)
    python3 benchmarks/add_documents.py --large 100000   # also a 100k-passage corpus, words only (~5 minutes)

First the whole operation a user waits for: a real 20-page PDF (generated with reportlab) added
as ``qa-service add`` and ``POST /api/documents`` add it (read, indexed, embedded, the corpus
folder written), against the same steps with the index and vectors rebuilt over everything.
Then the index and vectors alone. The added document is about 20 pages: ~10,000 words of real SQuAD sentences (corpus/squad-expmrc),
about 3 to a paragraph, split into passages as ``ingest`` splits any document. The large corpus
is ``scale.py``'s (generated, seeded); above ``semantic_max_passages`` the service has no sentence
vectors, so there only the index is timed. Every incremental result is checked against the
rebuild (equal arrays, terms, acronyms, fingerprint). The sentence cache is emptied before each
timed call, so both sides encode what they would after a restart; the tokeniser's caches stay
warm for both (as in a running server), which favours the rebuild. Wall-clock figures vary with
the machine and its load; the ratios in one run are what compare.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from qa_service import semantic  # noqa: E402
from qa_service.config import Settings  # noqa: E402
from qa_service.index import IndexData, build_data, drop_data, extend_data, fingerprint, load_data  # noqa: E402
from qa_service.ingest import ingest_paths, load_corpus, split_passages  # noqa: E402
from qa_service.pipeline import build_encoder, build_tokenizer  # noqa: E402
from qa_service.semantic import SentenceVectors, drop_vectors, extend_vectors, load_or_build  # noqa: E402
from qa_service.text import sentence_spans  # noqa: E402
from qa_service.values import Passage  # noqa: E402

SQUAD = ROOT / "corpus" / "squad-expmrc" / "expmrc-squad-dev.json"


def twenty_pages(words: int = 10_000, skip: int = 0) -> list[Passage]:
    """About ``words`` words of SQuAD paragraphs (from the ``skip``-th on), as ``ingest`` splits a document."""
    data = json.loads(SQUAD.read_text(encoding="utf-8"))
    paragraphs, total = [], 0
    contexts = [c["context"] for article in data["data"] for c in article["paragraphs"]][skip:]
    for context in contexts:
        sentences = [context[a:b] for a, b in sentence_spans(context)]
        for start in range(0, len(sentences), 3):
            paragraphs.append(" ".join(sentences[start : start + 3]))
            total += len(paragraphs[-1].split())
        if total >= words:
            break
    return split_passages("added-report", "\n\n".join(paragraphs))


def _same(ours: IndexData, rebuilt: IndexData) -> None:
    assert ours.terms == rebuilt.terms and ours.fingerprint == rebuilt.fingerprint
    assert list(ours.acronyms.items()) == list(rebuilt.acronyms.items())
    assert all(np.array_equal(ours.arrays[k], rebuilt.arrays[k]) for k in rebuilt.arrays)


def _same_vectors(ours: SentenceVectors, rebuilt: SentenceVectors) -> None:
    assert np.array_equal(ours.offsets, rebuilt.offsets)
    assert np.allclose(ours.matrix, rebuilt.matrix, rtol=0, atol=1e-6)


def timed(calls: dict[str, Callable[[], object]], rounds: int) -> tuple[dict[str, float], dict[str, object]]:
    """Median seconds of each call over ``rounds``, the calls taking turns (a busy moment falls on
    all), and what each returned last."""
    spent: dict[str, list[float]] = {name: [] for name in calls}
    results: dict[str, object] = {}
    for _ in range(rounds):
        for name, call in calls.items():
            semantic._SEEN.clear()
            gc.collect()  # the garbage of the call before is not this one's to collect
            started = time.perf_counter()
            results[name] = call()
            spent[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in spent.items()}, results


def small(new: list[Passage], rounds: int) -> list[tuple[str, str, float, float]]:
    """The bundled corpus, words and meaning: add the document, then remove it again."""
    settings = Settings()
    tok, encoder = build_tokenizer(settings), build_encoder(settings)
    assert encoder is not None, "the sentence encoder did not load"
    encoder.warm_up()
    old = list(load_corpus(ROOT / "corpus").passages)
    both = old + new
    keep = np.arange(len(old))
    data, vectors = build_data(old, tok), load_or_build(old, encoder)
    data_both, vectors_both = build_data(both, tok), load_or_build(both, encoder)
    _same(extend_data(data, new, tok, old), data_both)
    _same(drop_data(data_both, keep, tok, both), data)
    semantic._SEEN.clear()
    _same_vectors(extend_vectors(vectors, new, encoder), load_or_build(both, encoder))
    _same_vectors(drop_vectors(vectors_both, keep), vectors)
    t, _ = timed({
        "add words": lambda: extend_data(data, new, tok, old),
        "add meaning": lambda: extend_vectors(vectors, new, encoder),
        "rebuild words +": lambda: build_data(both, tok),
        "rebuild meaning +": lambda: load_or_build(both, encoder),
        "drop words": lambda: drop_data(data_both, keep, tok, both),
        "drop meaning": lambda: drop_vectors(vectors_both, keep),
        "rebuild words -": lambda: build_data(old, tok),
        "rebuild meaning -": lambda: load_or_build(old, encoder),
    }, rounds)
    name = f"bundled corpus ({len(old)} passages)"
    return [
        (name, f"add {len(new)} passages: words", t["add words"], t["rebuild words +"]),
        (name, f"add {len(new)} passages: words + meaning", t["add words"] + t["add meaning"],
         t["rebuild words +"] + t["rebuild meaning +"]),
        (name, f"remove them: words", t["drop words"], t["rebuild words -"]),
        (name, f"remove them: words + meaning", t["drop words"] + t["drop meaning"],
         t["rebuild words -"] + t["rebuild meaning -"]),
    ]


def large(n: int, new: list[Passage], work: Path, rounds: int, seed: int) -> list[tuple[str, str, float, float]]:
    """A generated corpus of ``n`` passages, words only (the service has no vectors that large)."""
    from benchmarks.scale import generate

    tok = build_tokenizer(Settings())
    src = work / f"src-{n}"
    generate(src, n, seed)
    old = list(ingest_paths([src]).passages)
    both = old + new
    started = time.perf_counter()
    data = build_data(old, tok, show_progress=False)
    print(f"{len(old):,} passages built in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    data_both = extend_data(data, new, tok, old)  # checked against the rebuild below
    keep = np.arange(len(old))
    middle = sorted({p.document for p in old})[len({p.document for p in old}) // 2]  # a 20-passage file
    keep_middle = np.array([i for i, p in enumerate(old) if p.document != middle])
    kept_middle = [old[i] for i in keep_middle]
    saved = work / f"index-{n}"
    saved.mkdir(parents=True, exist_ok=True)
    data.save(saved)
    mapped = load_data(saved, fingerprint(old, tok))
    t, got = timed({
        "add": lambda: extend_data(data, new, tok, old),
        "add mapped": lambda: extend_data(mapped, new, tok, old),
        "rebuild +": lambda: build_data(both, tok, show_progress=False),
        "drop": lambda: drop_data(data_both, keep, tok, both),
        "rebuild -": lambda: build_data(old, tok, show_progress=False),
        "drop middle": lambda: drop_data(data, keep_middle, tok, old),
        "rebuild middle": lambda: build_data(kept_middle, tok, show_progress=False),
    }, rounds)
    _same(got["add"], got["rebuild +"])
    _same(got["add mapped"], got["rebuild +"])
    _same(got["drop"], got["rebuild -"])
    _same(got["drop middle"], got["rebuild middle"])
    name = f"generated corpus ({len(old):,} passages)"
    return [
        (name, f"add {len(new)} passages: words", t["add"], t["rebuild +"]),
        (name, f"add {len(new)} passages to the saved, memory-mapped index: words", t["add mapped"], t["rebuild +"]),
        (name, f"remove them: words", t["drop"], t["rebuild -"]),
        (name, f"remove a {len(old) - len(keep_middle)}-passage document from the middle: words",
         t["drop middle"], t["rebuild middle"]),
    ]


def twenty_page_pdf(words: int = 10_000) -> tuple[bytes, int]:
    """A real PDF of about 20 pages (reportlab, the test extra): the same SQuAD paragraphs as
    :func:`twenty_pages`, wrapped, 44 lines a page, with a running header and page numbers."""
    import io
    import textwrap

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    text = "\n\n".join(p.text for p in twenty_pages(words))
    lines: list[str] = []
    for paragraph in text.split("\n\n"):
        lines += textwrap.wrap(paragraph, 95) + [""]
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    pdf.setTitle("Annual field report")
    per_page, pages = 44, 0
    for start in range(0, len(lines), per_page):
        pages += 1
        pdf.setFont("Helvetica", 8)
        pdf.drawString(72, A4[1] - 40, "Annual field report - internal")
        pdf.drawString(A4[0] / 2, 30, f"Page {pages}")
        pdf.setFont("Helvetica", 10)
        for row, line in enumerate(lines[start : start + per_page]):
            pdf.drawString(72, A4[1] - 72 - row * 15.5, line)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue(), pages


def _rebuild_add(pipeline, upload, folder: Path):  # noqa: ANN001, ANN202
    """What adding a file costs without the incremental path: read it, then index and embed the
    whole corpus again, and write it all (the same steps as ``store.add_documents`` otherwise)."""
    from qa_service import store
    from qa_service.pipeline import build_pipeline
    from qa_service.values import Corpus

    settings = pipeline.settings
    target = store._passage_words(folder, settings)
    read = store._ingest([upload], target, pipeline.corpus)
    old = pipeline.corpus
    corpus = Corpus(old.documents + tuple(d for d, _ in read), old.passages + tuple(p for _, ps in read for p in ps),
                    old.questions)
    data = build_data(corpus.passages, pipeline.index.tokenizer, show_progress=False)
    encoder = pipeline.analyser.encoder
    vectors = load_or_build(corpus.passages, encoder) if pipeline.vectors is not None else None
    new = build_pipeline(settings, corpus, data=data, vectors=vectors)
    store._persist(Corpus((), ()), corpus, new, folder, target)  # nothing to copy: every line written anew
    return new


def whole_file(pdf: bytes, corpus_dir: Path, settings: Settings, rounds: int, label: str,
               work: Path) -> list[tuple[str, str, float, float]]:
    """Adding the 20-page PDF as ``qa-service add`` and the upload endpoint do, start to end
    (read the PDF, index, embed, write the corpus folder), against the same with a full rebuild."""
    import shutil

    from qa_service import store
    from qa_service.pipeline import build_pipeline
    from qa_service.store import Upload, add_documents, remove_documents
    from qa_service.values import Corpus

    upload = Upload("annual-field-report.pdf", pdf)
    folders = {name: work / f"{label}-{name}" for name in ("incremental", "rebuild")}
    pipelines = {}
    for name, folder in folders.items():
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(corpus_dir, folder, ignore=shutil.ignore_patterns("squad-expmrc"))
        pipelines[name] = build_pipeline(settings.replace(corpus=str(folder)))

    def incremental() -> object:
        return add_documents(pipelines["incremental"], [upload], folders["incremental"]).pipeline

    def rebuild() -> object:
        return _rebuild_add(pipelines["rebuild"], upload, folders["rebuild"])

    t, got = timed({"incremental": incremental, "rebuild": rebuild}, rounds)
    _same(got["incremental"].index.data, got["rebuild"].index.data)
    meaning = " + meaning" if pipelines["incremental"].vectors is not None else ", words only"
    passages = len(got["incremental"].corpus.passages) - len(pipelines["incremental"].corpus.passages)
    with_it = got["incremental"]

    def remove_incremental() -> object:
        return remove_documents(with_it, ["annual-field-report"], folders["incremental"]).pipeline

    def remove_rebuild() -> object:
        kept = [p for p in with_it.corpus.passages if p.document != "annual-field-report"]
        corpus = Corpus(tuple(d for d in with_it.corpus.documents if d.id != "annual-field-report"), tuple(kept),
                        with_it.corpus.questions)
        data = build_data(kept, with_it.index.tokenizer, show_progress=False)
        vectors = load_or_build(kept, with_it.analyser.encoder) if with_it.vectors is not None else None
        new = build_pipeline(with_it.settings, corpus, data=data, vectors=vectors)
        store._persist(Corpus((), ()), corpus, new, folders["rebuild"],
                       store._passage_words(folders["rebuild"], with_it.settings))
        return new

    r, removed = timed({"incremental": remove_incremental, "rebuild": remove_rebuild}, rounds)
    _same(removed["incremental"].index.data, removed["rebuild"].index.data)
    name = f"{label} ({len(pipelines['incremental'].corpus.passages):,} passages)"
    return [(name, f"add a 20-page PDF ({passages} passages), read to written{meaning}", t["incremental"], t["rebuild"]),
            (name, f"remove it again, to written{meaning}", r["incremental"], r["rebuild"])]


def table(rows: Sequence[tuple[str, str, float, float]]) -> str:
    lines = ["| corpus | change | incremental | full rebuild | rebuild / incremental |", "|---|---|---|---|---|"]
    for corpus, change, incremental, rebuild in rows:
        lines.append(f"| {corpus} | {change} | {incremental * 1000:,.1f} ms | {rebuild * 1000:,.1f} ms | "
                     f"x{rebuild / incremental:,.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=10_000, help="words in the added document")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds on the bundled corpus")
    parser.add_argument("--large", type=int, default=0, help="also a generated corpus of this many passages")
    parser.add_argument("--large-rounds", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "qa-service-scale")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    new = twenty_pages(args.words)
    acronyms = build_data(new, build_tokenizer(Settings())).acronyms
    print(f"added document: {len(new)} passages, {sum(len(p.text.split()) for p in new):,} words, "
          f"{len(acronyms)} acronyms defined", flush=True)
    pdf, pages = twenty_page_pdf(args.words)
    print(f"the same text as a {pages}-page PDF: {len(pdf) / 1024:,.0f} KiB", flush=True)
    args.work.mkdir(parents=True, exist_ok=True)
    rows = whole_file(pdf, ROOT / "corpus", Settings(), args.rounds, "bundled corpus", args.work)
    rows += small(new, args.rounds)
    print(table(rows), flush=True)
    if args.large:
        rows += large(args.large, new, args.work, args.large_rounds, args.seed)
        big = args.work / f"corpus-{args.large}"
        if not (big / "manifest.json").is_file():
            from qa_service.cli import main as cli

            cli(["index", str(args.work / f"src-{args.large}"), "--out", str(big), "--semantic", "false"])
        rows += whole_file(pdf, big, Settings(semantic=False), args.large_rounds, "generated corpus", args.work)
        print()
        print(table(rows))


if __name__ == "__main__":
    main()
