"""Words the documents lack, searched by their nearest words in meaning.

A question that says "Kyiv" of an article that only says "Ukraine", or "bloc" where it says
"alliance", matches nothing by its words. The near-spellings the index looks for (``Index.similar``)
do not help there. Here every word of the corpus's vocabulary gets a unit vector from the
sentence encoder (the word alone, in its commonest written form); a question word the
index does not know, and has no near-spelling for, searches the corpus words whose vectors are
closest to its own, when the cosine reaches ``min_similarity``. Such a word then counts as
found (for coverage and for "names the documents never mention"), and the explanation lists
the terms it searched.

The vectors are computed once (``qa-service index`` saves them beside the corpus as
``word-vectors.npy``, with a fingerprint of the encoder and the words, so a stale file is
computed again, never served) and kept per word in this process, so a corpus that grows by one
document encodes only its new words.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from . import semantic
from .encode import Encoder
from .text import Tokenizer
from .values import Passage

__all__ = ["WORD_VECTORS", "WordNeighbours", "corpus_words", "load_or_build_neighbours", "save_neighbours",
           "word_terms", "write_neighbours"]

WORD_VECTORS = "word-vectors"  # .npy and .json beside the corpus
_MIN_LETTERS = 3  # shorter words ("un", "eu") are too ambiguous alone to have neighbours
_MAX_WORD_CHARS = 40  # a longer "word" is not a word
_TOKENS = 16  # word pieces a word is cut to before encoding
# Corpus words already encoded in this process (by encoder and written form): a corpus rebuilt
# with one more document, or `eval`'s pools, encode only the words they add. Never user input.
_SEEN: dict[tuple[str, str], np.ndarray] = {}
_SEEN_LIMIT = 50_000
# Question words whose neighbours were looked up (per WordNeighbours): bounded, user input.
_ASKED_LIMIT = 4096
_POSSESSIVE = re.compile(r"(?<=\w)['\u2019]s?$")  # "Putin's", "Putin\u2019s", "citizens'"


def corpus_words(passages: Sequence[Passage], tokenizer: Tokenizer) -> tuple[list[str], list[str]]:
    """The corpus's word terms (letters only, at least three, sorted) and, for each, the form it
    is most often written in (:func:`_commonest`)."""
    forms: dict[str, Counter[str]] = {}
    for passage in passages:
        text = passage.text
        for token in tokenizer.tokens(text):
            term = token.term
            if len(term) < _MIN_LETTERS or not term.isalpha():
                continue
            written = text[token.start : token.end]
            if len(written) > _MAX_WORD_CHARS:
                continue
            forms.setdefault(term, Counter())[written] += 1
    terms = sorted(forms)
    return terms, [_commonest(forms[t]) for t in terms]


def _commonest(written: Counter[str]) -> str:
    """The form a term is most often written in, case aside; in lower case when it is ever
    written so (a capital at a sentence's start does not make a name)."""
    folded: Counter[str] = Counter()
    for form, n in written.items():
        folded[form.casefold()] += n
    best = folded.most_common(1)[0][0]
    variants = [f for f in written if f.casefold() == best]
    lower = [f for f in variants if f == f.lower()]
    return lower[0] if lower else max(variants, key=lambda f: written[f])


def _encode(encoder: Encoder, words: Sequence[str], progress: bool = False) -> np.ndarray:
    return semantic.encode_cached(encoder, words, _SEEN, _SEEN_LIMIT, max_tokens=_TOKENS,
                                  progress=semantic.terminal_progress("words") if progress else None)


class WordNeighbours:
    """The corpus's words as unit vectors, and the nearest of them to a word it lacks.

    Args:
        terms: the index's terms, one per row of ``matrix``.
        matrix: float32 (len(terms), dim), rows L2-normalised.
        encoder: encodes the asked words (the one that made ``matrix``).
        min_similarity: a corpus word is a neighbour from this cosine on.
        limit: at most this many neighbours per word (0 = none: the stage is off).
    """

    def __init__(self, terms: Sequence[str], matrix: np.ndarray, encoder: Encoder, *,
                 min_similarity: float, limit: int) -> None:
        if matrix.shape != (len(terms), encoder.dim):
            raise ValueError("word vectors and their terms disagree")
        self.terms = tuple(terms)
        self.matrix = matrix
        self.encoder = encoder
        self.min_similarity = min_similarity
        self.limit = limit
        self._asked: dict[str, tuple[str, ...]] = {}

    def __len__(self) -> int:
        return len(self.terms)

    def nearest(self, words: Sequence[str]) -> list[tuple[str, ...]]:
        """For each word (as written; a possessive ending is dropped), the corpus terms closest
        in meaning, closest first: those whose cosine reaches ``min_similarity``, at most
        ``limit``. One encoder call for the words not asked before."""
        words = [_POSSESSIVE.sub("", w) or w for w in words]  # "Putin's" means what "Putin" means
        asked = words if self.limit > 0 and len(self.terms) else ()
        known = {w: self._asked.get(w) for w in asked}  # read once: another thread may empty the cache
        todo = sorted({w for w, found in known.items() if found is None and 0 < len(w) <= _MAX_WORD_CHARS})
        if todo:
            cosines = self.encoder.encode(todo, max_tokens=_TOKENS) @ self.matrix.T
            k = min(self.limit, len(self.terms))
            for word, row in zip(todo, cosines):
                top = np.argpartition(-row, k - 1)[:k] if k < len(row) else np.arange(len(row))
                top = sorted(top, key=lambda i: (-row[i], i))
                known[word] = tuple(self.terms[i] for i in top if row[i] >= self.min_similarity)
            if len(self._asked) + len(todo) > _ASKED_LIMIT:
                self._asked.clear()
            self._asked.update((w, known[w]) for w in todo)
        return [known.get(w) or () for w in words]


def _digest(encoder: Encoder, terms: Sequence[str]) -> str:
    """What the saved vectors depend on: the encoder, how words are cut, and the terms."""
    h = hashlib.sha256(f"{encoder.fingerprint}:words:{_TOKENS}".encode())
    for term in terms:
        h.update(term.encode("utf-8") + b"\x00")
    return h.hexdigest()


def word_terms(terms: Iterable[str]) -> list[str]:
    """The index terms that get a vector: words of letters only, at least three of them, sorted."""
    return sorted({t for t in terms if _MIN_LETTERS <= len(t) <= _MAX_WORD_CHARS and t.isalpha()})


def load_or_build_neighbours(terms: Iterable[str], passages: Sequence[Passage], tokenizer: Tokenizer,
                             encoder: Encoder, folder: Path | None = None, *, min_similarity: float, limit: int,
                             strict: bool = False, previous: WordNeighbours | None = None) -> WordNeighbours:
    """Vectors of the index's word ``terms``: read from ``folder`` when they were made by this
    encoder for these terms (checking that reads no passage), else computed (each term in the
    form the ``passages`` most often write it; a progress line on a terminal; the rows of
    ``previous``, the vectors before a change of the corpus, reused) and saved there
    (``strict``: failing to save is a CorpusError, as ``index`` wants; else a warning)."""
    terms = word_terms(terms)
    digest = _digest(encoder, terms)
    matrix = None
    if folder is not None and not strict:
        matrix = semantic.load_matrix(folder, WORD_VECTORS, digest, len(terms), encoder.dim)
    if matrix is None:
        matrix = _reused(previous, encoder, terms)
        todo = [i for i in range(len(terms)) if matrix is None or not matrix[i].any()]
        if todo:
            forms = dict(zip(*corpus_words(passages, tokenizer)))
            encoded = _encode(encoder, [forms.get(terms[i], terms[i]) for i in todo],
                              progress=sys.stderr.isatty() and len(todo) > 1024)
            if matrix is None:
                matrix = encoded
            else:
                matrix[todo] = encoded
        if folder is not None:
            semantic.save_matrix(folder, WORD_VECTORS, matrix, digest, encoder.fingerprint, strict=strict)
    return WordNeighbours(terms, matrix, encoder, min_similarity=min_similarity, limit=limit)


def save_neighbours(words: WordNeighbours, folder: Path) -> None:
    """Save a corpus's word vectors beside it (a folder that cannot take them: a warning), with
    what ``load_or_build_neighbours`` checks before reading them."""
    digest = _digest(words.encoder, words.terms)
    semantic.save_matrix(folder, WORD_VECTORS, words.matrix, digest, words.encoder.fingerprint, strict=False)


def _reused(previous: WordNeighbours | None, encoder: Encoder, terms: Sequence[str]) -> np.ndarray | None:
    """The vectors of ``terms`` with the rows ``previous`` holds for them copied, not encoded
    again (so a document added and removed again leaves the same bytes), and zero rows for the
    others; None without ``previous``."""
    if previous is None or previous.encoder.fingerprint != encoder.fingerprint:
        return None
    rows = {t: i for i, t in enumerate(previous.terms)}
    matrix = np.zeros((len(terms), encoder.dim), dtype=np.float32)
    for i, term in enumerate(terms):
        at = rows.get(term)
        if at is not None:
            matrix[i] = previous.matrix[at]
    return matrix


def write_neighbours(terms: Iterable[str], passages: Sequence[Passage], tokenizer: Tokenizer, encoder: Encoder,
                     folder: Path, *, min_similarity: float, limit: int) -> WordNeighbours:
    """For ``qa-service index``: compute the word vectors and save them, or fail."""
    return load_or_build_neighbours(terms, passages, tokenizer, encoder, folder, min_similarity=min_similarity,
                                    limit=limit, strict=True)
