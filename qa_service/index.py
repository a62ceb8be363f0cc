"""The retriever: passages in, a :class:`Query` in, ranked :class:`Hit` objects out.

Scores are rank-bm25's own (``BM25Plus``/``BM25L``/``BM25Okapi(...).get_scores``, to the bit), but
computed from column-wise postings (the CSC layout of scipy.sparse, as plain numpy arrays) for the
query's terms only, so a question costs what its terms' postings cost, not a Python loop over
every passage; on a large corpus ``search`` scores only the passages that may reach its top k
(MaxScore over per-block bounds, exact). Around it: passages that match nothing are never returned, ties keep passage
order, per-term query weights, a clear refusal of corpora it cannot score, the vocabulary
look-ups the query analyser needs, and every passage's tokens and sentences as arrays, saved
beside the corpus by ``qa-service index`` (``.npy`` + JSON: plain arrays and text, no serialised objects) and memory-mapped by
``serve``.
"""

from __future__ import annotations

import bisect
from array import array
import dataclasses
import hashlib
import itertools
import json
import logging
import math
import os
import re
import shutil
import string
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import CorpusError, EmptyCorpusError
from .spans import acronym_pairs
from .text import TOKENIZER_VERSION, Token, Tokenizer, merge_spans, sentence_spans, term_libraries
from .values import Hit, Passage, Query, Span

__all__ = ["INDEX_DIR", "Index", "IndexBuilder", "IndexData", "SCORERS", "TokenisedPassages", "build_data", "drop_data", "extend_data", "fingerprint", "load_data", "load_or_build_data", "tokenise_passages"]

# rank-bm25's class for each variant: what our scores must equal (the parity tests build them).
SCORERS = {"plus": "BM25Plus", "l": "BM25L", "okapi": "BM25Okapi"}
OKAPI_EPSILON = 0.25  # rank-bm25's default floor for BM25Okapi's negative IDFs (x the average IDF)

INDEX_DIR = "bm25-index"  # beside the corpus files
INDEX_FORMAT = 2  # 2: the postings' block maxima (blocks_max_tf, blocks_min_len) for pruned top-k search
_log = logging.getLogger(__name__)

# Longer "words" are not misspellings worth guessing at, and their candidate spellings grow as
# the square of their length.
_MAX_TYPO_LETTERS = 30
# Shorter terms share their first letters with too many unrelated words to guess a root from.
_MIN_ROOT_LETTERS = 5
# Below this a one-letter change is more often another word (cat/car) than a typo.
_MIN_TYPO_LETTERS = 6
_SIMILAR_CACHE_SIZE = 50_000  # entries; a guess is looked up again by follow-ups and later questions
_SMALL_CORPUS = 2048  # passages: a question's few candidates are scored from rows over the whole corpus
# Pruned search (Index._top_pruned): below these, scoring every candidate is as quick.
_PRUNE_MIN_PASSAGES = _SMALL_CORPUS
_PRUNE_MIN_POSTINGS = 32768  # the question's terms' postings (measured: below, pruning costs as much as it saves)
_PRUNE_MAX_K = 1000  # hits asked for
_PRUNE_POSTINGS_PER_HIT = 64  # and at least this many postings per hit asked for
_PRUNE_POOL = 256  # postings of the best-bounded blocks, scored first for a threshold
_PRUNE_BATCH = 256  # passages scored exactly at once, doubling each round
_SENTENCE_CACHE_SIZE = 4096  # passages whose sentences are kept decoded: the re-rankers read the top 20 again


# ---------------------------------------------------------------- the arrays


_ARRAYS = {  # name: dtype; every one a plain .npy file
    "postings_indptr": np.int64,  # term t's postings are [indptr[t], indptr[t + 1])
    "postings_docs": np.int32,  # passage positions, ascending within a term
    "postings_tf": np.int32,  # how often the term occurs in that passage
    "doc_len": np.int64,  # terms per passage (rank-bm25's doc_len)
    "tokens_offsets": np.int64,  # passage p's tokens are [offsets[p], offsets[p + 1])
    "tokens_term": np.int32,
    "tokens_start": np.int32,
    "tokens_end": np.int32,
    "sentences_offsets": np.int64,  # passage p's sentences are [offsets[p], offsets[p + 1])
    "sentences_start": np.int32,
    "sentences_end": np.int32,
    "acronyms_offsets": np.int64,  # passage p spells out the long forms of acronyms [offsets[p], offsets[p + 1])
    "acronyms_term": np.int32,  # ... as the acronyms' term ids, in definition order
    # Each term's postings in blocks of BLOCK (the last one shorter): term t's blocks are
    # [block_indptr[t], block_indptr[t + 1]) with block_indptr from postings_indptr (``_block_indptr``).
    # BM25 grows with tf and shrinks with the passage's length, whatever k1, b and delta, so these
    # bound every score in a block: ``search`` skips the blocks that cannot reach its top k.
    "blocks_max_tf": np.int32,  # the largest tf in the block
    "blocks_min_len": np.int64,  # the shortest passage (doc_len) in the block
}
BLOCK = 128  # postings per block


@dataclasses.dataclass(frozen=True)
class IndexData:
    """What BM25, highlights and sentences need, as flat arrays: postings by term (CSC), every
    passage's tokens and sentence spans. ``terms`` lists terms in order of first appearance
    (rank-bm25's order, which BM25Okapi's average IDF is summed in)."""

    terms: list[str]
    arrays: dict[str, np.ndarray]
    fingerprint: str
    acronyms: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)  # acronym -> long form's terms

    @property
    def size(self) -> int:
        return len(self.arrays["doc_len"])

    def save(self, folder: Path) -> None:
        """Write it as ``folder/bm25-index/`` (``.npy`` files and JSON), made aside and renamed into place."""
        target = folder / INDEX_DIR
        unique = f"{os.getpid()}-{threading.get_ident()}"  # two processes saving at once never share a folder
        temporary = folder / f".{INDEX_DIR}.{unique}.tmp"
        old = folder / f".{INDEX_DIR}.{unique}.old"
        temporary.mkdir(parents=True)
        files: dict[str, Any] = {}
        for name, array in self.arrays.items():
            path = temporary / f"{name}.npy"
            np.save(path, np.ascontiguousarray(array, dtype=_ARRAYS[name]), allow_pickle=False)
            files[f"{name}.npy"] = {"sha256": _file_sha256(path), "shape": list(array.shape)}
        terms = (json.dumps(self.terms, ensure_ascii=False) + "\n").encode("utf-8")
        (temporary / "terms.json").write_bytes(terms)
        files["terms.json"] = {"sha256": hashlib.sha256(terms).hexdigest(), "shape": [len(self.terms)]}
        acronyms = (json.dumps([[k, list(v)] for k, v in self.acronyms.items()], ensure_ascii=False) + "\n").encode()
        (temporary / "acronyms.json").write_bytes(acronyms)
        files["acronyms.json"] = {"sha256": hashlib.sha256(acronyms).hexdigest(), "shape": [len(self.acronyms)]}
        meta = {"format": INDEX_FORMAT, "fingerprint": self.fingerprint, "passages": self.size,
                "terms": len(self.terms), "files": files}
        (temporary / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        try:
            if target.exists():
                os.replace(target, old)
            os.replace(temporary, target)
        finally:
            shutil.rmtree(old, ignore_errors=True)
            shutil.rmtree(temporary, ignore_errors=True)


def _block_indptr(indptr: np.ndarray) -> np.ndarray:
    """Where each term's blocks of ``BLOCK`` postings start in the ``blocks_*`` arrays (CSC-like)."""
    out = np.zeros(len(indptr), dtype=np.int64)
    np.cumsum((np.diff(np.asarray(indptr, dtype=np.int64)) + (BLOCK - 1)) // BLOCK, out=out[1:])
    return out


def _block_stats(indptr: np.ndarray, docs: np.ndarray, tf: np.ndarray,
                 doc_len: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the largest tf, the shortest passage) in each block of ``BLOCK`` postings of each term,
    from the postings alone (so a build, an extension and a removal all agree), a few million
    postings at a time."""
    indptr = np.asarray(indptr, dtype=np.int64)
    counts = np.diff(indptr)
    blocks = (counts + (BLOCK - 1)) // BLOCK
    total = int(blocks.sum())
    max_tf, min_len = np.zeros(total, dtype=np.int32), np.zeros(total, dtype=np.int64)
    if not total:
        return max_tf, min_len
    first = np.zeros(len(blocks), dtype=np.int64)
    np.cumsum(blocks[:-1], out=first[1:])
    starts = np.repeat(indptr[:-1], blocks) + BLOCK * (np.arange(total, dtype=np.int64) - np.repeat(first, blocks))
    step = 1 << 16  # blocks per pass: at most 8M postings' lengths gathered at once
    for b0 in range(0, total, step):
        b1 = min(b0 + step, total)
        lo, hi = int(starts[b0]), int(starts[b1]) if b1 < total else int(indptr[-1])
        local = starts[b0:b1] - lo
        max_tf[b0:b1] = np.maximum.reduceat(np.asarray(tf[lo:hi]), local)
        min_len[b0:b1] = np.minimum.reduceat(np.asarray(doc_len)[np.asarray(docs[lo:hi])], local)
    return max_tf, min_len


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(passages: Iterable[Passage], tokenizer: Tokenizer) -> str:
    """What a saved index depends on: its format, the tokeniser (version, settings and the
    versions of the stemmer and lemmatiser it calls) and every passage's id and text, in order.
    BM25's parameters are not in it: they apply at load."""
    h = _fingerprint_hasher(tokenizer)
    _hash_passages(h, passages)
    return h.hexdigest()


def _fingerprint_hasher(tokenizer: Tokenizer) -> Any:
    return hashlib.sha256(json.dumps({"format": INDEX_FORMAT, "tokenizer_version": TOKENIZER_VERSION,
                                      "tokenizer": dataclasses.asdict(tokenizer),
                                      "libraries": term_libraries(tokenizer)}, sort_keys=True).encode())


def _hashed(passages: Sequence[Passage]) -> bytes:
    """What the fingerprint hashes for ``passages``: each id, NUL, its text, SOH, in UTF-8 (lone
    surrogates kept), encoded at once (UTF-8 of a concatenation is the concatenation of the UTF-8s)."""
    return "".join([f"{p.id}\x00{p.text}\x01" for p in passages]).encode("utf-8", "surrogatepass")


def _hash_passages(h: Any, passages: Iterable[Passage]) -> None:
    """:func:`_hashed` of ``passages``, a thousand at a time."""
    it = iter(passages)
    while batch := list(itertools.islice(it, 1000)):
        h.update(_hashed(batch))


class _Progress:
    """A line that rewrites itself on a terminal (passages/s, ETA); silent elsewhere."""

    def __init__(self, what: str, total: int, stream: Any) -> None:
        self.what, self.total, self.stream = what, total, stream
        self.started = self.shown = time.perf_counter()

    def __call__(self, done: int) -> None:
        now = time.perf_counter()
        if done < self.total and now - self.shown < 0.5:
            return
        self.shown = now
        rate = done / max(now - self.started, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else 0.0
        end = "\n" if done >= self.total else ""
        self.stream.write(f"\r\x1b[2Kqa-service: {self.what} {done:,}/{self.total:,} passages, "
                          f"{rate:,.0f}/s, ETA {eta:,.0f} s{end}")
        self.stream.flush()


@dataclasses.dataclass(frozen=True)
class TokenisedPassages:
    """Passages tokenised apart from any index (``qa-service index`` does it in worker processes):
    plain arrays over their own vocabulary, numbered in order of first appearance among them, which
    :meth:`IndexBuilder.add_tokenised` maps to the index's. ``hashed`` is what the fingerprint
    hashes for them; ``definitions`` the acronyms they define, in order."""

    count: int
    terms: tuple[str, ...]
    arrays: dict[str, np.ndarray]  # int32: tokens_term/start/end/count, post_term/tf/count, sentences_start/end/count
    definitions: tuple[tuple[str, tuple[str, ...]], ...]
    hashed: bytes


def tokenise_passages(passages: Sequence[Passage], tokenizer: Tokenizer) -> TokenisedPassages:
    """Every passage's tokens, postings (terms in order of first appearance in the passage, with
    their frequencies), sentences and acronym definitions: the work of indexing that needs no
    other passage, so it can run anywhere."""
    vocabulary: dict[str, int] = {}
    out = {name: array("i") for name in ("tokens_term", "tokens_start", "tokens_end", "tokens_count", "post_term",
                                         "post_tf", "post_count", "sentences_start", "sentences_end",
                                         "sentences_count")}
    definitions: list[tuple[str, tuple[str, ...]]] = []
    for passage in passages:
        definitions.extend(_definitions(passage.text, tokenizer))
        terms, starts, ends = tokenizer.columns(passage.text)
        ids = [vocabulary.setdefault(term, len(vocabulary)) for term in terms]
        counts = Counter(ids)  # in order of first appearance
        out["tokens_term"].extend(ids)
        out["tokens_start"].extend(starts)
        out["tokens_end"].extend(ends)
        out["tokens_count"].append(len(ids))
        out["post_term"].extend(counts)
        out["post_tf"].extend(counts.values())
        out["post_count"].append(len(counts))
        spans = sentence_spans(passage.text)
        out["sentences_start"].extend([sp.start for sp in spans])
        out["sentences_end"].extend([sp.end for sp in spans])
        out["sentences_count"].append(len(spans))
    return TokenisedPassages(len(passages), tuple(vocabulary),
                             {name: np.frombuffer(values, dtype=np.int32) if len(values) else np.zeros(0, np.int32)
                              for name, values in out.items()},
                             tuple(definitions), _hashed(passages))


class IndexBuilder:
    """Tokenises passages once, as they come (``add``), into flat arrays of machine integers:
    nothing per passage is kept as Python objects, so ``qa-service index`` can stream a corpus."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.count = 0
        self._vocabulary: dict[str, int] = {}
        self._hash = _fingerprint_hasher(tokenizer)
        self._a = {name: array("q" if dtype == np.int64 else "i") for name, dtype in _ARRAYS.items()}
        self._a["tokens_offsets"].append(0)
        self._a["sentences_offsets"].append(0)
        self._post_term = array("i")
        self._acronyms: dict[str, tuple[str, ...]] = {}

    def add(self, passages: Iterable[Passage]) -> None:
        self.add_tokenised(tokenise_passages(list(passages), self.tokenizer))

    def add_tokenised(self, batch: TokenisedPassages) -> None:
        """Passages :func:`tokenise_passages` prepared (here or in another process), appended in
        order: their terms join the vocabulary in order of first appearance, as ``add`` has them."""
        if not batch.count:
            return
        a, vocabulary = self._a, self._vocabulary
        mapping = np.array([vocabulary.setdefault(term, len(vocabulary)) for term in batch.terms], dtype=np.int32)
        for short, long in batch.definitions:
            self._acronyms.setdefault(short, long)
        self._hash.update(batch.hashed)
        b = batch.arrays
        a["tokens_term"].frombytes(mapping[b["tokens_term"]].tobytes())
        a["tokens_start"].frombytes(b["tokens_start"].tobytes())
        a["tokens_end"].frombytes(b["tokens_end"].tobytes())
        a["tokens_offsets"].frombytes((a["tokens_offsets"][-1] + np.cumsum(b["tokens_count"], dtype=np.int64)).tobytes())
        a["doc_len"].frombytes(b["tokens_count"].astype(np.int64).tobytes())
        self._post_term.frombytes(mapping[b["post_term"]].tobytes())
        a["postings_docs"].frombytes(np.repeat(np.arange(self.count, self.count + batch.count, dtype=np.int32),
                                               b["post_count"]).tobytes())
        a["postings_tf"].frombytes(b["post_tf"].tobytes())
        a["sentences_start"].frombytes(b["sentences_start"].tobytes())
        a["sentences_end"].frombytes(b["sentences_end"].tobytes())
        a["sentences_offsets"].frombytes((a["sentences_offsets"][-1]
                                          + np.cumsum(b["sentences_count"], dtype=np.int64)).tobytes())
        self.count += batch.count

    def finish(self) -> IndexData:
        if not self.count:
            raise EmptyCorpusError("cannot build an index over no passages")
        if not self._vocabulary:
            raise EmptyCorpusError("the passages contain no searchable words")
        arrays = {name: np.frombuffer(values, dtype=_ARRAYS[name]) if len(values) else np.zeros(0, _ARRAYS[name])
                  for name, values in self._a.items() if name in _ARRAYS}
        terms = np.frombuffer(self._post_term, dtype=np.int32)
        docs, tf = arrays["postings_docs"], arrays["postings_tf"]
        bounds = np.zeros(len(self._vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=len(self._vocabulary)), out=bounds[1:])
        extra_terms, extra_docs, spelt = _acronym_passages(self._acronyms, self._vocabulary, bounds,
                                                           docs[np.argsort(terms, kind="stable")],
                                                           arrays["tokens_offsets"], arrays["tokens_term"])
        if len(extra_terms):  # a passage that spells a long form out also holds its acronym (once)
            terms = np.concatenate([terms, extra_terms])
            docs = np.concatenate([docs, extra_docs])
            tf = np.concatenate([tf, np.ones(len(extra_docs), dtype=np.int32)])
            arrays["doc_len"] = arrays["doc_len"] + np.bincount(extra_docs, minlength=self.count)
        order = np.lexsort((docs, terms))  # by term; passages ascending within each
        indptr = np.zeros(len(self._vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=len(self._vocabulary)), out=indptr[1:])
        arrays["postings_indptr"] = indptr
        arrays["postings_docs"] = docs[order]
        arrays["postings_tf"] = tf[order]
        spelt_docs, spelt_terms = spelt
        arrays["acronyms_offsets"] = np.zeros(self.count + 1, dtype=np.int64)
        np.cumsum(np.bincount(spelt_docs, minlength=self.count), out=arrays["acronyms_offsets"][1:])
        arrays["acronyms_term"] = spelt_terms
        arrays["blocks_max_tf"], arrays["blocks_min_len"] = _block_stats(indptr, arrays["postings_docs"],
                                                                         arrays["postings_tf"], arrays["doc_len"])
        return IndexData(list(self._vocabulary), arrays, self._hash.hexdigest(), dict(self._acronyms))


def _acronym_passages(acronyms: dict[str, tuple[str, ...]], vocabulary: dict[str, int], bounds: np.ndarray,
                      sorted_docs: np.ndarray, offsets: np.ndarray,
                      token_terms: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """For each acronym the passages define: the passages that spell its long form out (terms in
    a row), found from the postings of the long form's terms, never by scanning every passage.
    An acronym no passage holds joins ``vocabulary`` (after the passages' terms, as in a build).
    Returns (acronym, passage) pairs to add where the passage lacks the acronym, and every
    (passage, acronym) pair for the sentences, in passage then definition order. The postings are
    the passages' own, by term (CSC: ``bounds``, ``sorted_docs``), before any acronym joins them."""
    empty = np.zeros(0, dtype=np.int32)
    if not acronyms:
        return empty, empty, (empty, empty)
    added_terms, added_docs, spelt_docs, spelt_terms = [], [], [], []
    for short, long in acronyms.items():
        ids = [vocabulary.get(t) for t in long]
        if any(i is None for i in ids):
            continue
        short_id = vocabulary.setdefault(short, len(vocabulary))
        holding = None
        for i in sorted(set(ids), key=lambda i: bounds[i + 1] - bounds[i]):  # rarest first
            found = sorted_docs[bounds[i] : bounds[i + 1]]
            holding = found if holding is None else np.intersect1d(holding, found, assume_unique=True)
        has_short = (sorted_docs[bounds[short_id] : bounds[short_id + 1]] if short_id + 1 < len(bounds)
                     else empty)
        for p in holding.tolist():
            seq = token_terms[offsets[p] : offsets[p + 1]].tolist()
            if _spells_out(seq, ids):
                spelt_docs.append(p)
                spelt_terms.append(short_id)
                at = int(np.searchsorted(has_short, p))
                if not (at < len(has_short) and has_short[at] == p):
                    added_terms.append(short_id)
                    added_docs.append(p)
    order = np.argsort(np.array(spelt_docs, dtype=np.int64), kind="stable")
    return (np.array(added_terms, dtype=np.int32), np.array(added_docs, dtype=np.int32),
            (np.array(spelt_docs, dtype=np.int64)[order], np.array(spelt_terms, dtype=np.int32)[order]))


def _definitions(text: str, tokenizer: Tokenizer) -> list[tuple[str, tuple[str, ...]]]:
    """The acronyms ``text`` defines that name only their long form: (the acronym's term, the long form's terms)."""
    found: list[tuple[str, tuple[str, ...]]] = []
    if not _MAY_DEFINE.search(text):  # most passages define nothing: one quick pattern says so
        return found
    for short, long in acronym_pairs(text):
        short_terms, long_terms = tokenizer.terms(short), tuple(tokenizer.terms(long))
        # "WHO" is a stopword and "CM" a unit the tokeniser spells out: neither names only the long form
        if short_terms == [short.casefold()] and len(long_terms) > 1:
            found.append((short_terms[0], long_terms))
    return found


def _spells_out(seq: Sequence[int], ids: Sequence[int]) -> bool:
    """Whether ``ids`` occur in ``seq`` one after the other."""
    n = len(ids)
    first = ids[0]
    return any(seq[i] == first and seq[i : i + n] == list(ids) for i in range(len(seq) - n + 1))


def build_data(passages: Sequence[Passage], tokenizer: Tokenizer, show_progress: bool | None = None) -> IndexData:
    """Every passage's arrays, tokenised once (progress on a terminal for large corpora)."""
    if not passages:
        raise EmptyCorpusError("cannot build an index over no passages")
    if show_progress is None:
        show_progress = sys.stderr.isatty() and len(passages) >= 20_000
    progress = _Progress("indexing", len(passages), sys.stderr) if show_progress else None
    builder = IndexBuilder(tokenizer)
    for start in range(0, len(passages), 1000):
        builder.add(passages[start : start + 1000])
        if progress is not None:
            progress(builder.count)
    return builder.finish()


def load_data(folder: Path, digest: str) -> IndexData:
    """The index saved in ``folder/bm25-index/``, memory-mapped, if it was made for ``digest`` (these
    passages, this tokeniser) and every file is whole; else :class:`CorpusError` saying why in one line."""
    where = folder / INDEX_DIR
    meta_path = where / "meta.json"
    if not meta_path.is_file():
        raise CorpusError(f"{where}: no saved index")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise CorpusError(f"{meta_path}: unreadable ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT:
        raise CorpusError(f"{meta_path}: another index format ({meta.get('format') if isinstance(meta, dict) else '?'!r})")
    if meta.get("fingerprint") != digest:
        raise CorpusError(f"{where}: made for other passages or tokeniser settings (stale or foreign)")
    files = meta.get("files")
    if not isinstance(files, dict) or set(files) != {f"{n}.npy" for n in _ARRAYS} | {"terms.json", "acronyms.json"}:
        raise CorpusError(f"{meta_path}: does not list the index's files")
    for name, info in files.items():
        path = where / name
        if not path.is_file() or not isinstance(info, dict) or _file_sha256(path) != info.get("sha256"):
            raise CorpusError(f"{path}: missing or damaged (its sha256 is not the one recorded)")
    try:
        terms = json.loads((where / "terms.json").read_text(encoding="utf-8"))
        pairs = json.loads((where / "acronyms.json").read_text(encoding="utf-8"))
        arrays = {name: np.load(where / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in _ARRAYS}
    except (OSError, ValueError, RecursionError) as exc:
        raise CorpusError(f"{where}: unreadable ({exc})") from None
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise CorpusError(f"{where / 'terms.json'}: not a list of terms")
    for name, dtype in _ARRAYS.items():
        if arrays[name].dtype != dtype or arrays[name].ndim != 1:
            raise CorpusError(f"{where / (name + '.npy')}: not a flat {np.dtype(dtype).name} array")
    try:
        acronyms = {short: tuple(long) for short, long in pairs}
    except (TypeError, ValueError):
        raise CorpusError(f"{where / 'acronyms.json'}: not a list of [acronym, [terms]]") from None
    data = IndexData(terms, arrays, digest, acronyms)
    _check_shapes(data, where, int(meta.get("passages", -1)))
    return data


def _check_shapes(data: IndexData, where: Path, passages: int) -> None:
    a = data.arrays
    n, v = len(a["doc_len"]), len(data.terms)
    ok = (n == passages and len(a["postings_indptr"]) == v + 1 and len(a["tokens_offsets"]) == n + 1
          and len(a["sentences_offsets"]) == n + 1
          and int(a["postings_indptr"][-1]) == len(a["postings_docs"]) == len(a["postings_tf"])
          and int(a["tokens_offsets"][-1]) == len(a["tokens_term"]) == len(a["tokens_start"]) == len(a["tokens_end"])
          and int(a["sentences_offsets"][-1]) == len(a["sentences_start"]) == len(a["sentences_end"])
          and len(a["acronyms_offsets"]) == n + 1 and int(a["acronyms_offsets"][-1]) == len(a["acronyms_term"])
          and len(a["blocks_max_tf"]) == len(a["blocks_min_len"]) == int(_block_indptr(a["postings_indptr"])[-1]))
    if not ok:
        raise CorpusError(f"{where}: its arrays disagree with each other or with the corpus")


def load_or_build_data(passages: Sequence[Passage], tokenizer: Tokenizer, folder: Path | None,
                       save: bool = True) -> IndexData:
    """The saved index when it is current, else built again (and saved when the folder takes
    it); a stale, foreign or damaged index is never used, and one log line says why."""
    digest = fingerprint(passages, tokenizer)
    if folder is not None and (folder / INDEX_DIR).exists():
        try:
            return load_data(folder, digest)
        except CorpusError as exc:
            _log.warning("qa-service: not using the saved index: %s; building it again", exc.message)
    data = build_data(passages, tokenizer)
    if folder is not None and save:
        try:
            data.save(folder)
        except OSError as exc:
            _log.warning("qa-service: cannot save the index in %s (%s); it is kept in memory", folder,
                         exc.strerror or exc)
    return data


# ---------------------------------------------------------------- adding and removing passages

# What any definition acronym_pairs finds must contain: "(WHO)" after a long form, "WHO (" before one.
# (Written to start at the bracket: "\([A-Z]{2,10}\)|[A-Z]{2}\s\(" is a hundred times slower.)
_MAY_DEFINE = re.compile(r"\((?:(?=[A-Z]{2,10}\))|(?<=[A-Z]{2}\s\())")
_TOKEN_ARRAYS = ("tokens_term", "tokens_start", "tokens_end")
_SENTENCE_ARRAYS = ("sentences_start", "sentences_end")


def extend_data(data: IndexData, new_passages: Sequence[Passage], tokenizer: Tokenizer,
                old_passages: Sequence[Passage]) -> IndexData:
    """The index of ``old_passages`` + ``new_passages``, equal to ``build_data`` over them all (the
    same terms in the same order, the same arrays, acronyms and fingerprint), tokenising only the
    new passages: the old tokens and postings are kept, the new ones merged in (numpy, one pass),
    and only the new passages are searched for acronym definitions. ``data`` is what
    ``build_data`` (or these functions) made for ``old_passages``; it may be memory-mapped and is
    never written to. Costs the hashing of every passage's text (the fingerprint covers them all)."""
    old_hash = _checked_hash(data, old_passages, tokenizer)
    if not new_passages:
        return data
    a = {name: np.asarray(array) for name, array in data.arrays.items()}
    passage_terms = int(a["tokens_term"].max()) + 1 if len(a["tokens_term"]) else 0  # acronym-only terms follow
    builder = IndexBuilder(tokenizer)  # tokenises the new passages only, with the old terms' ids
    builder._vocabulary = dict(zip(data.terms[:passage_terms], range(passage_terms)))
    builder._acronyms = dict(data.acronyms)  # old definitions first: the first definition wins
    builder.add(new_passages)
    new = {name: np.frombuffer(values, dtype=_ARRAYS[name]) if len(values) else np.zeros(0, _ARRAYS[name])
           for name, values in builder._a.items()}
    arrays = {name: np.concatenate([a[name], new[name]]) for name in _TOKEN_ARRAYS + _SENTENCE_ARRAYS}
    for name in ("tokens_offsets", "sentences_offsets"):
        arrays[name] = np.concatenate([a[name], new[name][1:] + a[name][-1]])
    _hash_passages(old_hash, new_passages)
    # The passages' own postings, by term: each old term's (its acronym postings taken out), then the
    # new passages' (they come after every old passage), put in place without sorting the old ones.
    old_docs, old_tf, old_counts = _own_postings(a, passage_terms)
    terms = np.frombuffer(builder._post_term, dtype=np.int32)
    docs = new["postings_docs"] + np.int32(data.size)
    order = np.lexsort((docs, terms))
    terms, docs, tf = terms[order], docs[order], new["postings_tf"][order]
    vocabulary = builder._vocabulary
    new_counts = np.bincount(terms, minlength=len(vocabulary))
    counts = new_counts.copy()
    counts[:passage_terms] += old_counts
    indptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    all_docs, all_tf = np.empty(int(indptr[-1]), dtype=np.int32), np.empty(int(indptr[-1]), dtype=np.int32)
    at = _placed(indptr[:passage_terms], old_counts)
    all_docs[at], all_tf[at] = old_docs, old_tf
    after_old = indptr[:-1].copy()
    after_old[:passage_terms] += old_counts
    at = _placed(after_old, new_counts)
    all_docs[at], all_tf[at] = docs, tf
    return _finish(vocabulary, builder._acronyms, arrays, indptr, all_docs, all_tf, old_hash.hexdigest())


def _placed(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Where each of ``counts[t]`` postings of term ``t`` goes, from ``starts[t]`` on, in order."""
    first = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=first[1:])
    return np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(starts - first, counts)


def _own_postings(a: dict[str, np.ndarray], passage_terms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The postings of the first ``passage_terms`` terms (the ones passages hold), without those an
    acronym added to passages that spell its long form out: (docs, tf, count per term)."""
    indptr, docs, tf = a["postings_indptr"], a["postings_docs"], a["postings_tf"]
    end = int(indptr[passage_terms])
    counts = np.diff(indptr[: passage_terms + 1])
    added = a["doc_len"] - np.diff(a["tokens_offsets"])  # acronym postings per passage
    drop = []
    spelt_offsets, spelt = a["acronyms_offsets"], a["acronyms_term"]
    offsets, token_terms = a["tokens_offsets"], a["tokens_term"]
    for p in np.flatnonzero(added).tolist():
        shorts = spelt[spelt_offsets[p] : spelt_offsets[p + 1]].tolist()
        held = set(token_terms[offsets[p] : offsets[p + 1]].tolist())
        for t in shorts:
            if t not in held and t < passage_terms:
                drop.append(int(indptr[t]) + int(np.searchsorted(docs[indptr[t] : indptr[t + 1]], p)))
    if not drop:
        return docs[:end], tf[:end], counts
    keep = np.ones(end, dtype=bool)
    keep[drop] = False
    counts = counts - np.bincount(np.searchsorted(indptr, drop, side="right") - 1, minlength=passage_terms)
    return docs[:end][keep], tf[:end][keep], counts


def drop_data(data: IndexData, keep: np.ndarray | Sequence[int], tokenizer: Tokenizer,
              old_passages: Sequence[Passage]) -> IndexData:
    """The index of the passages of ``old_passages`` at the positions ``keep`` (or where the boolean
    mask ``keep`` is true), equal to ``build_data`` over them, without tokenising any passage: terms
    are renumbered in order of first appearance over what remains, terms no longer held are gone,
    and definitions are searched for again (in the passages kept that hold a known acronym in
    capitals beside a bracket) only when a removed passage defined one. ``data`` is what
    ``build_data`` (or these functions) made for ``old_passages``; it may be memory-mapped and is
    never written to."""
    n = data.size
    mask = _keep_mask(keep, n)
    if not mask.any():
        raise EmptyCorpusError("cannot build an index over no passages")
    kept_hash, removed = _checked_hash(data, old_passages, tokenizer, mask)
    a = {name: np.asarray(array) for name, array in data.arrays.items()}
    token_mask = np.repeat(mask, np.diff(a["tokens_offsets"]))
    old_terms = a["tokens_term"][token_mask]
    if not len(old_terms):
        raise EmptyCorpusError("the passages contain no searchable words")
    passage_terms = int(a["tokens_term"].max()) + 1  # acronym-only terms follow
    first = np.full(passage_terms, len(old_terms), dtype=np.int64)
    np.minimum.at(first, old_terms, np.arange(len(old_terms)))
    held = np.flatnonzero(first < len(old_terms))
    ordered = held[np.argsort(first[held])]  # first appearance over the passages kept
    renumber = np.zeros(passage_terms, dtype=np.int32)
    renumber[ordered] = np.arange(len(ordered), dtype=np.int32)
    names = [data.terms[i] for i in ordered.tolist()]
    arrays = {"tokens_term": renumber[old_terms], "tokens_start": a["tokens_start"][token_mask],
              "tokens_end": a["tokens_end"][token_mask]}
    sentence_mask = np.repeat(mask, np.diff(a["sentences_offsets"]))
    for name in _SENTENCE_ARRAYS:
        arrays[name] = a[name][sentence_mask]
    for name in ("tokens_offsets", "sentences_offsets"):
        offsets = np.zeros(int(mask.sum()) + 1, dtype=np.int64)
        np.cumsum(np.diff(a[name])[mask], out=offsets[1:])
        arrays[name] = offsets
    acronyms = dict(data.acronyms)
    if any(short in acronyms for p in removed for short, _ in _definitions(p.text, tokenizer)):
        # a removed passage defined one: the first definition among the passages kept wins now. Only
        # acronyms the index knows can be defined, so only passages that spell one in capitals are read.
        acronyms, known = {}, [short.upper() for short in data.acronyms]
        for i in np.flatnonzero(mask).tolist():
            text = old_passages[i].text
            if _MAY_DEFINE.search(text) and any(short in text for short in known):
                for short, long in _definitions(text, tokenizer):
                    acronyms.setdefault(short, long)
    # the passages' own postings of the terms kept, docs renumbered, in the terms' new order
    own_docs, own_tf, own_counts = _own_postings(a, len(first))
    kept_entry = mask[own_docs]
    position = np.cumsum(mask, dtype=np.int64) - 1
    kept_counts = np.bincount(np.repeat(np.arange(len(first)), own_counts)[kept_entry], minlength=len(first))
    kept_docs, kept_tf = position[own_docs[kept_entry]].astype(np.int32), own_tf[kept_entry]
    counts = kept_counts[ordered]
    indptr = np.zeros(len(ordered) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    starts = np.zeros(len(first), dtype=np.int64)
    np.cumsum(kept_counts[:-1], out=starts[1:])
    taken = _placed(starts[ordered], counts)
    return _finish(dict(zip(names, range(len(names)))), acronyms, arrays, indptr, kept_docs[taken], kept_tf[taken],
                   kept_hash.hexdigest())


def _keep_mask(keep: np.ndarray | Sequence[int], n: int) -> np.ndarray:
    keep = np.asarray(keep)
    if keep.dtype == bool:
        if keep.shape != (n,):
            raise ValueError(f"a mask of what to keep needs {n} entries, not {keep.shape}")
        return keep
    if keep.size and not np.issubdtype(keep.dtype, np.integer):
        raise ValueError("keep: passage positions (integers) or a boolean mask")
    positions = keep.astype(np.int64).reshape(-1)
    if len(positions) and (positions.min() < 0 or positions.max() >= n):
        raise ValueError(f"keep: positions must be in 0..{n - 1}")
    mask = np.zeros(n, dtype=bool)
    mask[positions] = True
    return mask


def _checked_hash(data: IndexData, passages: Sequence[Passage], tokenizer: Tokenizer,
                  kept: np.ndarray | None = None) -> Any:
    """The fingerprint's hasher after ``passages`` (refusing ``data`` made for other passages or
    settings); with ``kept``, the hasher after the kept passages and the removed passages instead."""
    if len(passages) != data.size:
        raise ValueError(f"the index holds {data.size} passages, not {len(passages)}")
    everything = _fingerprint_hasher(tokenizer)
    _hash_passages(everything, passages)
    if kept is None:
        result: Any = everything
    else:
        kept_hash = _fingerprint_hasher(tokenizer)
        positions = np.flatnonzero(kept).tolist()
        _hash_passages(kept_hash, (passages[i] for i in positions))
        result = (kept_hash, [passages[i] for i in np.flatnonzero(~kept).tolist()])
    if everything.hexdigest() != data.fingerprint:
        raise ValueError("the index was made for other passages or tokeniser settings")
    return result


def _finish(vocabulary: dict[str, int], acronyms: dict[str, tuple[str, ...]], arrays: dict[str, np.ndarray],
            indptr: np.ndarray, docs: np.ndarray, tf: np.ndarray, digest: str) -> IndexData:
    """An index from its passages' tokens and sentences and the postings of their own terms (CSC):
    the acronyms' postings, lengths and sentences' acronyms added as ``IndexBuilder.finish`` adds them."""
    offsets, token_terms = arrays["tokens_offsets"], arrays["tokens_term"]
    n = len(offsets) - 1
    vocabulary = dict(vocabulary)
    extra_terms, extra_docs, (spelt_docs, spelt_terms) = _acronym_passages(acronyms, vocabulary, indptr, docs,
                                                                           offsets, token_terms)
    doc_len = np.diff(offsets).astype(np.int64)
    counts = np.zeros(len(vocabulary), dtype=np.int64)
    counts[: len(indptr) - 1] = np.diff(indptr)
    if len(extra_terms):  # a passage that spells a long form out also holds its acronym (once)
        order = np.lexsort((extra_docs, extra_terms))  # the few added, put in place: no sort of them all
        extra_terms, extra_docs = extra_terms[order], extra_docs[order]
        at = np.array([indptr[t] + np.searchsorted(docs[indptr[t] : indptr[t + 1]], d) if t + 1 < len(indptr)
                       else indptr[-1] for t, d in zip(extra_terms.tolist(), extra_docs.tolist())], dtype=np.int64)
        docs, tf = np.insert(docs, at, extra_docs), np.insert(tf, at, 1)
        counts += np.bincount(extra_terms, minlength=len(vocabulary))
        doc_len = doc_len + np.bincount(extra_docs, minlength=n)
    out = dict(arrays)
    out["doc_len"] = doc_len
    out["postings_indptr"] = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    np.cumsum(counts, out=out["postings_indptr"][1:])
    out["postings_docs"], out["postings_tf"] = docs, tf
    out["acronyms_offsets"] = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(spelt_docs, minlength=n), out=out["acronyms_offsets"][1:])
    out["acronyms_term"] = spelt_terms
    out["blocks_max_tf"], out["blocks_min_len"] = _block_stats(out["postings_indptr"], docs, tf, doc_len)
    return IndexData(list(vocabulary), {name: out[name] for name in _ARRAYS}, digest, dict(acronyms))


# ---------------------------------------------------------------- the retriever


class Index:
    """The lexical retriever: rank-bm25's scores from postings, stable ties, each passage's tokens
    and sentences, and vocabulary look-ups.

    Every passage is tokenised once (here, or by ``qa-service index`` into a saved index); BM25,
    highlights and the per-sentence terms the later stages read all come from those tokens.

    Args:
        passages: what to search, in corpus order.
        tokenizer: the one tokeniser, also used on questions.
        scorer, k1, b, delta: rank-bm25's variant and parameters.
        extra_terms: terms that count as known though no passage holds them (document titles).
        data: the passages' arrays already built or loaded (else built here).
    """

    def __init__(
        self,
        passages: Sequence[Passage],
        tokenizer: Tokenizer,
        *,
        scorer: str,
        k1: float,
        b: float,
        delta: float,
        extra_terms: Iterable[str] = (),
        data: IndexData | None = None,
    ) -> None:
        if scorer not in SCORERS:
            raise ValueError(f"unknown scorer {scorer!r}; choose one of {', '.join(SCORERS)}")
        if not passages:
            raise EmptyCorpusError("cannot build an index over no passages")
        self.passages: tuple[Passage, ...] = tuple(passages)
        self.tokenizer = tokenizer
        self.data = data if data is not None else build_data(self.passages, tokenizer)
        if self.data.size != len(self.passages):
            raise ValueError("the index arrays were made for another number of passages")
        a = {name: np.asarray(array) for name, array in self.data.arrays.items()}  # still mapped; no memmap subclass per slice
        self._terms = self.data.terms
        self._term_id = {t: i for i, t in enumerate(self._terms)}
        self._indptr, self._docs, self._tf = a["postings_indptr"], a["postings_docs"], a["postings_tf"]
        self._indptr_list = self._indptr.tolist()  # Python ints: a term's bounds without numpy scalars
        self._tok = (a["tokens_offsets"], a["tokens_term"], a["tokens_start"], a["tokens_end"])
        self._sent = (a["sentences_offsets"], a["sentences_start"], a["sentences_end"])
        self._spelt = (a["acronyms_offsets"], a["acronyms_term"])
        # the acronyms the passages define: the acronym's term -> its long form's terms
        self.acronyms: dict[str, tuple[str, ...]] = dict(self.data.acronyms)
        self._formula = _Formula(np.asarray(a["doc_len"]), np.diff(self._indptr), scorer, k1, b, delta)
        self._block_ptr = _block_indptr(self._indptr)
        self._block_stats = (a["blocks_max_tf"], a["blocks_min_len"])
        self._extra_terms = frozenset(extra_terms)
        self._by_id = {p.id: i for i, p in enumerate(self.passages)}
        self._vocabulary_sorted: list[str] | None = None
        self._sentence_cache: dict[int, Any] = {}  # oldest first: the first out when it is full
        self._lock = threading.Lock()  # waitress's threads share the cache
        # A question's unknown words are looked up again by follow-ups and later questions.
        self._similar_cache: dict[tuple[str, int, int], tuple[str, ...]] = {}

    @property
    def idf(self) -> dict[str, float]:
        """rank-bm25's ``idf`` dict, for tests and explanations (built on demand: it is big)."""
        return dict(zip(self._terms, self._formula.idf.tolist()))

    @property
    def _vocabulary(self) -> list[str]:
        if self._vocabulary_sorted is None:
            self._vocabulary_sorted = sorted(self._terms)
        return self._vocabulary_sorted

    def _postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        t = self._term_id.get(term)
        if t is None:
            return _EMPTY, _EMPTY
        start, end = self._indptr_list[t], self._indptr_list[t + 1]
        return self._docs[start:end], self._tf[start:end]

    def _decoded(self, position: int) -> tuple[list[Token], frozenset[str], tuple[tuple[Span, frozenset[str]], ...]]:
        """The passage's tokens, terms and sentences as Python objects, decoded from the arrays on
        first use; the last few thousand decoded are kept (re-rankers and the reader come back to them)."""
        found = self._sentence_cache.get(position)  # one dict read: safe without the lock
        if found is not None:
            return found
        offsets, term, start, end = self._tok
        a, b = int(offsets[position]), int(offsets[position + 1])
        names = self._terms
        tokens = [Token(names[t], s, e) for t, s, e in zip(term[a:b].tolist(), start[a:b].tolist(), end[a:b].tolist())]
        offsets, spelt = self._spelt
        acronyms = [names[t] for t in spelt[int(offsets[position]) : int(offsets[position + 1])].tolist()]
        own = {t.term for t in tokens}
        offsets, starts, ends = self._sent
        a, b = int(offsets[position]), int(offsets[position + 1])
        sentences = []
        for s, e in zip(starts[a:b].tolist(), ends[a:b].tolist()):
            terms = [t.term for t in tokens if s <= t.start and t.end <= e]
            sentences.append((Span(s, e), frozenset(terms + self._acronyms_of(terms, acronyms) if acronyms else terms)))
        found = (tokens, frozenset(own.union(acronyms)), tuple(sentences))
        with self._lock:
            self._sentence_cache[position] = found
            if len(self._sentence_cache) > _SENTENCE_CACHE_SIZE:
                del self._sentence_cache[next(iter(self._sentence_cache))]
        return found

    def _acronyms_of(self, terms: Sequence[str], among: Iterable[str] | None = None) -> list[str]:
        """The acronyms whose long form ``terms`` spell out without using the acronym itself (of
        ``among``, the ones the passage spells out, or all): a question that uses the acronym then
        finds them too."""
        if not self.acronyms:
            return []
        joined, present = " " + " ".join(terms) + " ", set(terms)
        shorts = self.acronyms if among is None else among
        return [short for short in shorts
                if short not in present and " " + " ".join(self.acronyms[short]) + " " in joined]

    def _passage_tokens(self, position: int) -> list[Token]:
        return (self._sentence_cache.get(position) or self._decoded(position))[0]

    def _passage_terms(self, position: int) -> frozenset[str]:
        return (self._sentence_cache.get(position) or self._decoded(position))[1]

    def __len__(self) -> int:
        return len(self.passages)

    def passage(self, passage_id: str) -> Passage | None:
        position = self._by_id.get(passage_id)
        return None if position is None else self.passages[position]

    def document_frequency(self, term: str) -> int:
        t = self._term_id.get(term)
        return 0 if t is None else self._indptr_list[t + 1] - self._indptr_list[t]

    def rarity(self, term: str) -> float:
        """How telling a term is, > 0 and growing as it gets rarer; unseen terms are rarest.

        Unlike BM25Okapi's IDF this never reaches zero, so it can weigh coverage.
        """
        n = len(self.passages)
        return math.log((n + 1) / (self.document_frequency(term) + 0.5))

    def similar(self, term: str, min_prefix: int = _MIN_ROOT_LETTERS, min_typo: int = _MIN_TYPO_LETTERS) -> list[str]:
        """Indexed terms that differ from ``term`` only in their last letter or two, or else,
        for terms of at least ``min_typo`` letters, by one letter added, dropped or changed.

        For words the stemmer leaves apart though they share a root (response/respond,
        organisation/organization) and for misspelt names (Bedigo/Bendigo). Only for terms
        the index lacks.
        """
        if len(term) < min_prefix or not term.isalpha():
            return []
        key = (term, min_prefix, min_typo)
        cached = self._similar_cache.get(key)
        if cached is None:
            found = self._same_root(term, min_prefix)
            if not found and min_typo <= len(term) <= _MAX_TYPO_LETTERS:
                found = self._one_edit(term)
            cached = tuple(found)
            if len(term) <= _MAX_TYPO_LETTERS:  # longer "words" are not kept: the cache stays small
                if len(self._similar_cache) >= _SIMILAR_CACHE_SIZE:
                    self._similar_cache.clear()
                self._similar_cache[key] = cached
        return list(cached)

    def _same_root(self, term: str, min_prefix: int) -> list[str]:
        start = bisect.bisect_left(self._vocabulary, term[:min_prefix])
        found = []
        for other in itertools.islice(self._vocabulary, start, None):
            if not other.startswith(term[:min_prefix]):
                break
            shared = len(os.path.commonprefix([term, other]))
            if other != term and other.isalpha() and shared >= min(len(term), len(other)) - 1:
                found.append(other)
        return found

    def _one_edit(self, term: str) -> list[str]:
        """Indexed terms one letter added, dropped or changed away from ``term``: every such
        spelling is generated and looked up (about 55 per letter), so no table grows with the index."""
        letters = sorted(set(string.ascii_lowercase) | set(term))
        found = {term[:i] + term[i + 1 :] for i in range(len(term))}
        for i in range(len(term) + 1):
            for c in letters:
                found.add(term[:i] + c + term[i:])
                if i < len(term) and c != term[i]:
                    found.add(term[:i] + c + term[i + 1 :])
        found.discard(term)
        return sorted(t for t in found if len(t) >= 5 and t in self._term_id)

    def known(self, term: str) -> bool:
        """Whether a passage or a document title holds ``term``."""
        return term in self._term_id or term in self._extra_terms

    def sentences(self, position: int) -> tuple[tuple[Span, frozenset[str]], ...]:
        """The sentences of the passage at ``position``: span in its text, and its terms."""
        return (self._sentence_cache.get(position) or self._decoded(position))[2]  # the cache read inline: called often

    def tokens_of(self, passage_id: str, start: int, text: str) -> list[Token] | None:
        """The tokens of ``text`` where it stands in a passage at ``start`` (offsets in ``text``),
        from the index instead of the tokeniser; None when it does not stand there."""
        position = self._by_id.get(passage_id)
        if position is None or self.passages[position].text[start : start + len(text)] != text:
            return None
        end = start + len(text)
        return [Token(t.term, t.start - start, t.end - start) for t in self._passage_tokens(position)
                if start <= t.start and t.end <= end]

    def highlights(self, position: int, terms: Iterable[str]) -> list[Span]:
        """Merged spans of the passage's words whose terms are in ``terms`` (no re-tokenising)."""
        wanted = set(terms)
        return merge_spans(Span(t.start, t.end) for t in self._passage_tokens(position) if t.term in wanted)

    def candidates(self, terms: Iterable[str]) -> np.ndarray:
        """Positions of passages containing at least one of ``terms``, ascending: a merge of their
        postings (a mask over the corpus when they are long, else a sort of the postings)."""
        lists = [self._postings(t)[0] for t in set(terms)]
        lists = [docs for docs in lists if len(docs)]
        if not lists:
            return _EMPTY_POSITIONS
        if len(lists) == 1:
            return np.asarray(lists[0], dtype=np.intp)
        total = sum(len(docs) for docs in lists)
        if total <= 256:  # a few postings: Python's set is quicker than numpy's calls
            return np.array(sorted(set(itertools.chain.from_iterable(docs.tolist() for docs in lists))), dtype=np.intp)
        if total * 16 > len(self.passages):
            mask = np.zeros(len(self.passages), dtype=bool)
            for docs in lists:
                mask[docs] = True
            return np.flatnonzero(mask)
        return np.unique(np.concatenate(lists)).astype(np.intp, copy=False)

    def scores(self, terms: Sequence[str], weights: Sequence[float] | None = None) -> np.ndarray:
        """rank-bm25's score of every passage for the query ``terms``; with ``weights``, the sum
        of each term's own score times its weight (BM25 adds up over query terms)."""
        per_term = _TermScores(self, None)
        per_term.prime(terms)
        return per_term.query(terms, weights)

    def search(self, query: Query, k: int, *, prune: bool = True) -> list[Hit]:
        """The ``k`` best passages holding a term of the conversation's questions, best first.

        Each turn adds its weight x its terms' prior-weighted rank-bm25 scores; the previous
        answer helps rank but never selects a passage. ``scores["bm25"]`` is rank-bm25's own score
        for the question's terms, ``scores["weighted"]`` the sum the passages are ranked by; ties
        keep passage order (rank-bm25's argsort breaks them backwards). On a large corpus the
        passages that provably cannot reach the top ``k`` are never scored (``_top_pruned``): the
        same hits with the same scores, to the bit, as ``prune=False``, which scores every candidate.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        asked = query.asked
        found = self._top_pruned(query, k) if prune and len(self.passages) > _PRUNE_MIN_PASSAGES else None
        if found is not None:
            positions, total, bm25 = found
            return [Hit(self.passages[i], i, score, rank, self._passage_terms(i) & asked,
                        {"bm25": own, "weighted": score})
                    for rank, (i, score, own) in enumerate(zip(positions.tolist(), total.tolist(), bm25.tolist()),
                                                           start=1)]
        candidates = self.candidates(asked)
        if not len(candidates):
            return []
        total, bm25 = self._scores_at(query, candidates)
        order = top_k(total, k)
        hits = []
        for rank, j in enumerate(order.tolist(), start=1):
            i = int(candidates[j])
            hits.append(Hit(self.passages[i], i, float(total[j]), rank, self._passage_terms(i) & asked,
                            {"bm25": float(bm25[j]), "weighted": float(total[j])}))
        return hits

    def _top_pruned(self, query: Query, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The top ``k`` (positions, weighted scores, rank-bm25 scores) exactly as scoring every
        candidate finds them, scoring only passages that may belong there; None when pruning
        cannot pay (a small corpus, few postings, a large ``k``) or cannot be proved (NaN scores).

        MaxScore with block maxima (Turtle & Flood 1995; Ding & Suel 2011), in numpy. A passage's
        score is a constant (each query term's value where it is absent: BM25+'s ``delta x idf``)
        plus each term's gain where it occurs, and a term's gain anywhere in a block of ``BLOCK``
        postings is at most its value at the block's largest tf and shortest passage (BM25 grows
        with tf and shrinks with length). (1) The passages of the blocks with the largest bounds
        are scored exactly: the k-th best is a threshold the answers reach. (2) Terms whose bounds
        together stay below it are not read (a passage holding only those cannot reach it), and of
        the others only the blocks whose bound plus every other term's can. (3) The passages read
        get an upper bound (exact gains for the blocks read, block bounds where they fall in a
        block not read); term by term from the largest bound left, the exact gain is looked up
        in its place, and passages that cannot reach the threshold are dropped. (4) The rest are
        scored exactly, best bound first, batch by batch, raising the threshold, until no bound
        left reaches it. Bounds are compared with a margin far above rounding, so a passage is
        skipped only when its score is certainly below the threshold; scores come from
        ``_scores_at``, the exhaustive path's own arithmetic: the same bits, order and ties."""
        f = self._formula
        if not f.monotone or f.size <= _PRUNE_MIN_PASSAGES or k > _PRUNE_MAX_K:
            return None
        asked, indptr, term_id = query.asked, self._indptr_list, self._term_id
        postings = 0
        for term in asked:
            t = term_id.get(term)
            if t is not None:
                postings += indptr[t + 1] - indptr[t]
        if not postings or postings < max(_PRUNE_MIN_POSTINGS, k * _PRUNE_POSTINGS_PER_HIT):
            return None  # few candidates: scoring them all is as quick
        weights: dict[str, float] = {}
        for turn in query.turns:
            if turn.words:
                for term, prior in zip(turn.terms, turn.priors):
                    weights[term] = weights.get(term, 0.0) + turn.weight * prior
        ids, term_weights, selects = [], [], []
        for term, weight in weights.items():
            t = term_id.get(term)
            if t is None or indptr[t + 1] == indptr[t]:
                continue  # 0 everywhere
            if not math.isfinite(weight):
                return None
            ids.append(t)
            term_weights.append(weight)
            selects.append(term in asked)
        m = len(ids)
        term_ids, w, selecting = np.array(ids, dtype=np.int64), np.array(term_weights), np.array(selects, dtype=bool)
        idf = f.idf[term_ids]
        absent = f.expression(idf, np.zeros(m, dtype=np.int64), np.ones(m))
        # every block of every term (term by term): a bound on the term's gain there, never below 0
        first_block = self._block_ptr[term_ids]
        counts = self._block_ptr[term_ids + 1] - first_block
        offsets = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        owner = np.repeat(np.arange(m), counts)
        nth = np.arange(int(offsets[-1]), dtype=np.int64) - offsets[owner]  # the block's number in its term
        blocks = first_block[owner] + nth
        max_tf, min_len = self._block_stats
        present = f.expression(idf[owner], max_tf[blocks].astype(np.int64), f.norm_of(min_len[blocks]))
        gain = np.where((w * idf)[owner] > 0, np.maximum(w[owner] * (present - absent[owner]), 0.0), 0.0)
        bound = np.maximum.reduceat(gain, offsets[:-1])  # per term
        constant = float(np.sum(w * absent))
        scale = float(np.sum(np.abs(w) * (np.abs(absent) + np.maximum.reduceat(np.abs(present), offsets[:-1]))))
        if not math.isfinite(scale + constant):
            return None
        slack = 1e-9 * scale + 1e-300  # far above the rounding of a sum of a few dozen terms in any order
        start = np.array([indptr[t] for t in ids], dtype=np.int64)
        first = start[owner] + BLOCK * nth  # the block's first posting
        length = np.minimum(BLOCK, np.array([indptr[t + 1] - indptr[t] for t in ids], dtype=np.int64)[owner] - BLOCK * nth)

        # (1) a threshold: the k-th best exact score among the passages of the best-bounded blocks
        best = np.flatnonzero(selecting[owner])
        best = best[np.argsort(-gain[best], kind="stable")]
        enough = int(np.searchsorted(np.cumsum(length[best]), _PRUNE_POOL)) + 1
        pool = _distinct(self._docs[_ranges(first[best[:enough]], length[best[:enough]])])
        found = [(pool, *self._scores_at(query, pool, few=True))]
        best = _largest(found[0][1], k)
        threshold = float(best.min()) if len(best) == k else -math.inf

        # (2) the terms to read, and of each the blocks that may hold a passage of the top k
        # (a passage must hold a question's term: the previous answer's terms are never read, and
        # their bounds count towards what the terms left unread could add)
        weakest = np.flatnonzero(selecting)[np.argsort(bound[selecting], kind="stable")]
        unread = ~selecting
        below = constant + float(np.sum(bound[unread])) + np.cumsum(bound[weakest]) < threshold - slack
        unread[weakest[below]] = True
        others = float(np.sum(bound)) - bound
        read = np.flatnonzero(~unread[owner] & (constant + gain + others[owner] >= threshold - slack))
        at = _ranges(first[read], length[read])
        docs = self._docs[at]
        readers = np.repeat(owner[read], length[read])
        exact = w[readers] * (f.expression(idf[readers], self._tf[at].astype(np.int64), f.norm[docs]) - absent[readers])

        # (3) an upper bound for each passage read: the exact gains read, and for each term what
        # its blocks not read could add where the passage falls in one; then, term by term from the
        # largest such bound, the exact gain looked up instead, dropping passages that cannot make it
        candidates, extra = _sum_by(docs, exact, f.size)
        upper = constant + extra
        keep = np.ones(len(candidates), dtype=bool)
        keep[_found_at(candidates, pool)] = False  # scored already
        candidates, upper = candidates[keep], upper[keep]
        residual = gain.copy()
        residual[read] = 0.0  # a passage in a block read holds the term only if it was read there
        most = np.maximum.reduceat(residual, offsets[:-1])
        block_first, block_last = self._docs[first], self._docs[first + length - 1]
        open_terms = [t for t in np.argsort(-most, kind="stable").tolist() if most[t] > 0]
        spread = {}
        for t in open_terms:
            lo, hi = offsets[t], offsets[t + 1]
            spread[t] = _spread(candidates, block_first[lo:hi], block_last[lo:hi], residual[lo:hi])
            upper += spread[t]
        for t in open_terms:
            alive = upper >= threshold - slack
            if not alive.all():
                candidates, upper = candidates[alive], upper[alive]
                spread = {u: v[alive] for u, v in spread.items()}
            need = np.flatnonzero(spread[t] > 0)
            if not len(need):
                continue
            lo, hi = indptr[ids[t]], indptr[ids[t] + 1]
            held = self._docs[lo:hi]
            asked_for = candidates[need]
            where = np.searchsorted(held, asked_for)
            where[where == len(held)] = 0
            hit = held[where] == asked_for
            exact_gain = np.zeros(len(need))
            if hit.any():
                tf = np.asarray(self._tf[lo:hi][where[hit]], dtype=np.int64)
                exact_gain[hit] = w[t] * (f.expression(idf[t], tf, f.norm[asked_for[hit]]) - absent[t])
            upper[need] += exact_gain - spread[t][need]
            del spread[t]
        alive = upper >= threshold - slack
        candidates, upper = candidates[alive], upper[alive]
        order = np.argsort(-upper, kind="stable")
        candidates, upper = candidates[order], upper[order]
        done, batch = 0, _PRUNE_BATCH
        while done < len(candidates) and upper[done] >= threshold - slack:
            end = min(len(candidates), int(np.searchsorted(-upper, slack - threshold, side="right")), done + batch)
            columns = np.sort(candidates[done:end])
            found.append((columns, *self._scores_at(query, columns, few=True)))
            best = _largest(np.concatenate([best, found[-1][1]]), k)
            threshold = float(best.min()) if len(best) == k else -math.inf
            done, batch = end, batch * 2
        positions = np.concatenate([p for p, _, _ in found])
        total = np.concatenate([t for _, t, _ in found])
        bm25 = np.concatenate([b for _, _, b in found])
        by_position = np.argsort(positions, kind="stable")
        chosen = by_position[top_k(total[by_position], k)]
        return positions[chosen], total[chosen], bm25[chosen]

    def hits_at(self, query: Query, positions: Sequence[int], first_rank: int) -> list[Hit]:
        """Passages found another way (by meaning), in the order given, scored as ``search``
        scores: their rank-bm25 score for the question's terms is still the truth, often its floor."""
        if not positions:
            return []
        columns = np.array(sorted(set(positions)), dtype=np.intp)
        total, bm25 = self._scores_at(query, columns)
        column = {int(i): j for j, i in enumerate(columns)}
        return [Hit(self.passages[i], i, float(total[column[i]]), rank, self._passage_terms(i) & query.asked,
                    {"bm25": float(bm25[column[i]]), "weighted": float(total[column[i]])})
                for rank, i in enumerate(positions, start=first_rank)]

    def _scores_at(self, query: Query, columns: np.ndarray, few: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(the weighted multi-turn score, rank-bm25's score for the question) at the passages
        ``columns``: only those are scored, the same numbers without a row per term over the corpus
        (with ``few``, each looked up in the postings: never a pass over a term's postings)."""
        per_term = _TermScores(self, columns, few)
        per_term.prime(t for turn in query.turns for t in turn.terms)
        total = np.zeros(len(columns))
        for turn in query.turns:
            if turn.words:
                total += turn.weight * per_term.query(turn.terms, turn.priors)
        return total, per_term.query(query.question.terms)

    def explain(self, query: Query, passage_id: str) -> list[dict[str, Any]]:
        """What each searched term of the query adds to one passage's ``weighted`` score: the
        word as typed, the term, its IDF, its frequency in the passage, its weight, and whether
        the term stands for the word by meaning (a word the documents lack: ``by_meaning``)."""
        position = self._by_id.get(passage_id)
        if position is None:
            raise KeyError(passage_id)
        per_term = _TermScores(self, np.array([position], dtype=np.intp))
        rows: list[dict[str, Any]] = []
        for turn in query.turns:
            for word in turn.words:
                for term in word.searched or (word.term,):
                    score = float(per_term.term(term)[0])
                    rows.append({
                        "turn": turn.role, "word": turn.text[word.start : word.end], "term": term,
                        "idf": self._formula.idf_of(self._term_id.get(term)),
                        "frequency": self.frequency(term, position),
                        "weight": turn.weight * word.prior,
                        "bm25": score,
                        "contribution": turn.weight * word.prior * score,
                        "by_meaning": word.by_meaning,
                    })
        return rows

    def frequency(self, term: str, position: int) -> int:
        """How often ``term`` occurs in the passage at ``position`` (a binary search of its postings)."""
        docs, tf = self._postings(term)
        at = int(np.searchsorted(docs, position))
        return int(tf[at]) if at < len(docs) and int(docs[at]) == position else 0


_EMPTY = np.zeros(0, dtype=np.int32)
_EMPTY_POSITIONS = np.zeros(0, dtype=np.intp)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(start, start + length)`` for each pair."""
    total = int(lengths.sum())
    before = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=before[1:])
    return np.arange(total, dtype=np.int64) + np.repeat(starts - before, lengths)


def _largest(values: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` largest of ``values`` (all of them when fewer), in no order."""
    return values if len(values) <= k else np.partition(values, len(values) - k)[len(values) - k :]


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct ``values`` ascending, as positions."""
    ordered = np.sort(values).astype(np.intp, copy=False)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _found_at(haystack: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """Where the ``needles`` that ``haystack`` (ascending) holds stand in it."""
    if not len(haystack):
        return _EMPTY_POSITIONS
    at = np.searchsorted(haystack, needles)
    at[at == len(haystack)] = 0
    return at[haystack[at] == needles]


def _sum_by(keys: np.ndarray, values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``keys`` (in 0..size-1) ascending, and the sum of ``values`` for each (in any order)."""
    if len(keys) * 8 > size:  # many: a count over every position beats a sort
        sums = np.bincount(keys, weights=values, minlength=size)
        held = np.flatnonzero(np.bincount(keys, minlength=size))
        return held, sums[held]
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    return ordered[starts].astype(np.intp), np.add.reduceat(values[order], starts) if len(keys) else np.zeros(0)


def _spread(positions: np.ndarray, first: np.ndarray, last: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each of ``positions`` (ascending), the value of the range ``[first[j], last[j]]`` it falls
    in (the ranges ascending and disjoint), or 0: copied, never summed."""
    n = len(first)
    cuts = np.empty(2 * n + 2, dtype=np.int64)
    cuts[0], cuts[-1] = 0, len(positions)
    cuts[1:-1:2] = np.searchsorted(positions, first, side="left")
    cuts[2:-1:2] = np.searchsorted(positions, last, side="right")
    filled = np.zeros(2 * n + 1)
    filled[1::2] = values
    return np.repeat(filled, cuts[1:] - cuts[:-1])


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest ``scores``, best first, ties in index order (NaN last): an
    ``argpartition``, then a sort of the few kept, never of every candidate."""
    if len(scores) <= 64:  # a few candidates: one small sort in Python
        values = [-math.inf if v != v else v for v in scores.tolist()]
        return np.array(sorted(range(len(values)), key=lambda j: (-values[j], j))[:k], dtype=np.intp)
    key = np.where(np.isnan(scores), -np.inf, scores)
    if len(key) > k:
        part = np.argpartition(-key, k - 1)[:k]
        chosen = np.flatnonzero(key >= key[part].min())  # every tie of the k-th: the earliest win
    else:
        chosen = np.arange(len(key))
    return chosen[np.lexsort((chosen, -key[chosen]))][:k]


class _Formula:
    """rank-bm25's statistics and per-term expression, from the arrays instead of its Python
    dicts: IDFs from document frequencies with the same ``math.log`` calls (BM25Okapi's average
    summed in its order), the same length normalisation, the same numpy expression per element,
    so the same bits."""

    def __init__(self, doc_len: np.ndarray, df: np.ndarray, scorer: str, k1: float, b: float, delta: float) -> None:
        self.scorer, self.k1, self.b, self.delta = scorer, k1, b, delta
        n = len(doc_len)
        self.size = n
        self.avgdl = int(doc_len.sum()) / n  # rank-bm25 sums Python ints, then divides
        self.norm = self.norm_of(doc_len)
        self.zero_norm = self.norm == 0  # 0/0 there: rank-bm25 gives NaN, and so must we
        self.any_zero_norm = bool(self.zero_norm.any())
        values, inverse = np.unique(df, return_inverse=True)  # a few hundred distinct frequencies
        if scorer == "plus":
            per = [math.log((n + 1) / int(f)) for f in values]
        elif scorer == "l":
            per = [math.log(n + 1) - math.log(int(f) + 0.5) for f in values]
        else:
            per = [math.log(n - int(f) + 0.5) - math.log(int(f) + 0.5) for f in values]
        idf = np.array(per, dtype=np.float64)[inverse.reshape(-1)] if len(values) else np.zeros(0)
        if scorer == "okapi" and len(idf):
            idf_sum = 0.0
            for value in idf.tolist():  # in rank-bm25's order (first appearance), one addition at a time
                idf_sum += value
            eps = OKAPI_EPSILON * (idf_sum / len(idf))
            idf = np.where(idf < 0, eps, idf)
        self.idf = idf
        # Pruning needs each term's value to grow with tf and shrink as passages get longer, and
        # no NaN: true for every k1 > 0, 0 <= b <= 1, delta >= 0 without a passage of norm 0.
        self.monotone = (k1 > 0 and 0 <= b <= 1 and delta >= 0 and not self.any_zero_norm
                         and bool(np.isfinite(idf).all()) and math.isfinite(k1 + b + delta))

    def norm_of(self, doc_len: np.ndarray) -> np.ndarray:
        """rank-bm25's length normalisation of passages of ``doc_len`` terms (the same bits for the same length)."""
        k1, b, avgdl = self.k1, self.b, self.avgdl
        if self.scorer == "l":
            return 1 - b + b * doc_len / avgdl
        return k1 * (1 - b + b * doc_len / avgdl)

    def idf_for(self, term_ids: Sequence[int | None]) -> np.ndarray:
        """``idf_of`` for many terms at once."""
        if all(t is not None for t in term_ids):
            return self.idf[np.array(term_ids, dtype=np.intp)] if term_ids else np.zeros(0)
        return np.array([self.idf_of(t) for t in term_ids])

    def idf_of(self, term_id: int | None) -> float:
        """rank-bm25's ``idf.get(term) or 0``."""
        return 0.0 if term_id is None else float(self.idf[term_id])

    def expression(self, idf: float | np.ndarray, q_freq: np.ndarray, norm: np.ndarray) -> np.ndarray:
        """rank-bm25's per-term addition to ``get_scores``, written as it writes it."""
        k1, b, delta = self.k1, self.b, self.delta
        with np.errstate(divide="ignore", invalid="ignore"):  # k1 = 0 gives 0/0 = nan, as in rank-bm25
            if self.scorer == "plus":
                return idf * (delta + (q_freq * (k1 + 1)) / (norm + q_freq))
            if self.scorer == "okapi":
                return idf * (q_freq * (k1 + 1) / (q_freq + norm))
            ctd = q_freq / norm
            return idf * q_freq * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)


class _TermScores:
    """rank-bm25's scores one term at a time at some passages (``columns``, ascending; None = all),
    each term computed once per request from its postings only.

    rank-bm25 adds each query term's row to a zero vector: ``score[i] = score[i] + row[i]``. Summing
    in query order reproduces ``get_scores(query)`` to the last bit, whether a term's row is held
    whole (few candidates) or as its value where the term is absent plus its postings (many: then
    ``score += absent`` everywhere and ``score[at] = before + present`` where it occurs, the same
    additions without a row per term over every candidate)."""

    def __init__(self, index: Index, columns: np.ndarray | None, few: bool = False) -> None:
        self._index = index
        self._few_only = few and columns is not None
        self._formula = index._formula
        self._columns = columns
        self._size = self._formula.size if columns is None else len(columns)
        self._memo: dict[str, np.ndarray] = {}  # whole rows
        self._sparse: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}  # (at, present, absent)

    def term(self, term: str) -> np.ndarray:
        row = self._memo.get(term)
        if row is None:
            if term not in self._sparse:
                self.prime((term,))
            row = self._memo.get(term)
            if row is None:  # held sparse: made whole on demand (explanations, tests)
                at, present, absent = self._sparse[term]
                row = np.full(self._size, absent)
                row[at] = present
                self._memo[term] = row
        return row

    def prime(self, terms: Iterable[str]) -> None:
        """Score the new terms of ``terms`` together (a few numpy calls, not a few per term)."""
        new = [t for t in dict.fromkeys(terms) if t not in self._memo and t not in self._sparse]
        if not new:
            return
        f, index, columns = self._formula, self._index, self._columns
        count = len(new)
        ids = [index._term_id.get(t) for t in new]
        idf = f.idf_for(ids)
        indptr = index._indptr_list
        bounds = [(r, indptr[i], indptr[i + 1]) for r, i in enumerate(ids) if i is not None]
        postings = sum(end - start for _, start, end in bounds)
        if columns is not None and f.size <= _SMALL_CORPUS and count * len(columns) <= 4096 and bounds:
            self._dense(new, idf, bounds)
        elif columns is not None and (len(columns) * 8 < postings or self._few_only):
            self._few(new, idf, bounds)
        elif columns is not None and count * len(columns) <= 4096 and bounds:
            self._dense(new, idf, bounds)
        elif f.any_zero_norm:  # 0/0 where the normalisation is 0: rows held whole, as rank-bm25 has them
            self._whole(new, idf, bounds)
        else:
            self._postings_only(new, idf, bounds)

    def _gather(self, bounds: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, passage, tf) of every posting of the terms that falls on a column."""
        index, columns = self._index, self._columns
        docs = np.concatenate([index._docs[start:end] for _, start, end in bounds])
        tf = np.concatenate([index._tf[start:end] for _, start, end in bounds])
        rows = np.repeat(np.array([r for r, _, _ in bounds]), np.array([end - start for _, start, end in bounds]))
        if columns is None:
            return rows, docs, docs, tf
        if len(columns) * 32 > self._formula.size:  # many candidates: a map over the corpus beats a binary search each
            column_of = np.full(self._formula.size, -1, dtype=np.int64)
            column_of[columns] = np.arange(len(columns))
            at = column_of[docs]
            kept = at >= 0
        else:
            at = np.searchsorted(columns, docs)
            kept = at < len(columns)
            kept[kept] = columns[at[kept]] == docs[kept]
        return rows[kept], at[kept], docs[kept], tf[kept]

    def _dense(self, new: list[str], idf: np.ndarray, bounds: list[tuple[int, int, int]]) -> None:
        """Few candidates: rank-bm25's own way, a term-frequency matrix and one expression (over
        the whole of a small corpus, then the candidates' columns: no look-ups at all)."""
        f, index = self._formula, self._index
        if f.size <= _SMALL_CORPUS:
            q_freq = np.zeros((len(new), f.size), dtype=np.int64)
            for r, start, end in bounds:
                q_freq[r, index._docs[start:end]] = index._tf[start:end]
            q_freq = q_freq[:, self._columns]
        else:
            rows, at, _, tf = self._gather(bounds)
            q_freq = np.zeros((len(new), self._size), dtype=np.int64)
            q_freq[rows, at] = tf
        matrix = f.expression(idf[:, None], q_freq, f.norm[self._columns])
        for r, term in enumerate(new):
            self._memo[term] = matrix[r]

    def _absent(self, idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each term's value where it does not occur: with a positive normalisation, and with 0."""
        n = len(idf)
        values = self._formula.expression(np.concatenate([idf, idf]), np.zeros(2 * n, dtype=np.int64),
                                          np.concatenate([np.ones(n), np.zeros(n)]))
        return values[:n], values[n:]

    def _whole(self, new: list[str], idf: np.ndarray, bounds: list[tuple[int, int, int]]) -> None:
        f, columns = self._formula, self._columns
        absent, zero = self._absent(idf)
        matrix = np.empty((len(new), self._size))
        matrix[:] = absent[:, None]
        matrix[:, f.zero_norm if columns is None else f.zero_norm[columns]] = zero[:, None]
        if bounds:
            rows, at, docs, tf = self._gather(bounds)
            matrix[rows, at] = f.expression(idf[rows], tf.astype(np.int64), f.norm[docs])
        for r, term in enumerate(new):
            self._memo[term] = matrix[r]

    def _few(self, new: list[str], idf: np.ndarray, bounds: list[tuple[int, int, int]]) -> None:
        """A few passages (hits found by meaning, an explanation): each looked up in the postings."""
        f, index, columns = self._formula, self._index, self._columns
        absent, zero = self._absent(idf)
        matrix = np.empty((len(new), self._size))
        matrix[:] = absent[:, None]
        if f.any_zero_norm:
            matrix[:, f.zero_norm[columns]] = zero[:, None]
        for r, start, end in bounds:
            docs = index._docs[start:end]
            where = np.searchsorted(docs, columns)
            kept = where < len(docs)
            kept[kept] = docs[where[kept]] == columns[kept]
            at = np.flatnonzero(kept)
            if len(at):
                found = where[kept] + start
                matrix[r, at] = f.expression(idf[r], np.asarray(index._tf[found], dtype=np.int64),
                                             f.norm[index._docs[found]])
        for r, term in enumerate(new):
            self._memo[term] = matrix[r]

    def _postings_only(self, new: list[str], idf: np.ndarray, bounds: list[tuple[int, int, int]]) -> None:
        """Many candidates: each term kept as its absent value and its postings' values, no rows."""
        f = self._formula
        absent, _ = self._absent(idf)
        present = np.zeros(0)
        rows = at = np.zeros(0, dtype=np.intp)
        if bounds:
            rows, at, docs, tf = self._gather(bounds)
            present = f.expression(idf[rows], tf.astype(np.int64), f.norm[docs])
        cuts = np.searchsorted(rows, np.arange(len(new) + 1))  # rows come grouped by term, in order
        for r, term in enumerate(new):
            self._sparse[term] = (at[cuts[r] : cuts[r + 1]], present[cuts[r] : cuts[r + 1]], float(absent[r]))

    def query(self, terms: Sequence[str], weights: Sequence[float] | None = None) -> np.ndarray:
        total = np.zeros(self._size)
        if weights is None or all(w == 1.0 for w in weights):
            items: Iterable[tuple[str, float | None]] = ((t, None) for t in terms)
        else:
            per_term: dict[str, float] = defaultdict(float)
            for term, weight in zip(terms, weights):
                per_term[term] += weight  # a repeated term is scored once
            items = per_term.items()
        for term, weight in items:
            if term not in self._memo and term not in self._sparse:
                self.prime((term,))
            row = self._memo.get(term)
            if row is not None:
                total += row if weight is None else weight * row
                continue
            at, present, absent = self._sparse[term]
            before = total[at]
            if weight is None:
                total += absent
                total[at] = before + present
            else:
                total += weight * absent
                total[at] = before + weight * present
        return total
