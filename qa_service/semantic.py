"""Meaning, not only words: sentence vectors of the corpus, and the hybrid re-ranker.

Every sentence of every passage gets a unit vector from the encoder, computed once and saved
beside the corpus (plain ``sentence-vectors.npy``, read with allow_pickle=False). Beside it, a fingerprint of the
encoder and the sentences, and the file's own sha256: a stale or damaged file is rebuilt, not
served. The question's vector comes with the :class:`Query`; stages compare it with a
passage's sentences by dot product (cosine).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import sys
import threading
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .encode import Encoder
from .errors import CorpusError
from .text import sentence_spans
from .values import Hit, Passage, Query

__all__ = ["SemanticReranker", "SentenceVectors", "VECTORS_FILE", "drop_vectors", "extend_vectors", "load_or_build",
           "encode_cached", "load_matrix", "minmax", "save_matrix", "sentence_texts", "terminal_progress",
           "vectors_digest"]

VECTORS_FILE = "sentence-vectors.npy"
VECTORS_META = "sentence-vectors.json"
_log = logging.getLogger(__name__)
# Corpus sentences already encoded in this process (by encoder and text): a corpus loaded again,
# or the same paragraphs pooled another way by `eval`, costs nothing twice. Never user input.
_SEEN: dict[tuple[str, str], np.ndarray] = {}
_SEEN_LIMIT = 50_000
_BATCH = 256  # sentences per encoder call while building, so progress can be shown


class SentenceVectors:
    """Unit vectors of every passage's sentences, in index order: rows ``offsets[p]:offsets[p+1]``
    belong to the passage at position ``p``, one per sentence as ``text.sentence_spans`` splits it."""

    def __init__(self, matrix: np.ndarray, offsets: np.ndarray, fingerprint: str) -> None:
        if matrix.ndim != 2 or offsets.ndim != 1 or int(offsets[-1]) != len(matrix):
            raise ValueError("sentence vectors and their offsets disagree")
        self.matrix = matrix
        self.offsets = offsets
        self.fingerprint = fingerprint

    def cosines(self, vector: np.ndarray, position: int) -> np.ndarray:
        """Cosine of ``vector`` with each sentence of the passage at ``position``."""
        return self.matrix[self.offsets[position] : self.offsets[position + 1]] @ vector

    def nearest(self, vector: np.ndarray, k: int) -> list[int]:
        """Positions of the ``k`` passages whose best sentence is closest to ``vector``, closest first."""
        if k < 1 or not len(self.matrix):
            return []
        best = np.full(len(self.offsets) - 1, -np.inf)
        starts = self.offsets[:-1]
        filled = starts < self.offsets[1:]  # a passage without sentences has no vector
        best[filled] = np.maximum.reduceat(self.matrix @ vector, starts[filled])
        k = min(k, int(filled.sum()))
        top = np.argpartition(-best, k - 1)[:k] if k < len(best) else np.arange(len(best))
        return [int(i) for i in sorted(top, key=lambda i: (-best[i], i)) if np.isfinite(best[i])]


def sentence_texts(passages: Sequence[Passage]) -> tuple[list[str], np.ndarray]:
    """Every passage's sentences in order, and where each passage's run starts."""
    texts: list[str] = []
    offsets = [0]
    for p in passages:
        texts.extend(p.text[a:b] for a, b in sentence_spans(p.text))
        offsets.append(len(texts))
    return texts, np.array(offsets, dtype=np.int64)


def _digest(encoder: Encoder, texts: Sequence[str], offsets: np.ndarray) -> str:
    """What the vectors depend on: the encoder, and each passage's sentences."""
    h = hashlib.sha256(encoder.fingerprint.encode())
    h.update(offsets.tobytes())
    for text in texts:
        h.update(text.encode("utf-8") + b"\x00")
    return h.hexdigest()


def _encode(encoder: Encoder, texts: list[str], progress: Callable[[int, int], None] | None) -> np.ndarray:
    return encode_cached(encoder, texts, _SEEN, _SEEN_LIMIT, progress=progress)


def encode_cached(encoder: Encoder, texts: Sequence[str], cache: dict[tuple[str, str], np.ndarray], limit: int, *,
                  max_tokens: int | None = None, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """The vectors of ``texts`` (float32, one row each), encoding only those ``cache`` lacks, in
    batches (``progress(done, total)`` after each), then keeping them there (emptied first when
    it would hold more than ``limit``)."""
    matrix = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    todo = []
    for i, text in enumerate(texts):
        seen = cache.get((encoder.fingerprint, text))
        if seen is None:
            todo.append(i)
        else:
            matrix[i] = seen
    for start in range(0, len(todo), _BATCH):
        rows = todo[start : start + _BATCH]
        matrix[rows] = encoder.encode([texts[i] for i in rows], max_tokens=max_tokens)
        if progress is not None:
            progress(min(start + _BATCH, len(todo)), len(todo))
    if len(cache) + len(todo) > limit:
        cache.clear()
    for i in todo[:limit]:
        cache[(encoder.fingerprint, texts[i])] = matrix[i]
    return matrix


def terminal_progress(what: str) -> Callable[[int, int], None]:
    """A progress line on stderr: "embedding <what> done/total (n%)"."""

    def show(done: int, total: int) -> None:
        sys.stderr.write(f"\rqa-service: embedding {what} {done}/{total} ({100 * done // max(total, 1)}%)")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


_terminal_progress = terminal_progress("sentences")


def load_or_build(passages: Sequence[Passage], encoder: Encoder, folder: Path | None = None,
                  show_progress: bool | None = None) -> SentenceVectors:
    """The corpus's sentence vectors: read from ``folder`` when they were made by this encoder
    for these sentences, else computed (with a progress line on a terminal) and saved there
    when the folder is writable."""
    texts, offsets = sentence_texts(passages)
    digest = _digest(encoder, texts, offsets)
    if folder is not None:
        loaded = _load(folder, digest, len(texts), encoder.dim)
        if loaded is not None:
            return SentenceVectors(loaded, offsets, encoder.fingerprint)
    if show_progress is None:
        show_progress = sys.stderr.isatty() and len(texts) > _BATCH
    matrix = _encode(encoder, texts, _terminal_progress if show_progress else None)
    if folder is not None:
        save(folder, matrix, digest, encoder.fingerprint, strict=False)
    return SentenceVectors(matrix, offsets, encoder.fingerprint)


def _load(folder: Path, digest: str, rows: int, dim: int) -> np.ndarray | None:
    return load_matrix(folder, VECTORS_FILE[: -len(".npy")], digest, rows, dim)


def _what(stem: str) -> str:
    """What a file of vectors holds, as its meta file names it: sentences (the first kind) or words."""
    return stem.split("-")[0] + "s"


def load_matrix(folder: Path, stem: str, digest: str, rows: int, dim: int) -> np.ndarray | None:
    """The saved vectors ``<stem>.npy`` if they were made by this encoder for these texts (the
    ``digest`` in ``<stem>.json``) and the file is whole (its own sha256 matches); None means:
    compute them again."""
    what = _what(stem)
    meta_path, path = folder / f"{stem}.json", folder / f"{stem}.npy"
    if not meta_path.is_file() or not path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get(f"{what}_sha256") != digest:
            return None  # another encoder or other texts: rebuild, never serve stale vectors
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != meta.get("file_sha256"):
            raise ValueError("the file does not match the sha256 recorded beside it")
        matrix = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - whatever is wrong with the file, it is computed again
        _log.warning("qa-service: %s cannot be used (%s); computing the %s vectors again", path, exc, what[:-1])
        return None
    if matrix.dtype != np.float32 or matrix.shape != (rows, dim) or not np.isfinite(matrix).all():
        _log.warning("qa-service: %s does not hold %d finite vectors; computing them again", path, rows)
        return None
    return matrix


def save(folder: Path, matrix: np.ndarray, digest: str, fingerprint: str, strict: bool) -> None:
    """Write the sentence vectors (see :func:`save_matrix`)."""
    save_matrix(folder, VECTORS_FILE[: -len(".npy")], matrix, digest, fingerprint, strict)


def save_matrix(folder: Path, stem: str, matrix: np.ndarray, digest: str, fingerprint: str, strict: bool) -> None:
    """Write ``<stem>.npy``, then what it was made from, ``<stem>.json`` (each to a temporary
    name, then renamed, so a crash leaves no half file that looks current). A folder that
    cannot take them is a :class:`CorpusError` when ``strict`` (``index``), else a warning
    (``serve`` keeps them in memory)."""
    what = _what(stem)
    buffer = io.BytesIO()
    np.save(buffer, matrix, allow_pickle=False)
    data = buffer.getvalue()
    meta = json.dumps({"encoder": fingerprint, what: int(matrix.shape[0]), "dim": int(matrix.shape[1]),
                       f"{what}_sha256": digest, "file_sha256": hashlib.sha256(data).hexdigest()},
                      indent=2) + "\n"
    unique = f"{os.getpid()}-{threading.get_ident()}"  # the processes of `serve --workers` may save at once
    try:
        for name, content in ((f"{stem}.npy", data), (f"{stem}.json", meta.encode("utf-8"))):
            temporary = folder / f".{name}.{unique}.tmp"
            temporary.write_bytes(content)
            os.replace(temporary, folder / name)
    except OSError as exc:
        if strict:
            raise CorpusError(f"{folder}: cannot write the {what[:-1]} vectors ({exc.strerror or exc})") from None
        _log.warning("qa-service: cannot save the %s vectors in %s (%s); they are kept in memory",
                     what[:-1], folder, exc.strerror or exc)


def write_vectors(passages: Sequence[Passage], encoder: Encoder, folder: Path) -> SentenceVectors:
    """For ``qa-service index``: compute them (progress on a terminal) and save them, or fail."""
    texts, offsets = sentence_texts(passages)
    matrix = _encode(encoder, texts, _terminal_progress if sys.stderr.isatty() and len(texts) > _BATCH else None)
    save(folder, matrix, _digest(encoder, texts, offsets), encoder.fingerprint, strict=True)
    return SentenceVectors(matrix, offsets, encoder.fingerprint)


def extend_vectors(vectors: SentenceVectors, new_passages: Sequence[Passage], encoder: Encoder) -> SentenceVectors:
    """``vectors`` with the sentences of ``new_passages`` appended, encoding only those: what
    ``load_or_build`` gives for the old passages followed by the new ones. To save them, pass
    ``vectors_digest`` of all the passages to ``save``."""
    if vectors.fingerprint != encoder.fingerprint:
        raise ValueError("the sentence vectors were made by another encoder")
    texts, offsets = sentence_texts(new_passages)
    matrix = _encode(encoder, texts, None)
    return SentenceVectors(np.concatenate([vectors.matrix, matrix]),
                           np.concatenate([vectors.offsets, offsets[1:] + vectors.offsets[-1]]), vectors.fingerprint)


def drop_vectors(vectors: SentenceVectors, keep: np.ndarray | Sequence[int]) -> SentenceVectors:
    """The vectors of the passages at the positions ``keep`` (or where the boolean mask ``keep`` is
    true), in their order: nothing is encoded."""
    counts = np.diff(vectors.offsets)
    mask = np.asarray(keep)
    if mask.dtype != bool:
        positions = mask.astype(np.int64).reshape(-1)
        if len(positions) and (positions.min() < 0 or positions.max() >= len(counts)):
            raise ValueError(f"keep: positions must be in 0..{len(counts) - 1}")
        mask = np.zeros(len(counts), dtype=bool)
        mask[positions] = True
    elif mask.shape != counts.shape:
        raise ValueError(f"a mask of what to keep needs {len(counts)} entries, not {mask.shape}")
    offsets = np.zeros(int(mask.sum()) + 1, dtype=np.int64)
    np.cumsum(counts[mask], out=offsets[1:])
    return SentenceVectors(vectors.matrix[np.repeat(mask, counts)], offsets, vectors.fingerprint)


def vectors_digest(passages: Sequence[Passage], encoder: Encoder) -> str:
    """What ``save`` records beside vectors of ``passages``, so that ``load_or_build`` over the
    same passages reads them instead of encoding again."""
    texts, offsets = sentence_texts(passages)
    return _digest(encoder, texts, offsets)


def minmax(values: np.ndarray) -> np.ndarray:
    """``values`` spread over [0, 1] (all 0 when they are all equal)."""
    if not len(values):
        return values
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


@dataclass(frozen=True)
class SemanticReranker:
    """Mixes meaning into the passage order: each hit's score relative to the top one, plus
    ``weight`` x its best sentence's cosine with the question, spread over [0, 1] across the
    hits (0 = keep the order it is given). ``depth``: how many hits it wants from the retriever."""

    vectors: SentenceVectors
    _: KW_ONLY
    weight: float
    depth: int

    def rerank(self, query: Query, hits: list[Hit]) -> list[Hit]:
        if not hits or query.vector is None:
            return hits
        best = np.array([float(self.vectors.cosines(query.vector, h.position).max(initial=-1.0)) for h in hits])
        if self.weight <= 0:  # the order stays; the cosine is still shown beside the other scores
            return [Hit(h.passage, h.position, h.score, h.rank, h.matched, {**h.scores, "semantic": float(b)})
                    for h, b in zip(hits, best)]
        spread = minmax(best)
        top = hits[0].score if hits[0].score > 0 else 1.0
        mixed = [h.score / top + self.weight * float(s) for h, s in zip(hits, spread)]
        order = sorted(range(len(hits)), key=lambda i: (-mixed[i], i))
        return [Hit(hits[i].passage, hits[i].position, mixed[i], rank, hits[i].matched,
                    {**hits[i].scores, "semantic": float(best[i])})
                for rank, i in enumerate(order, start=1)]
