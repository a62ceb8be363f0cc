"""Text handling shared by every stage: normalising, sentence splitting and the one tokeniser.

The same :class:`Tokenizer` object tokenises passages at index time, questions at query time
and passages again for highlighting, so a term that matched is always a term we can show.
"""

from __future__ import annotations

import importlib.metadata
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, NamedTuple

import simplemma
import Stemmer

from .values import Span

__all__ = [
    "MAX_CACHED_WORD",
    "TOKENIZER_VERSION",
    "STOPWORDS",
    "Span",
    "Token",
    "Tokenizer",
    "clean_question",
    "merge_spans",
    "sentence_spans",
    "term_libraries",
    "slugify",
    "word_count",
]

# NLTK's English stopword list (179 words), reviewed for question answering:
# - "nor" is removed: it is also a word of proper names ("Nor Nork", "Nor Hachn").
# - question words (who, what, when, why, how...) stay: BM25 cannot use them, and answer
#   extraction reads the question's type from the raw text, not from the terms.
# - added: function words that frame questions ("how much", "would it") and carry no topic.
STOPWORDS: frozenset[str] = frozenset(
    """
    i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself
    yourselves he him his himself she she's her hers herself it it's its itself they them their
    theirs themselves what which who whom this that that'll these those am is are was were be
    been being have has had having do does did doing a an the and but if or because as until
    while of at by for with about against between into through during before after above below
    to from up down in out on off over under again further then once here there when where why
    how all any both each few more most other some such no not only own same so than too very
    s t can will just don don't should should've now d ll m o re ve y ain aren aren't couldn
    couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma
    mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren
    weren't won won't wouldn wouldn't
    much many would could might must shall also ever yet upon whether
    """.split()
)

# Saved indexes record it: bump it whenever the terms or spans the tokeniser gives change, so an
# index saved by an older tokeniser is rebuilt instead of served.
TOKENIZER_VERSION = 1


def term_libraries(tokenizer: "Tokenizer") -> dict[str, str]:
    """The versions of the libraries whose output the tokeniser's terms are, for the settings it
    uses: saved indexes record them too. A new Snowball release stems otherwise (PyStemmer 3 gives
    "organiz" for "organization", 2.2 gave "organ"), a new simplemma lemmatises otherwise: an
    index saved under other versions would match questions on terms they no longer give."""
    out = {}
    if tokenizer.stem:
        out["PyStemmer"] = _version("PyStemmer")
    if tokenizer.lemmatize:
        out["simplemma"] = _version("simplemma")
    return out


@lru_cache(maxsize=None)
def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:  # imported from a checkout, not installed
        return "unknown"

# One word: letters/digits, with inner apostrophes (don't, O'Brien) but no hyphen.
# Numbers with thousands separators or decimals are one word: 598,000 and 1.5.
_ATOM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d+\.\d+|[^\W_]+(?:['’][^\W_]+)*)"
# A token: words joined by hyphens or dashes (Ter-Margaryan, 2018-2022, 2018–2022).
_TOKEN_RE = re.compile(rf"{_ATOM}(?:[-‐‑–]{_ATOM})*")
_PART_RE = re.compile(_ATOM)
_POSSESSIVE_RE = re.compile(r"['’]s$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# Sentence boundary: . ! or ? (plus closing quotes/brackets), whitespace, then something that
# can start a sentence. Abbreviations are checked separately.
# Tried only where a run of end punctuation starts, and without backtracking into it: a line of
# 40,000 dots is one attempt, not 40,000 (it took 27 s before).
_SENTENCE_END_RE = re.compile(r"(?<![.!?…])[.!?…]++[\"'”’)\]]*+(?=\s+[\"'“‘(\[]*[A-Z0-9À-Ý])")
_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st vs etc e.g i.e gen col lt sgt capt gov sen rep rev inc ltd co
    corp jan feb mar apr jun jul aug sep sept oct nov dec fig approx dept est u.s u.k u.n
    """.split()
)


class Token(NamedTuple):
    """A term as indexed, and where it came from in the text."""

    term: str
    start: int
    end: int


def _fold(word: str, fold_accents: bool) -> str:
    word = unicodedata.normalize("NFKC", word).casefold().replace("’", "'")
    if fold_accents:
        decomposed = unicodedata.normalize("NFKD", word)
        word = "".join(c for c in decomposed if not unicodedata.combining(c))
    return word


def _normalise_number(word: str) -> str:
    """598,000 -> 598000 and 12.50 -> 12.5, so the same amount always gives one term."""
    if not word[0].isdigit():
        return word
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", word):
        word = word.replace(",", "")
    if re.fullmatch(r"\d+\.\d+", word):
        word = word.rstrip("0").rstrip(".")
    return word


@dataclass(frozen=True, kw_only=True)
class Tokenizer:
    """The one tokeniser: the same settings for passages, questions and highlights.

    Every argument is required: the defaults live in ``config.SETTINGS`` alone.

    Args:
        lemmatize: map inflected forms to their lemma first (simplemma), so irregular
            forms meet: ``said``/``say``, ``withdrew``/``withdraw``. English only.
        stem: apply the Snowball stemmer of ``language`` (PyStemmer).
        stopwords: drop the reviewed English stopwords in :data:`STOPWORDS`.
        split_hyphens: for ``Ter-Margaryan`` emit ``ter-margaryan``, ``ter`` and ``margaryan``.
        fold_accents: ``Pashinyán`` and ``Pashinyan`` give the same term.
        language: a Snowball language known to PyStemmer.
    """

    lemmatize: bool
    stem: bool
    stopwords: bool
    split_hyphens: bool
    fold_accents: bool
    language: str

    def __post_init__(self) -> None:
        for name in ("lemmatize", "stem", "stopwords", "split_hyphens", "fold_accents"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"Tokenizer {name} must be true or false")
        if self.language not in Stemmer.algorithms():
            known = ", ".join(sorted(Stemmer.algorithms()))
            raise ValueError(f"unknown stemmer language {self.language!r}; known: {known}")
        if self.lemmatize and self.language != "english":
            raise ValueError("lemmatize is only available for english")
        cached = lru_cache(maxsize=200_000)(self._make_term)
        # Words longer than any real one are not cached: a cache keyed by what users type must
        # not grow with how long they make it.
        object.__setattr__(self, "term_cache", cached)
        object.__setattr__(self, "_term", lambda word: cached(word) if len(word) <= MAX_CACHED_WORD
                           else self._make_term(word))
        # Passages repeat their spellings: each is analysed once (indexing a corpus is mostly this).
        analysed = lru_cache(maxsize=200_000)(self._analyse)
        object.__setattr__(self, "token_cache", analysed)

    def _make_term(self, word: str) -> str | None:
        """A normalised word's term, or None for a stopword."""
        if self.stopwords and word in STOPWORDS:
            return None
        if word[0].isdigit():
            return word
        if self.lemmatize:
            word = simplemma.lemmatize(word, lang="en").casefold()
        if self.stem:
            return _stemmer(self.language).stemWord(word)
        return word

    def tokens(self, text: str) -> list[Token]:
        """Every term of ``text`` with its character span, in reading order."""
        out: list[Token] = []
        cached, analyse = self.token_cache, self._analyse  # type: ignore[attr-defined]
        for match in _TOKEN_RE.finditer(text):
            raw = match.group()
            found = cached(raw) if len(raw) <= MAX_CACHED_WORD else analyse(raw)  # made-up long words: never kept
            if found:
                base = match.start()
                out.extend([Token(term, base + start, base + end) for term, start, end in found])
        return out

    def columns(self, text: str) -> tuple[list[str], list[int], list[int]]:
        """:meth:`tokens` as three lists (terms, starts, ends): what indexing stores, without a
        ``Token`` for each."""
        terms: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        cached, analyse = self.token_cache, self._analyse  # type: ignore[attr-defined]
        for match in _TOKEN_RE.finditer(text):
            raw = match.group()
            found = cached(raw) if len(raw) <= MAX_CACHED_WORD else analyse(raw)
            if not found:
                continue
            base = match.start()
            if len(found) == 1:
                term, start, end = found[0]
                terms.append(term)
                starts.append(base + start)
                ends.append(base + end)
            else:
                for term, start, end in found:
                    terms.append(term)
                    starts.append(base + start)
                    ends.append(base + end)
        return terms, starts, ends

    def _analyse(self, raw: str) -> tuple[tuple[str, int, int], ...]:
        """The terms of one token as the regex found it (a word, or words joined by hyphens), with
        spans relative to it: the same for every occurrence, so it is worked out once per spelling."""
        parts = []
        for part in _PART_RE.finditer(raw):
            word = _POSSESSIVE_RE.sub("", _fold(part.group(), self.fold_accents))
            if word:
                parts.append((_normalise_number(word), part.start(), part.end()))
        if not parts:
            return ()
        if len(parts) == 1:
            term = self._term(parts[0][0])
            return ((term, 0, len(raw)),) if term else ()
        # A hyphenated word counts whole and by its parts.
        found = [("-".join(self._term(w) or w for w, _, _ in parts), 0, len(raw))]
        if self.split_hyphens:
            for word, start, end in parts:
                term = self._term(word)
                if term:
                    found.append((term, start, end))
        return tuple(found)

    def terms(self, text: str) -> list[str]:
        """The terms of ``text``, repeated as often as they occur (BM25 wants frequencies)."""
        return [t.term for t in self.tokens(text)]

    def highlights(self, text: str, terms: Iterable[str]) -> list[Span]:
        """Merged spans of ``text`` whose terms are in ``terms``."""
        wanted = set(terms)
        return merge_spans(Span(t.start, t.end) for t in self.tokens(text) if t.term in wanted)


# The longest word whose term is kept in the cache (English words, names and numbers fit).
MAX_CACHED_WORD = 40

_local = threading.local()


def _stemmer(language: str) -> "Stemmer.Stemmer":
    """A stemmer for this thread: PyStemmer objects must not be shared between threads."""
    stemmers = _local.__dict__.setdefault("stemmers", {})
    if language not in stemmers:
        stemmers[language] = Stemmer.Stemmer(language)
    return stemmers[language]


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Sorted spans with overlapping or touching ones joined."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1].end:
            if end > merged[-1].end:
                merged[-1] = Span(merged[-1].start, end)
        else:
            merged.append(Span(start, end))
    return merged


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans of ``text[start:end]`` (offsets in ``text``), trimmed of white space.

    A sentence ends at . ! ? (with closing quotes) followed by white space and a capital,
    digit or opening quote, unless the word before the full stop is a known abbreviation
    or a single capital letter (an initial). Paragraph breaks always end a sentence.
    """
    end = len(text) if end is None else end
    spans: list[Span] = []
    for block in re.finditer(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*", text[start:end]):
        block_start = start + block.start()
        cut = block_start
        for m in _SENTENCE_END_RE.finditer(text, block_start, start + block.end()):
            if text[m.start()] == "." and _is_abbreviation(text, m.start()):
                continue
            if m.group().strip("\"'”’)]") in ("...", "…") and text[m.start() - 1].isspace():
                continue  # a lone ellipsis marks words left out of a quote, not an ending
            spans.append(_trimmed(text, cut, m.end()))
            cut = m.end()
        spans.append(_trimmed(text, cut, start + block.end()))
    return [s for s in spans if s.end > s.start]


def _is_abbreviation(text: str, dot: int) -> bool:
    word = re.search(r"([\w.]+)$", text[max(0, dot - 12) : dot])
    if not word:
        return False
    w = word.group(1)
    return w.lower() in _ABBREVIATIONS or (len(w) == 1 and w.isupper())


def _trimmed(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end)


def word_count(text: str) -> int:
    return len(text.split())


def clean_question(text: str) -> str:
    """A question as we search it: control characters removed, white space collapsed."""
    text = _CONTROL_RE.sub(" ", unicodedata.normalize("NFC", text))
    return " ".join(text.split())


def slugify(text: str, fallback: str) -> str:
    """A lowercase ASCII id made of ``text``'s letters and digits, or ``fallback`` when none."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or fallback
