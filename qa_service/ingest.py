"""Ingestion: source documents in, clean text and passages with stable ids out.

``seeds/*.txt|md|html|pdf|docx`` -> :func:`read_source` -> :func:`qa_service.sources.read_bytes`
-> :func:`clean_lines` -> :func:`split_passages`
-> :func:`write_corpus` (``documents.jsonl``, ``passages.jsonl``, ``manifest.json``), and
:func:`load_corpus` reads it back (with ``questions.jsonl`` when the folder has one),
checking every record.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import hashlib
import html
import json
import os
import re
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

import msgspec

from .errors import CorpusError, IngestError, QAError
from .sources import KINDS, SourceText, read_bytes
from .text import sentence_spans, slugify, word_count
from .values import Corpus, Document, Passage, Question

__all__ = [
    "CORPUS_FORMAT",
    "QUESTION_TYPES",
    "SOURCE_SUFFIXES",
    "clean_lines",
    "ingest_bytes",
    "ingest_file",
    "ingest_paths",
    "ingest_to",
    "load_corpus",
    "load_questions",
    "read_source",
    "split_passages",
    "update_corpus",
    "write_corpus",
]

CORPUS_FORMAT = 2  # 2: a document's text opens with its headline
SOURCE_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
MAX_SOURCE_BYTES = 20 * 1024 * 1024
_CHUNK_FILES = 16  # source files `index` reads (and tokenises) at a time, in one process
QUESTION_TYPES = ("fact", "why", "how", "paraphrase", "unanswerable", "followup")

# Web page furniture that is never content, whatever the site. Matched on whole lines.
_NAV_RE = re.compile(
    r"^(skip to (main )?content|read (also|more|next)|see also|related( articles| stories)?|latest( news)?"
    r"|share( this)?( article)?|advertisement|menu|home|subscribe|sign (in|up)|log ?in|cookies?|"
    r"back to top|print|email|comments?|tags?|follow us)\b.{0,20}$",
    re.IGNORECASE,
)
_LIST_MARKER_RE = re.compile(r"^\s*(?:[-*+•–·]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)](?=\s))\s+")
_SENTENCE_PUNCT_RE = re.compile(r"[.!?…][\"'”’)\]]*$")


# ---------------------------------------------------------------- reading sources


def read_source(path: Path) -> tuple[bytes, str]:
    """(bytes, their sha256) of a source file, or :class:`IngestError` saying what is wrong."""
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if not path.is_file():
        raise IngestError(f"{path}: not a regular file")
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:  # before reading: a 1 GiB file is never loaded
            raise IngestError(f"{path}: larger than {MAX_SOURCE_BYTES // (1024 * 1024)} MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read ({exc.strerror})") from None
    _check_size(data, str(path))
    return data, hashlib.sha256(data).hexdigest()


def _check_size(data: bytes, name: str) -> None:
    if len(data) > MAX_SOURCE_BYTES:
        raise IngestError(f"{name}: larger than {MAX_SOURCE_BYTES // (1024 * 1024)} MiB")


# ---------------------------------------------------------------- cleaning


def _is_boilerplate(line: str) -> bool:
    """Navigation and page furniture: known phrases, or short lines without sentence punctuation."""
    if _NAV_RE.match(line):
        return True
    return word_count(line) <= 6 and not _SENTENCE_PUNCT_RE.search(line)


def clean_lines(lines: Iterable[str], title: str = "") -> tuple[str, list[str]]:
    """(title, paragraphs): boilerplate, list markers and repeated lines removed.

    Without a title from the markup, the headline is the first line that is neither
    navigation nor a full paragraph. A headline or line seen before is dropped.
    """
    title, kept = _clean(lines, title)
    return title, [line for _, _, line in kept]


def _clean(lines: Iterable[str], title: str = "", furniture: bool = True) -> tuple[str, list[tuple[int, int, str]]]:
    """:func:`clean_lines`, each paragraph with the index of its line and how many characters
    were cut from the line's front (a list marker), so pages can follow it. Without
    ``furniture`` (the lines are an extractor's main text) no line is dropped as page furniture."""
    seen: set[str] = set()
    if title:
        title = " ".join(html.unescape(title).split())
        seen.add(title.casefold().rstrip("."))
    paragraphs: list[tuple[int, int, str]] = []
    for number, raw in enumerate(lines):
        line = " ".join(_LIST_MARKER_RE.sub("", raw).split())
        if not line:
            continue
        key = line.casefold().rstrip(".")
        if key in seen:
            continue
        if not title and not _NAV_RE.match(line) and 2 <= word_count(line) <= 25:
            title = line.rstrip(".") if line.count(".") <= 1 else line
            seen.add(key)
            continue
        if furniture and _is_boilerplate(line):
            continue
        seen.add(key)
        whole = " ".join(raw.split())
        paragraphs.append((number, len(whole) - len(line) if whole.endswith(line) else 0, line))
    return title, paragraphs


# ---------------------------------------------------------------- passages


def split_passages(doc_id: str, text: str, target_words: int = 60) -> list[Passage]:
    """Passages of about ``target_words`` words that never cut a sentence.

    Paragraphs (separated by blank lines) are kept whole when they fit; short ones join
    the next, long ones are cut at sentence boundaries into near-equal parts. No passage
    goes over 1.5 x target unless a single sentence does.
    """
    if target_words < 1:
        raise ValueError("target_words must be positive")
    low, high = target_words // 2, target_words * 3 // 2
    units: list[list[tuple[int, int, int]]] = []  # per paragraph: (start, end, words) sentences
    for para in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]*)*", text):
        sentences = [(s.start, s.end, word_count(text[s.start : s.end]))
                     for s in sentence_spans(text, para.start(), para.end())]
        if sentences:
            units.append(sentences)

    chunks: list[tuple[int, int, int]] = []
    for sentences in units:
        total = sum(w for _, _, w in sentences)
        parts = max(1, round(total / target_words)) if total > high else 1
        goal = total / parts
        current: list[tuple[int, int, int]] = []
        for sent in sentences:
            words = sum(w for _, _, w in current)
            if current and (words + sent[2] > high or (parts > 1 and words + sent[2] / 2 > goal)):
                chunks.append((current[0][0], current[-1][1], words))
                current = []
            current.append(sent)
        if current:
            chunks.append((current[0][0], current[-1][1], sum(w for _, _, w in current)))

    passages: list[tuple[int, int, int]] = []
    pending: tuple[int, int, int] | None = None
    for chunk in chunks:
        if pending is not None:
            if pending[2] + chunk[2] <= high:
                chunk = (pending[0], chunk[1], pending[2] + chunk[2])
            else:
                passages.append(pending)
            pending = None
        if chunk[2] < low:
            pending = chunk
        else:
            passages.append(chunk)
    if pending is not None:
        if passages and passages[-1][2] + pending[2] <= high:
            last = passages.pop()
            pending = (last[0], pending[1], last[2] + pending[2])
        passages.append(pending)

    return [Passage(f"{doc_id}-p{i:03d}", doc_id, i, start, end, text[start:end])
            for i, (start, end, _) in enumerate(passages, start=1)]


# ---------------------------------------------------------------- whole files and folders


def ingest_file(path: Path, target_words: int = 60) -> tuple[Document, list[Passage]]:
    """One source file as a document and its passages."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:  # its name would break every file the corpus is written to
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        raise IngestError(f"{shown}: the file name is not valid UTF-8; rename the file") from None
    data, digest = read_source(path)
    return _document(data, digest, str(path), path.name, target_words)


def ingest_bytes(data: bytes, name: str, target_words: int = 60) -> tuple[Document, list[Passage]]:
    """An uploaded file as a document and its passages: what :func:`ingest_file` gives for a file
    called ``name`` holding ``data`` (the id is the slug of the name's stem)."""
    file_name = PurePosixPath(name.replace("\\", "/")).name
    if not file_name or not file_name.strip(". "):
        raise IngestError(f"{name!r}: not a file name")
    try:
        file_name.encode("utf-8")
    except UnicodeEncodeError:
        raise IngestError(f"{file_name.encode('utf-8', 'backslashreplace').decode()}: the file name is not "
                          "valid UTF-8; rename the file") from None
    _check_size(data, file_name)
    return _document(data, hashlib.sha256(data).hexdigest(), file_name, file_name, target_words)


def _document(data: bytes, digest: str, shown: str, file_name: str,
              target_words: int) -> tuple[Document, list[Passage]]:
    """The document and passages of one source's bytes; ``shown`` names it in messages."""
    source = read_bytes(data, shown)
    title, kept = _clean(source.lines, source.title, source.furniture)
    if not kept and (source.title or not title):  # a one-line note is its own headline, and its text
        raise IngestError(f"{shown}: no text left after removing page furniture")
    # The headline is evidence too ("X withdraws envoy from Y due to ..."): it opens the text,
    # so it is searched, embedded and citable like any sentence, with its own offsets.
    paragraphs = [line for _, _, line in kept]
    text = "\n\n".join([title, *paragraphs] if title else paragraphs)
    stem = PurePosixPath(file_name).stem
    doc_id = slugify(stem, "document")
    document = Document(
        id=doc_id,
        title=title or stem,
        source=file_name,
        sha256=digest,
        text=text,
        kind=source.kind,
        pages=source.pages,
    )
    passages = split_passages(doc_id, text, target_words)
    if source.line_pages:
        # a document that is its headline alone has no paragraph to follow: its first page
        marks = _page_marks(source, kept, len(title) + 2 if title else 0) or [(0, source.line_pages[0])]
        passages = _with_pages(passages, marks)
    return document, passages


def _page_marks(source: SourceText, kept: list[tuple[int, int, str]], offset: int) -> list[tuple[int, int]]:
    """(offset in the document's text, page) wherever a new page's text begins, in order."""
    breaks: dict[int, list[tuple[int, int]]] = {}
    for line, at, page in source.page_breaks:
        breaks.setdefault(line, []).append((at, page))
    marks: list[tuple[int, int]] = []
    for number, cut, paragraph in kept:
        marks.append((offset, source.line_pages[number]))
        for at, page in breaks.get(number, ()):
            marks.append((offset + min(max(at - cut, 0), len(paragraph)), page))
        offset += len(paragraph) + 2
    return marks


def _with_pages(passages: list[Passage], marks: list[tuple[int, int]]) -> list[Passage]:
    """Passages with the pages where they start and end."""
    offsets = [at for at, _ in marks]

    def page_at(position: int) -> int:
        return marks[max(bisect.bisect_right(offsets, position) - 1, 0)][1]

    return [replace(p, page=page_at(p.start), last_page=max(page_at(p.start), page_at(max(p.end - 1, p.start))))
            for p in passages]


def _folder_files(folder: Path) -> list[Path]:
    """The source files under ``folder``. A link, to a file or a folder, that leads outside the
    folder is refused with a message (it would index and serve a file nobody chose); links
    that stay inside are files reached anyway, so folder links are not followed."""
    root = folder.resolve()
    found: list[Path] = []

    def outside(link: Path) -> bool:
        target = link.resolve()
        return target != root and root not in target.parents

    def refuse(error: OSError) -> None:
        raise IngestError(f"{error.filename}: cannot list the folder ({error.strerror or error})")

    for here, dirs, files in os.walk(folder, onerror=refuse):
        for name in dirs:
            if (Path(here) / name).is_symlink() and outside(Path(here) / name):
                raise IngestError(f"{Path(here) / name}: a link to a folder outside {folder}; "
                                  "index that folder itself if you mean it")
        for name in files:
            path = Path(here) / name
            if path.suffix.lower() not in SOURCE_SUFFIXES:
                continue
            if path.is_symlink() and outside(path):
                raise IngestError(f"{path}: a link to a file outside {folder}; index that file itself if you mean it")
            if path.is_file():
                found.append(path)
    return sorted(found)


def _source_files(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            found = _folder_files(path)
            if not found:
                raise IngestError(f"{path}: no .txt, .md, .html, .pdf or .docx files in this folder")
            yield from found
        else:
            if path.exists() and path.suffix.lower() not in SOURCE_SUFFIXES:
                raise IngestError(f"{path}: unsupported file type (use .txt, .md, .html, .pdf or .docx)")
            yield path


def ingest_paths(paths: Sequence[Path], target_words: int = 60) -> Corpus:
    """Every source file under ``paths`` (files or folders), in a stable order."""
    documents: list[Document] = []
    passages: list[Passage] = []
    ids: set[str] = set()
    for path in _source_files(paths):
        document, doc_passages = ingest_file(path, target_words)
        if document.id in ids:
            raise IngestError(f"{path}: another source already gives the document id {document.id!r}")
        ids.add(document.id)
        documents.append(document)
        passages.extend(doc_passages)
    if not documents:
        raise IngestError("no source files given")
    return Corpus(tuple(documents), tuple(passages))


def _jsonl(records: Iterable[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n" for r in records)


def _passage_record(p: Passage) -> dict:
    record = {"id": p.id, "document": p.document, "index": p.index, "start": p.start, "end": p.end,
              "words": word_count(p.text), "text": p.text}
    if p.page is not None:  # only paged sources have them: a text corpus reads as it always did
        record["page"] = p.page
    if p.last_page is not None:
        record["last_page"] = p.last_page
    return record


def _document_record(d: Document) -> dict:
    record = {"id": d.id, "title": d.title, "source": d.source, "sha256": d.sha256, "text": d.text}
    if d.kind != "text":  # written only when set, so a text corpus's files stay as they were
        record["kind"] = d.kind
    if d.pages is not None:
        record["pages"] = d.pages
    return record


def _manifest(target_words: int, documents: int, passages: int) -> str:
    return json.dumps({"format": CORPUS_FORMAT, "passage_words": target_words,
                       "documents": documents, "passages": passages}, indent=2) + "\n"


@contextlib.contextmanager
def _written_aside(out: Path, names: Sequence[str]) -> Iterator[dict[str, Path]]:
    """Temporary paths beside ``out/<name>`` to write the corpus files to; when the block ends
    without an error they are all renamed into place (nothing is replaced before every file is
    whole: a bad source or a full disk leaves the old corpus as it was). Leftovers are removed."""
    temporary = {name: out / f".{name}.{os.getpid()}.tmp" for name in names}
    try:
        yield temporary
        for name in names:
            os.replace(temporary[name], out / name)
    except OSError as exc:
        raise CorpusError(f"{out}: cannot write the corpus ({exc.strerror or exc})") from None
    finally:
        for path in temporary.values():
            path.unlink(missing_ok=True)


class _Read(NamedTuple):
    """One source file as ``ingest_to`` writes it: its lines of the corpus files, ready."""

    path: Path
    document_id: str
    passages: int
    document_line: str
    passage_lines: str


def _read_chunk(paths: Sequence[Path], target_words: int,
                prepare: Callable[[list[Passage]], Any] | None) -> tuple[list[_Read | QAError], Any]:
    """Read ``paths`` in order up to the first that cannot be read (its error ends the list), and
    ``prepare`` the passages of those read: what one worker process does for ``ingest_to``."""
    done: list[_Read | QAError] = []
    passages: list[Passage] = []
    for path in paths:
        try:
            document, doc_passages = ingest_file(path, target_words)
        except QAError as exc:
            done.append(exc)
            break
        done.append(_Read(path, document.id, len(doc_passages), _jsonl([_document_record(document)]),
                          _jsonl(_passage_record(p) for p in doc_passages)))
        passages.extend(doc_passages)
    return done, (prepare(passages) if prepare is not None and passages else None)


def _chunks_read(chunks: list[list[Path]], target_words: int, prepare: Callable[[list[Passage]], Any] | None,
                 workers: int) -> Iterator[tuple[list[_Read | QAError], Any]]:
    """``_read_chunk`` of each chunk, in order: in this process, or spread over ``workers`` forked
    processes (each reads and prepares whole chunks; nothing but their results comes back, in memory).
    A worker that dies (killed, out of memory) stops it with :class:`IngestError`, never a hang."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    if workers <= 1 or len(chunks) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        for chunk in chunks:
            yield _read_chunk(chunk, target_words, prepare)
        return
    read = functools.partial(_read_chunk, target_words=target_words, prepare=prepare)
    # Forked: each worker inherits ``read`` (and the tokeniser in it) as it is; only the chunks'
    # paths go to the workers and their results come back, in memory.
    pool = ProcessPoolExecutor(min(workers, len(chunks)), multiprocessing.get_context("fork"),
                               _set_worker_read, (read,))
    try:
        window = 4 * workers  # chunks handed out ahead of the one being written: memory stays bounded
        pending = [pool.submit(_worker_read_chunk, chunk) for chunk in chunks[:window]]
        for i in range(len(chunks)):
            try:
                result = pending[i].result()
            except BrokenProcessPool:
                raise IngestError(f"{chunks[i][0]}: a process reading the sources died (out of memory?); "
                                  "try again with --index-workers 1") from None
            if i + window < len(chunks):
                pending.append(pool.submit(_worker_read_chunk, chunks[i + window]))
            pending[i] = None  # type: ignore[call-overload]  # its result is handed on, not kept
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_WORKER_READ: list[Callable[[Sequence[Path]], Any]] = []  # in a worker process of ``_chunks_read``: its reader


def _set_worker_read(read: Callable[[Sequence[Path]], Any]) -> None:
    _WORKER_READ[:] = [read]


def _worker_read_chunk(paths: Sequence[Path]) -> tuple[list[_Read | QAError], Any]:
    return _WORKER_READ[0](paths)


def ingest_to(paths: Sequence[Path], out: Path, target_words: int,
              consume: Callable[[Any], None] | None = None,
              progress: Callable[[int, int, int], None] | None = None,
              prepare: Callable[[list[Passage]], Any] | None = None,
              workers: int = 1) -> tuple[int, int]:
    """``ingest_paths`` then ``write_corpus``, streaming: source files are read a chunk at a time
    (in ``workers`` processes when more than one), each chunk's passages handed to ``prepare``
    where they were read (the index builder's tokenising), and what it returns to ``consume`` here,
    in the files' order; their lines are written to temporary files, then dropped, so memory does
    not grow with the corpus and nothing is held twice. The output is the same whatever
    ``workers``. The files are renamed into place only when every source was read: a bad source
    leaves the old corpus as it was. ``progress(files done, files, passages)`` after each chunk.
    Returns (documents, passages)."""
    sources = list(_source_files(paths))
    if not sources:
        raise IngestError("no source files given")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusError(f"{out}: cannot create the corpus folder ({exc.strerror or exc})") from None
    ids: set[str] = set()  # one set: each document id is checked once, whatever the corpus size
    documents = passages = 0
    chunks = [sources[i : i + _CHUNK_FILES] for i in range(0, len(sources), _CHUNK_FILES)]
    with _written_aside(out, ("documents.jsonl", "passages.jsonl", "manifest.json")) as temporary:
        with open(temporary["documents.jsonl"], "w", encoding="utf-8", newline="\n") as docs_file, \
                open(temporary["passages.jsonl"], "w", encoding="utf-8", newline="\n") as passages_file:
            with contextlib.closing(_chunks_read(chunks, target_words, prepare, workers)) as results:
                for done, prepared in results:
                    for read in done:
                        if isinstance(read, QAError):
                            raise read
                        if read.document_id in ids:
                            raise IngestError(f"{read.path}: another source already gives the document id "
                                              f"{read.document_id!r}")
                        ids.add(read.document_id)
                        try:
                            docs_file.write(read.document_line)
                            passages_file.write(read.passage_lines)
                        except UnicodeEncodeError as exc:
                            raise CorpusError(f"{out}: cannot write the corpus (text that is not valid UTF-8: "
                                              f"{exc.reason})") from None
                        documents += 1
                        passages += read.passages
                    if consume is not None and prepared is not None:
                        consume(prepared)
                    if progress is not None:
                        progress(documents, len(sources), passages)
        temporary["manifest.json"].write_text(_manifest(target_words, documents, passages), encoding="utf-8")
    return documents, passages


def _kept_lines(path: Path, records: Sequence[Document] | Sequence[Passage]) -> dict[str, bytes] | None:
    """The lines of a corpus file that ``records`` (what it holds, in order) were read from or
    written as, by id; None when the file does not line up with them (edited by hand: written anew)."""
    try:
        lines = [line for line in path.read_bytes().splitlines(keepends=True) if line.strip()]
    except OSError:
        return None
    if len(lines) != len(records):
        return None
    kept: dict[str, bytes] = {}
    for line, record in zip(lines, records):
        key = record.id
        quoted = (f'"{key}"' if key.isascii() and key.isprintable() and '"' not in key and "\\" not in key
                  else json.dumps(key, ensure_ascii=False))  # ids are slugs: JSON quoting is a no-op for them
        if not line.startswith(b'{"id": ' + quoted.encode("utf-8") + b", "):
            return None
        kept[record.id] = line if line.endswith(b"\n") else line + b"\n"
    return kept


def update_corpus(old: Corpus, corpus: Corpus, out: Path, target_words: int) -> list[Path]:
    """:func:`write_corpus` for a corpus made from ``old`` (documents added or removed): the lines
    of records that did not change are copied from ``old``'s files rather than encoded again, so
    adding a document to 100,000 passages costs a copy, not a rewrite. The files come out exactly
    as :func:`write_corpus` writes them."""
    unchanged = {"documents.jsonl": (old.documents, corpus.documents, _document_record),
                 "passages.jsonl": (old.passages, corpus.passages, _passage_record)}
    contents: dict[str, bytes] = {}
    for name, (before, after, record) in unchanged.items():
        kept = _kept_lines(out / name, before) or {}
        same = {r.id: r for r in before}
        contents[name] = b"".join(
            kept[r.id] if r.id in kept and same.get(r.id) == r else _jsonl([record(r)]).encode("utf-8")
            for r in after)
    return write_corpus(corpus, out, target_words, contents)


def write_corpus(corpus: Corpus, out: Path, target_words: int,
                 contents: dict[str, bytes] | None = None) -> list[Path]:
    """Write the corpus as files a person can read and diff; returns the files written.
    ``contents``: files already encoded (by :func:`update_corpus`)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusError(f"{out}: cannot create the corpus folder ({exc.strerror or exc})") from None
    contents = contents or {}
    files = {
        "documents.jsonl": contents.get("documents.jsonl") or _jsonl(_document_record(d) for d in corpus.documents),
        "passages.jsonl": contents.get("passages.jsonl") or _jsonl(_passage_record(p) for p in corpus.passages),
        "manifest.json": _manifest(target_words, len(corpus.documents), len(corpus.passages)),
    }
    try:  # every file is made before any is written: a failure leaves the old corpus as it was
        data = {name: content if isinstance(content, bytes) else content.encode("utf-8")
                for name, content in files.items()}
    except UnicodeEncodeError as exc:
        raise CorpusError(f"{out}: cannot write the corpus (text that is not valid UTF-8: {exc.reason})") from None
    with _written_aside(out, list(data)) as temporary:
        for name, content in data.items():
            temporary[name].write_bytes(content)
    return [out / name for name in data]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CorpusError(f"{path}: not valid UTF-8") from None
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _read_jsonl(path: Path) -> Iterator[dict]:
    """The file's records, one line at a time (a corpus file is never held whole as text)."""
    if not path.is_file():
        raise CorpusError(f"{path}: missing (build the corpus with `qa-service index SRC --out DIR`)")
    try:
        with open(path, encoding="utf-8", newline=None) as f:
            for number, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        value = json.loads(line)
                    except (ValueError, RecursionError):
                        value = None
                    # the message, naming the line, is made only for a bad one
                    yield value if type(value) is dict else _json_object(line, f"{path}:{number}")
    except UnicodeDecodeError:
        raise CorpusError(f"{path}: not valid UTF-8") from None
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _json_object(text: str, where: str) -> dict:
    """``text`` as a JSON object, or one line saying what is wrong with it and where."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{where}: invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise CorpusError(f"{where}: invalid JSON (nested too deeply)") from None
    if not isinstance(value, dict):
        raise CorpusError(f"{where}: expected a JSON object")
    return value


def _field(record: dict, name: str, kind: type, where: str):
    value = record.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CorpusError(f"{where}: field {name!r} must be {kind.__name__}")
    return value


def _check_manifest(folder: Path, documents: int, passages: int) -> None:
    """The manifest says which format wrote the folder and how much it holds; a folder edited
    by hand or half-copied disagrees with it."""
    path = folder / "manifest.json"
    if not path.is_file():
        raise CorpusError(f"{path}: missing (build the corpus with `qa-service index SRC --out DIR`)")
    manifest = _json_object(_read_text(path), str(path))
    if manifest.get("format") != CORPUS_FORMAT:
        raise CorpusError(f"{path}: corpus format {manifest.get('format')!r}, this version reads {CORPUS_FORMAT}; "
                          "rebuild it with `qa-service index`")
    for name, found in (("documents", documents), ("passages", passages)):
        if manifest.get(name) != found:
            raise CorpusError(f"{path}: says {manifest.get(name)!r} {name}, the folder holds {found}")


def load_corpus(folder: Path) -> Corpus:
    """Read and check a corpus written by :func:`write_corpus`, with its question set if any.

    A well-formed corpus is read by msgspec (typed JSON Lines, in C: a million passages in about
    4 s rather than 20); anything it does not take is read again line by line, which says what is
    wrong and where in one line (the same checks, the same result)."""
    if not folder.is_dir():
        raise CorpusError(f"{folder}: corpus folder not found")
    loaded = _load_fast(folder)
    documents, passages = loaded if loaded is not None else _load_careful(folder)
    _check_manifest(folder, len(documents), len(passages))
    questions = folder / "questions.jsonl"
    return Corpus(tuple(documents), tuple(passages), tuple(load_questions(questions)) if questions.is_file() else ())


class _DocumentRecord(msgspec.Struct):
    """A line of ``documents.jsonl`` as msgspec checks it: :class:`Document`'s fields, the optional
    ones UNSET when absent (an explicit null is refused, as the careful reader refuses it)."""

    id: str
    title: str
    source: str
    sha256: str
    text: str
    kind: str | msgspec.UnsetType = msgspec.UNSET
    pages: int | msgspec.UnsetType = msgspec.UNSET


class _PassageRecord(msgspec.Struct):
    """A line of ``passages.jsonl``: :class:`Passage`'s fields, pages UNSET when absent."""

    id: str
    document: str
    index: int
    start: int
    end: int
    text: str
    page: int | msgspec.UnsetType = msgspec.UNSET
    last_page: int | msgspec.UnsetType = msgspec.UNSET


_BLOCK_BYTES = 16 << 20  # corpus files are decoded this much at a time, never held whole


def _records_fast(path: Path, kind: type) -> list | None:
    """Every record of a JSON Lines file as ``kind`` (msgspec), or None when a line is not one
    (or the file cannot be read): the careful reader then says what is wrong."""
    decoder = msgspec.json.Decoder(kind)
    out: list = []
    try:
        with open(path, "rb") as f:
            rest = b""
            while block := f.read(_BLOCK_BYTES):
                block = rest + block
                cut = block.rfind(b"\n") + 1
                rest = block[cut:]
                out.extend(decoder.decode_lines(block[:cut]))
            out.extend(decoder.decode_lines(rest))
    except (OSError, msgspec.MsgspecError):
        return None
    return out


def _load_fast(folder: Path) -> tuple[list[Document], list[Passage]] | None:
    """The documents and passages, checked as :func:`_load_careful` checks them, or None when
    anything is off (that reader then says what)."""
    records = _records_fast(folder / "documents.jsonl", _DocumentRecord)
    if records is None:
        return None
    documents = []
    for r in records:
        if r.kind is not msgspec.UNSET and r.kind not in KINDS or r.pages is not msgspec.UNSET and r.pages < 1:
            return None
        documents.append(Document(r.id, r.title, r.source, r.sha256, r.text,
                                  **{name: getattr(r, name) for name in ("kind", "pages")
                                     if getattr(r, name) is not msgspec.UNSET}))
    by_id = {d.id: d for d in documents}
    if len(by_id) != len(documents) or not documents:
        return None
    records = _records_fast(folder / "passages.jsonl", _PassageRecord)
    if not records:
        return None
    passages = []
    seen: set[str] = set()
    unset = msgspec.UNSET
    for r in records:
        doc = by_id.get(r.document)
        if doc is None or r.id in seen or not 0 <= r.start <= r.end <= len(doc.text) \
                or r.end - r.start != len(r.text) or not doc.text.startswith(r.text, r.start) or not r.text.strip():
            return None  # (the text at start:end, compared in place)
        seen.add(r.id)
        if r.page is unset and r.last_page is unset:
            passages.append(Passage(r.id, r.document, r.index, r.start, r.end, r.text))
            continue
        last = r.page if r.last_page is unset else r.last_page
        if r.page is unset or r.page < 1 or last < r.page or doc.pages is not None and last > doc.pages:
            return None
        passages.append(Passage(r.id, r.document, r.index, r.start, r.end, r.text, r.page, last))
    return documents, passages


def _load_careful(folder: Path) -> tuple[list[Document], list[Passage]]:
    """The documents and passages, read line by line: the first thing wrong raises
    :class:`CorpusError` naming the file, the line and what."""
    documents = []
    for n, r in enumerate(_read_jsonl(folder / "documents.jsonl"), start=1):
        where = f"{folder / 'documents.jsonl'}:{n}"
        documents.append(Document(*(_field(r, f, str, where) for f in ("id", "title", "source", "sha256", "text")),
                                  **_document_extras(r, where)))
    by_id = {d.id: d for d in documents}
    if len(by_id) != len(documents):
        raise CorpusError(f"{folder / 'documents.jsonl'}: duplicate document ids")
    passages = []
    seen: set[str] = set()
    name = str(folder / "passages.jsonl")
    for n, r in enumerate(_read_jsonl(folder / "passages.jsonl"), start=1):
        values = (r.get("id"), r.get("document"), r.get("index"), r.get("start"), r.get("end"), r.get("text"))
        if tuple(map(type, values)) != _PASSAGE_TYPES:  # the line is named only when something is wrong
            where = f"{name}:{n}"
            values = tuple(_field(r, f, kind, where) for f, kind in zip(_PASSAGE_FIELDS, _PASSAGE_TYPES))
        p = Passage(*values)
        if "page" in r or "last_page" in r:
            p = replace(p, **_passage_pages(r, by_id.get(p.document), f"{name}:{n}"))
        doc = by_id.get(p.document)
        if doc is None or p.id in seen or not 0 <= p.start <= p.end <= len(doc.text) \
                or doc.text[p.start : p.end] != p.text or not p.text.strip():
            _refuse_passage(p, doc, seen, f"{name}:{n}")
        seen.add(p.id)
        passages.append(p)
    if not passages:
        raise CorpusError(f"{folder / 'passages.jsonl'}: no passages")
    return documents, passages


def _document_extras(record: dict, where: str) -> dict:
    """A document's optional fields, checked when present (an older corpus has none)."""
    extras: dict = {}
    if "kind" in record:
        kind = record["kind"]
        if kind not in KINDS:
            raise CorpusError(f"{where}: field 'kind' must be one of {', '.join(KINDS)}")
        extras["kind"] = kind
    if "pages" in record:
        extras["pages"] = _page_number(record, "pages", where)
    return extras


def _page_number(record: dict, name: str, where: str) -> int:
    value = record[name]
    if type(value) is not int or value < 1:
        raise CorpusError(f"{where}: field {name!r} must be a whole number from 1")
    return value


def _passage_pages(record: dict, doc: Document | None, where: str) -> dict:
    """A passage's pages, checked: whole numbers from 1, in order, within the document's pages."""
    if "page" not in record:
        raise CorpusError(f"{where}: field 'last_page' without 'page'")
    page = _page_number(record, "page", where)
    last = _page_number(record, "last_page", where) if "last_page" in record else page
    if last < page:
        raise CorpusError(f"{where}: 'page' {page} is after 'last_page' {last}")
    if doc is not None and doc.pages is not None and last > doc.pages:
        raise CorpusError(f"{where}: page {last} of a document of {doc.pages} pages")
    return {"page": page, "last_page": last}


_PASSAGE_FIELDS = ("id", "document", "index", "start", "end", "text")
_PASSAGE_TYPES = (str, str, int, int, int, str)


def _refuse_passage(p: Passage, doc: Document | None, seen: set[str], where: str) -> None:
    """One line saying what is wrong with a passage record."""
    if doc is None:
        raise CorpusError(f"{where}: unknown document {p.document!r}")
    if p.id in seen:
        raise CorpusError(f"{where}: duplicate passage id {p.id!r}")
    if not 0 <= p.start <= p.end <= len(doc.text) or doc.text[p.start : p.end] != p.text:
        raise CorpusError(f"{where}: text does not match the document at {p.start}:{p.end}")
    raise CorpusError(f"{where}: empty passage")


def load_questions(path: Path) -> list[Question]:
    """A JSON Lines question set (schema in the README); :class:`CorpusError` names the bad line."""
    if not path.is_file():
        raise CorpusError(f"{path}: question file not found")
    questions: list[Question] = []
    seen: set[str] = set()
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if line.strip():
            questions.append(_question(line, f"{path}:{number}", seen))
    if not questions:
        raise CorpusError(f"{path}: no questions")
    return questions


def _question(line: str, where: str, seen: set[str]) -> Question:
    r: Any = _json_object(line, where)
    qid, text = r.get("id"), r.get("question")
    answers, history = r.get("answers", []), r.get("history", [])
    if not isinstance(qid, str) or not qid or qid in seen:
        raise CorpusError(f"{where}: 'id' must be a unique non-empty string")
    if not isinstance(text, str) or not text.strip():
        raise CorpusError(f"{where}: 'question' must be a non-empty string")
    for name, value in (("answers", answers), ("history", history), ("passages", r.get("passages", []))):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CorpusError(f"{where}: '{name}' must be a list of strings")
    qtype = r.get("type", "fact" if answers else "unanswerable")
    if qtype not in QUESTION_TYPES:
        raise CorpusError(f"{where}: 'type' must be one of {', '.join(QUESTION_TYPES)}")
    if (qtype == "unanswerable") != (not answers):
        raise CorpusError(f"{where}: unanswerable questions, and only they, have no answers")
    seen.add(qid)
    return Question(qid, text, tuple(answers), qtype, tuple(history), tuple(r.get("passages", [])))
