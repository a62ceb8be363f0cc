"""The retriever: passages in, a :class:`Query` in, ranked :class:`Hit` objects out.

Scores are rank-bm25's own. Around it we add what it lacks: an inverted index so passages
that match nothing are never returned, a stable order for ties, per-term query weights, a
clear refusal of corpora it cannot score, and the vocabulary look-ups the query analyser
needs (document frequency, rarity, near-spellings).
"""

from __future__ import annotations

import bisect
import itertools
import math
import os
import string
from collections import defaultdict
from typing import Any, Iterable, Sequence

import numpy as np
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from .errors import EmptyCorpusError
from .spans import acronym_pairs
from .text import Token, Tokenizer, merge_spans, sentence_spans
from .values import Hit, Passage, Query, Span

__all__ = ["Index", "SCORERS"]

SCORERS = {"plus": BM25Plus, "l": BM25L, "okapi": BM25Okapi}


# Longer "words" are not misspellings worth guessing at, and their candidate spellings grow as
# the square of their length.
_MAX_TYPO_LETTERS = 30
# Shorter terms share their first letters with too many unrelated words to guess a root from.
_MIN_ROOT_LETTERS = 5
# Below this a one-letter change is more often another word (cat/car) than a typo.
_MIN_TYPO_LETTERS = 6
_SIMILAR_CACHE_SIZE = 50_000  # entries; a guess is looked up again by follow-ups and later questions
_TERM_BATCH = 32  # terms scored in one numpy pass: fewer calls, bounded temporaries


class Index:
    """The lexical retriever: BM25 over pre-tokenised passages (never rank-bm25's ``tokenizer=``,
    which starts a pool), with an inverted index, stable ties and each passage's sentences.

    Every passage is tokenised once, here; the BM25 statistics, the highlights and the
    per-sentence terms the later stages read all come from those tokens.

    Args:
        passages: what to search, in corpus order.
        tokenizer: the one tokeniser, also used on questions.
        scorer, k1, b, delta: rank-bm25's variant and parameters.
        extra_terms: terms that count as known though no passage holds them (document titles).
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
    ) -> None:
        if scorer not in SCORERS:
            raise ValueError(f"unknown scorer {scorer!r}; choose one of {', '.join(SCORERS)}")
        if not passages:
            raise EmptyCorpusError("cannot build an index over no passages")
        self.passages: tuple[Passage, ...] = tuple(passages)
        self.tokenizer = tokenizer
        self._tokens = [tokenizer.tokens(p.text) for p in self.passages]
        docs = [[t.term for t in tokens] for tokens in self._tokens]
        if not any(docs):
            raise EmptyCorpusError("the passages contain no searchable words")
        self.acronyms = self._acronyms(tokenizer)
        docs = [doc + self._acronyms_of(doc) for doc in docs]  # a long form spelt out also holds its acronym
        params: dict[str, float] = {"k1": k1, "b": b}
        if scorer != "okapi":
            params["delta"] = delta
        self._bm25 = SCORERS[scorer](docs, **params)
        self._postings: dict[str, list[int]] = defaultdict(list)
        counts: dict[str, list[int]] = defaultdict(list)
        for position, freqs in enumerate(self._bm25.doc_freqs):
            for term, count in freqs.items():
                self._postings[term].append(position)
                counts[term].append(count)
        self._formula = _Formula(self._bm25, scorer, {
            t: (np.array(self._postings[t]), np.array(counts[t])) for t in self._postings})
        self._term_sets = [frozenset(doc) for doc in docs]
        self._vocabulary = sorted(self._postings)
        self._extra_terms = frozenset(extra_terms)
        self._by_id = {p.id: i for i, p in enumerate(self.passages)}
        self._sentences = [self._split(p.text, tokens) for p, tokens in zip(self.passages, self._tokens)]
        # A question's unknown words are looked up again by follow-ups and later questions.
        self._similar_cache: dict[tuple[str, int, int], tuple[str, ...]] = {}

    def _acronyms(self, tokenizer: Tokenizer) -> dict[str, tuple[str, ...]]:
        """The acronyms the passages define ("the World Health Organization (WHO)"), as the
        acronym's term -> its long form's terms; an acronym defined two ways keeps the first."""
        found: dict[str, tuple[str, ...]] = {}
        for passage in self.passages:
            for short, long in acronym_pairs(passage.text):
                short_terms, long_terms = tokenizer.terms(short), tuple(tokenizer.terms(long))
                # "WHO" is a stopword and "CM" a unit the tokeniser spells out: neither names only the long form
                if short_terms == [short.casefold()] and len(long_terms) > 1:
                    found.setdefault(short_terms[0], long_terms)
        return found

    def _acronyms_of(self, terms: Sequence[str]) -> list[str]:
        """The acronyms whose long form ``terms`` spell out without using the acronym itself:
        a question that uses the acronym then finds them too."""
        if not self.acronyms:
            return []
        joined, present = " " + " ".join(terms) + " ", set(terms)
        return [short for short, long in self.acronyms.items()
                if short not in present and " " + " ".join(long) + " " in joined]

    def _split(self, text: str, tokens: Sequence[Token]) -> tuple[tuple[Span, frozenset[str]], ...]:
        """The passage's sentences, each with the terms it holds (from the passage's tokens, and
        the acronym of a long form it spells out)."""
        out = []
        for span in sentence_spans(text):
            terms = [t.term for t in tokens if span.start <= t.start and t.end <= span.end]
            out.append((span, frozenset(terms + self._acronyms_of(terms))))
        return tuple(out)

    def __len__(self) -> int:
        return len(self.passages)

    def passage(self, passage_id: str) -> Passage | None:
        position = self._by_id.get(passage_id)
        return None if position is None else self.passages[position]

    def document_frequency(self, term: str) -> int:
        return len(self._postings.get(term, ()))

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
        return sorted(t for t in found if len(t) >= 5 and t in self._postings)

    def known(self, term: str) -> bool:
        """Whether a passage or a document title holds ``term``."""
        return term in self._postings or term in self._extra_terms

    def sentences(self, position: int) -> tuple[tuple[Span, frozenset[str]], ...]:
        """The sentences of the passage at ``position``: span in its text, and its terms."""
        return self._sentences[position]

    def tokens_of(self, passage_id: str, start: int, text: str) -> list[Token] | None:
        """The tokens of ``text`` where it stands in a passage at ``start`` (offsets in ``text``),
        from the index instead of the tokeniser; None when it does not stand there."""
        position = self._by_id.get(passage_id)
        if position is None or self.passages[position].text[start : start + len(text)] != text:
            return None
        end = start + len(text)
        return [Token(t.term, t.start - start, t.end - start) for t in self._tokens[position]
                if start <= t.start and t.end <= end]

    def highlights(self, position: int, terms: Iterable[str]) -> list[Span]:
        """Merged spans of the passage's words whose terms are in ``terms`` (no re-tokenising)."""
        wanted = set(terms)
        return merge_spans(Span(t.start, t.end) for t in self._tokens[position] if t.term in wanted)

    def candidates(self, terms: Iterable[str]) -> set[int]:
        """Positions of passages containing at least one of ``terms``."""
        found: set[int] = set()
        for term in set(terms):
            found.update(self._postings.get(term, ()))
        return found

    def scores(self, terms: Sequence[str], weights: Sequence[float] | None = None) -> np.ndarray:
        """rank-bm25's score of every passage for the query ``terms``; with ``weights``, the sum
        of each term's own score times its weight (BM25 adds up over query terms)."""
        per_term = _TermScores(self._formula)
        per_term.prime(terms)
        return per_term.query(terms, weights)

    def search(self, query: Query, k: int) -> list[Hit]:
        """The ``k`` best passages holding a term of the conversation's questions, best first.

        Each turn adds its weight x its terms' prior-weighted rank-bm25 scores; the previous
        answer helps rank but never selects a passage. Ties keep passage order (rank-bm25's
        argsort breaks them backwards). ``scores["bm25"]`` is rank-bm25's own score for the
        question's terms, ``scores["weighted"]`` the sum the passages are ranked by.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        asked = query.asked
        candidates = np.array(sorted(self.candidates(asked)), dtype=np.intp)
        if not len(candidates):
            return []
        total, bm25 = self._scores_at(query, candidates)
        order = sorted(range(len(candidates)), key=lambda j: (-float(total[j]), j))[:k]  # j follows passage order
        hits = []
        for rank, j in enumerate(order, start=1):
            i = int(candidates[j])
            hits.append(Hit(self.passages[i], i, float(total[j]), rank, self._term_sets[i] & asked,
                            {"bm25": float(bm25[j]), "weighted": float(total[j])}))
        return hits

    def hits_at(self, query: Query, positions: Sequence[int], first_rank: int) -> list[Hit]:
        """Passages found another way (by meaning), in the order given, scored as ``search``
        scores: their rank-bm25 score for the question's terms is still the truth, often its floor."""
        if not positions:
            return []
        columns = np.array(sorted(set(positions)), dtype=np.intp)
        total, bm25 = self._scores_at(query, columns)
        column = {int(i): j for j, i in enumerate(columns)}
        return [Hit(self.passages[i], i, float(total[column[i]]), rank, self._term_sets[i] & query.asked,
                    {"bm25": float(bm25[column[i]]), "weighted": float(total[column[i]])})
                for rank, i in enumerate(positions, start=first_rank)]

    def _scores_at(self, query: Query, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the weighted multi-turn score, rank-bm25's score for the question) at the passages
        ``columns``: only those are scored, the same numbers without a row per term over the corpus."""
        per_term = _TermScores(self._formula, columns)
        per_term.prime(t for turn in query.turns for t in turn.terms)
        total = np.zeros(len(columns))
        for turn in query.turns:
            if turn.words:
                total += turn.weight * per_term.query(turn.terms, turn.priors)
        return total, per_term.query(query.question.terms)

    def explain(self, query: Query, passage_id: str) -> list[dict[str, Any]]:
        """What each searched term of the query adds to one passage's ``weighted`` score: the
        word as typed, the term, its IDF, its frequency in the passage, and its weight."""
        position = self._by_id.get(passage_id)
        if position is None:
            raise KeyError(passage_id)
        per_term = _TermScores(self._formula)
        rows: list[dict[str, Any]] = []
        for turn in query.turns:
            for word in turn.words:
                for term in word.searched or (word.term,):
                    rows.append({
                        "turn": turn.role, "word": turn.text[word.start : word.end], "term": term,
                        "idf": float(self._bm25.idf.get(term, 0.0)),
                        "frequency": int(self._bm25.doc_freqs[position].get(term, 0)),
                        "weight": turn.weight * word.prior,
                        "bm25": float(per_term.term(term)[position]),
                        "contribution": turn.weight * word.prior * float(per_term.term(term)[position]),
                    })
        return rows


class _Formula:
    """rank-bm25's per-term scores, computed from the postings instead of its Python loop over
    every passage: the same numpy expression on the same numbers as its ``get_scores``, one row
    per term, so the same bits (a test compares them on every term of two corpora)."""

    def __init__(self, bm25: Any, scorer: str, tf: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        self.bm25 = bm25
        self.scorer = scorer
        self.tf = tf
        doc_len = np.array(bm25.doc_len)
        self.size = len(doc_len)
        self.int = np.array([0]).dtype  # the dtype rank-bm25's term frequencies get
        if scorer == "l":
            self.norm = 1 - bm25.b + bm25.b * doc_len / bm25.avgdl
        else:
            self.norm = bm25.k1 * (1 - bm25.b + bm25.b * doc_len / bm25.avgdl)

    def __call__(self, terms: Sequence[str], columns: np.ndarray | None = None) -> np.ndarray:
        """A row per term: what ``get_scores([term])`` adds to its zero vector, at the passage
        positions ``columns`` (sorted; None = every passage). Each element is computed alone,
        so a column is the same number whichever other columns are computed with it."""
        if columns is not None and len(columns) == self.size:
            columns = None  # every passage: no mapping needed
        size = self.size if columns is None else len(columns)
        norm = self.norm if columns is None else self.norm[columns]
        column_of = None
        if columns is not None:
            column_of = np.full(self.size, -1, dtype=np.intp)
            column_of[columns] = np.arange(size)
        q_freq = np.zeros((len(terms), size), dtype=self.int)
        for row, term in enumerate(terms):
            positions, counts = self.tf.get(term, (None, None))
            if positions is None:
                continue
            if column_of is None:
                q_freq[row, positions] = counts
            else:
                at = column_of[positions]
                kept = at >= 0
                q_freq[row, at[kept]] = counts[kept]
        idf = np.array([[float(self.bm25.idf.get(term) or 0)] for term in terms])
        with np.errstate(divide="ignore", invalid="ignore"):  # k1 = 0 gives 0/0 = nan, as in rank-bm25
            return self._score(idf, q_freq, norm)

    def _score(self, idf: np.ndarray, q_freq: np.ndarray, norm: np.ndarray) -> np.ndarray:
        bm25 = self.bm25
        if self.scorer == "plus":
            return idf * (bm25.delta + (q_freq * (bm25.k1 + 1)) / (norm + q_freq))
        if self.scorer == "okapi":
            return idf * (q_freq * (bm25.k1 + 1) / (q_freq + norm))
        ctd = q_freq / norm
        return idf * q_freq * (bm25.k1 + 1) * (ctd + bm25.delta) / (bm25.k1 + ctd + bm25.delta)


class _TermScores:
    """rank-bm25's scores one term at a time, each computed once per request.

    rank-bm25 adds a term's contribution to a zero vector, so summing these in query order
    reproduces ``get_scores(query)`` to the last bit."""

    def __init__(self, formula: _Formula, columns: np.ndarray | None = None) -> None:
        self._formula = formula
        self._columns = columns
        self._size = formula.size if columns is None else len(columns)
        self._memo: dict[str, np.ndarray] = {}

    def prime(self, terms: Iterable[str]) -> None:
        """Score the new terms of ``terms`` a batch at a time (one numpy call per step, not per term)."""
        new = [t for t in dict.fromkeys(terms) if t not in self._memo]
        for start in range(0, len(new), _TERM_BATCH):
            batch = new[start : start + _TERM_BATCH]
            for term, row in zip(batch, self._formula(batch, self._columns)):
                self._memo[term] = row

    def term(self, term: str) -> np.ndarray:
        if term not in self._memo:
            self.prime((term,))
        return self._memo[term]

    def query(self, terms: Sequence[str], weights: Sequence[float] | None = None) -> np.ndarray:
        total = np.zeros(self._size)
        if weights is None or all(w == 1.0 for w in weights):
            for term in terms:
                total += self.term(term)
            return total
        per_term: dict[str, float] = defaultdict(float)
        for term, weight in zip(terms, weights):
            per_term[term] += weight  # a repeated term is scored once
        for term, weight in per_term.items():
            total += weight * self.term(term)
        return total
