"""Adding documents to a corpus and removing them, on a running server or offline.

A change never touches the pipeline that is answering: the new corpus, its index and its
sentence vectors are made aside (only the new passages are tokenised and embedded; the
statistics of the rest are updated, not rebuilt), written to the corpus folder, and a new
pipeline is built around them for the caller to swap in. A file that cannot be read refuses
the whole change, with its name, and leaves the corpus folder as it was.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time

import numpy as np
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Sequence

from .config import Settings
from .errors import Conflict, CorpusError, EmptyCorpusError, IngestError, NotFound
from .index import drop_data, extend_data
from .ingest import ingest_bytes, update_corpus
from .pipeline import Pipeline, build_pipeline
from .neighbours import WordNeighbours, save_neighbours
from .semantic import SentenceVectors, drop_vectors, extend_vectors, save, vectors_digest
from .values import Corpus, Document, Passage

__all__ = ["Change", "Upload", "add_documents", "remove_documents", "upload_name"]

_log = logging.getLogger(__name__)

_MAX_NAME_BYTES = 255  # a file name longer than this cannot be written on most file systems


@dataclass(frozen=True)
class Upload:
    """One file to add: its name as the client gave it (only the last part is kept) and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Change:
    """What a change did, and the pipeline that serves its result."""

    pipeline: Pipeline
    added: tuple[Document, ...] = ()
    passages: tuple[Passage, ...] = ()  # the added documents' passages
    removed: tuple[Document, ...] = ()
    took_ms: float = 0.0


def upload_name(name: str) -> str:
    """The file name to keep: its last path part (a client may send ``C:\\docs\\a.pdf`` or ``../a``),
    or :class:`IngestError` when nothing usable is left."""
    shown = " ".join(str(name).split())[:80] or "(no name)"
    path = str(name).replace("\\", "/")
    base = "" if path.endswith("/") else PurePosixPath(path).name.strip()
    if not base or base in (".", "..") or "\x00" in base or any(ord(c) < 32 for c in base):
        raise IngestError(f"{shown}: not a usable file name")
    if len(base.encode("utf-8", "surrogatepass")) > _MAX_NAME_BYTES:
        raise IngestError(f"{shown}: the file name is longer than {_MAX_NAME_BYTES} bytes")
    try:
        base.encode("utf-8")
    except UnicodeEncodeError:
        raise IngestError(f"{shown}: the file name is not valid UTF-8") from None
    return base


def _passage_words(folder: Path | None, settings: Settings) -> int:
    """The passage size the corpus was made with (its manifest says), so new passages match the old."""
    if folder is not None:
        try:
            words = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("passage_words")
            if isinstance(words, int) and not isinstance(words, bool) and words > 0:
                return words
        except (OSError, ValueError, AttributeError):
            pass
    return settings.passage_words


def _ingest(uploads: Sequence[Upload], target_words: int, corpus: Corpus) -> list[tuple[Document, list[Passage]]]:
    """Every upload read and split, or the first one that cannot be, named, with nothing changed."""
    if not uploads:
        raise IngestError("no files given")
    known = {d.id: d for d in corpus.documents}
    by_hash = {d.sha256: d for d in corpus.documents}
    read: list[tuple[Document, list[Passage]]] = []
    for upload in uploads:
        name = upload_name(upload.name)
        document, passages = ingest_bytes(upload.data, name, target_words)
        if document.sha256 in by_hash:
            raise Conflict(f"{name}: already in the corpus, as the document {by_hash[document.sha256].id!r}")
        if document.id in known:
            raise Conflict(f"{name}: the corpus already has a document with the id {document.id!r}; "
                           "remove that one first, or rename the file")
        if not passages:
            raise IngestError(f"{name}: no text to index")
        known[document.id] = document
        by_hash[document.sha256] = document
        read.append((document, passages))
    return read


def _persist(old: Corpus, corpus: Corpus, pipeline: Pipeline, folder: Path, target_words: int) -> None:
    """The corpus files first (each written aside, then renamed; the lines of what did not change
    copied), then its index and vectors, which are checked against the passages when loaded: a
    crash between them costs a rebuild at the next start, never a wrong answer."""
    update_corpus(old, corpus, folder, target_words)
    try:
        pipeline.index.data.save(folder)
    except OSError as exc:
        _log.warning("qa-service: cannot save the index in %s (%s); it is rebuilt at the next start",
                     folder, exc.strerror or exc)
    if pipeline.vectors is not None and pipeline.analyser.encoder is not None:
        encoder = pipeline.analyser.encoder
        save(folder, pipeline.vectors.matrix, vectors_digest(corpus.passages, encoder), encoder.fingerprint,
             strict=False)
        words = _words(pipeline)
        if words is not None:
            save_neighbours(words, folder)


def _words(pipeline: Pipeline) -> WordNeighbours | None:
    """The word vectors of a pipeline's corpus, for the next one to reuse."""
    words = pipeline.analyser.neighbours
    return words if isinstance(words, WordNeighbours) else None


def _within(settings: Settings, passages: int) -> bool:
    """Whether sentence meaning stays on for a corpus of this size (``build_pipeline`` decides alike)."""
    return passages <= settings.semantic_max_passages


def _settings(pipeline: Pipeline, settings: Settings | None) -> Settings:
    """The settings the pipeline was built with: the next one is built alike."""
    return pipeline.settings or settings or Settings()


def add_documents(pipeline: Pipeline, uploads: Sequence[Upload], folder: Path | None,
                  settings: Settings | None = None) -> Change:
    """The corpus of ``pipeline`` with ``uploads`` added (written to ``folder`` when given)."""
    started = time.perf_counter()
    settings = _settings(pipeline, settings)
    old = pipeline.corpus
    target_words = _passage_words(folder, settings)
    read = _ingest(uploads, target_words, old)
    documents = tuple(d for d, _ in read)
    passages = tuple(p for _, ps in read for p in ps)
    corpus = Corpus(old.documents + documents, old.passages + passages, old.questions)
    # only the new passages are tokenised and embedded; the rest of the index is reused
    data = extend_data(pipeline.index.data, passages, pipeline.index.tokenizer, old.passages)
    vectors: SentenceVectors | None = None
    encoder = pipeline.analyser.encoder
    if pipeline.vectors is not None and encoder is not None and _within(settings, len(corpus.passages)):
        vectors = extend_vectors(pipeline.vectors, passages, encoder)
    new = build_pipeline(settings, corpus, data=data, vectors=vectors, words=_words(pipeline))
    if folder is not None:
        _persist(old, corpus, new, folder, target_words)
    return Change(new, added=documents, passages=passages, took_ms=(time.perf_counter() - started) * 1000)


def remove_documents(pipeline: Pipeline, ids: Sequence[str], folder: Path | None,
                     settings: Settings | None = None) -> Change:
    """The corpus of ``pipeline`` without the documents ``ids`` (written to ``folder`` when given)."""
    started = time.perf_counter()
    settings = _settings(pipeline, settings)
    old = pipeline.corpus
    removed = []
    for doc_id in ids:
        document = old.document(doc_id)
        if document is None:
            raise NotFound(f"no document with id {doc_id!r}")
        removed.append(document)
    gone = {d.id for d in removed}
    documents = tuple(d for d in old.documents if d.id not in gone)
    if not documents:
        raise Conflict("a corpus needs at least one document: add another before removing this one")
    keep = np.fromiter((p.document not in gone for p in old.passages), dtype=bool, count=len(old.passages))
    corpus = Corpus(documents, tuple(p for p, kept in zip(old.passages, keep) if kept), old.questions)
    try:
        data = drop_data(pipeline.index.data, keep, pipeline.index.tokenizer, old.passages)
    except EmptyCorpusError:
        raise Conflict("what would be left has no searchable words: add another document first") from None
    vectors = drop_vectors(pipeline.vectors, keep) if pipeline.vectors is not None else None
    new = build_pipeline(settings, corpus, data=data, vectors=vectors, words=_words(pipeline))
    if folder is not None:
        _persist(old, corpus, new, folder, _passage_words(folder, settings))
    return Change(new, removed=tuple(removed), took_ms=(time.perf_counter() - started) * 1000)


def check_folder(folder: Path) -> None:
    """A folder changes can be written to, or :class:`CorpusError` saying why (before any work is done)."""
    if not folder.is_dir():
        raise CorpusError(f"{folder}: corpus folder not found")
    try:  # a name of its own: the processes of `serve --workers` check the one folder at the same time
        descriptor, probe = tempfile.mkstemp(prefix=".qa-write-probe-", suffix=".tmp", dir=folder)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as exc:
        raise CorpusError(f"{folder}: cannot write to the corpus folder ({exc.strerror or exc})") from None
