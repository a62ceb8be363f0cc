"""The value types every stage shares: what is read, searched, asked and answered.

Frozen and plain, so a stage can hand them on without copying and a test can build them by hand.
Nothing here imports another module of ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping, NamedTuple, Protocol

__all__ = [
    "Abstention",
    "Answer",
    "AnswerSentence",
    "AnswerSpan",
    "Corpus",
    "Document",
    "Exchange",
    "Hit",
    "Passage",
    "PassageResult",
    "Query",
    "QueryTerm",
    "SentenceSource",
    "Question",
    "Span",
    "Turn",
]


class Span(NamedTuple):
    """A half-open character range ``[start, end)`` in some text."""

    start: int
    end: int


# ---------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Passage:
    """A span of a document's cleaned text, the unit we rank."""

    id: str
    document: str
    index: int
    start: int
    end: int
    text: str
    page: int | None = None  # the page of a paged source (PDF) where the passage starts, 1-based
    last_page: int | None = None  # the page where it ends (a range when it differs from ``page``)


@dataclass(frozen=True)
class Document:
    """A source's cleaned text (its title opens it), where it came from and what kind it was."""

    id: str
    title: str
    source: str
    sha256: str
    text: str
    kind: str = "text"  # sources.KINDS: text, markdown, html, pdf, docx
    pages: int | None = None  # a PDF's page count


@dataclass(frozen=True)
class Question:
    """A question of a question set, with what counts as answering it."""

    id: str
    question: str
    answers: tuple[str, ...]
    type: str = "fact"
    history: tuple[str, ...] = ()
    gold_passages: tuple[str, ...] = ()  # when known exactly (SQuAD); else relevance comes from answers
    evidences: tuple[str, ...] = ()
    pool: str = ""  # the document whose passages are ranked (SQuAD per-article pool), "" = all

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True)
class Corpus:
    """Documents, their passages in order, and the corpus's own question set (may be empty)."""

    documents: tuple[Document, ...]
    passages: tuple[Passage, ...]
    questions: tuple[Question, ...] = ()

    @cached_property
    def _documents_by_id(self) -> dict[str, Document]:
        return {d.id: d for d in self.documents}

    def document(self, doc_id: str) -> Document | None:
        return self._documents_by_id.get(doc_id)

    def title(self, doc_id: str) -> str:
        """The document's title, or its id when it has none we know."""
        doc = self.document(doc_id)
        return doc.title if doc is not None else doc_id


# ---------------------------------------------------------------- the question


class QueryTerm(NamedTuple):
    """One word of a turn's text, analysed once: what it is indexed as and what it weighs."""

    term: str  # the tokeniser's term
    start: int  # span of the word in the turn's text
    end: int
    searched: tuple[str, ...]  # indexed terms it stands for: itself, near-spellings, or () when unknown
    prior: float  # weight in the query: 1 for a telling word, less for an everyday one
    information: float  # how much the word tells in English at large (coverage counts it)
    asked_for: bool = False  # names the kind of answer ("what *year*"), so it need not be in the text
    by_meaning: bool = False  # the documents lack it: ``searched`` are their words nearest in meaning

    @property
    def known(self) -> bool:
        return bool(self.searched)


@dataclass(frozen=True)
class Turn:
    """A text of the conversation and the weight its terms carry in the query.

    ``role`` is ``question`` (what is asked now), ``earlier`` (an earlier question it leans
    on) or ``answer`` (the previous answer sentence, which helps rank but never selects passages).
    """

    text: str
    weight: float
    role: str
    words: tuple[QueryTerm, ...]

    @cached_property
    def terms(self) -> tuple[str, ...]:
        """The terms searched, one per word or near-spelling (unknown words keep their own term)."""
        return tuple(t for w in self.words for t in (w.searched or (w.term,)))

    @cached_property
    def priors(self) -> tuple[float, ...]:
        return tuple(w.prior for w in self.words for _ in (w.searched or (w.term,)))


@dataclass(frozen=True)
class Exchange:
    """An earlier turn of a conversation: the question, and the answer given when known.

    ``passage_id``/``start`` locate the answer sentence when the client sends them back, so
    the same sentence is recognised even if its text occurs twice.
    """

    question: str
    answer: str | None = None
    passage_id: str | None = None
    start: int | None = None
    answered: bool = False  # whether ``answer`` is known (None then means "abstained")


@dataclass(frozen=True)
class Query:
    """A question analysed once, with the turns of the conversation it leans on.

    Every stage reads this; none re-tokenises the question.
    """

    text: str
    turns: tuple[Turn, ...]
    weights: Mapping[str, float]  # per searched term: the largest turn weight x prior it has
    kind: str | None  # the kind of answer asked for: "date", "number", "name" or None
    coverage: float  # share of the question's information the documents hold (1.0 = all)
    missing: tuple[str, ...]  # the question's words (as written) no document contains
    names: tuple[str, ...]  # those of them that are names: capitalised inside a sentence
    previous: Exchange | None = None  # the answer just given, which a follow-up should not repeat
    mass: Mapping[str, float] = field(default_factory=dict)  # per weighted term: weight x rarity in the index
    vector: Any = None  # the question's unit vector (numpy float32) when a sentence encoder is on
    answer_type: str = "other"  # spans.ANSWER_TYPES: person, date, reason, definition, ...
    own_vector: Any = None  # a follow-up's own unit vector, without the turns it leans on (None otherwise)
    leant: bool = False  # read as leaning on the conversation only because it could not be answered alone
    # the answers the conversation already gave, when a follow-up asks for more ("what else did she
    # say?", query.asks_for_more): none of them is its answer again unless it holds the question's own words
    given: tuple[Exchange, ...] = ()

    @cached_property
    def choice_vector(self) -> Any:
        """What a candidate answer sentence's meaning is compared with: the question's vector; for
        a follow-up, its own and the conversation's (``vector``) equally, so that the sentence
        holding what the new question adds can win over the one the conversation was about."""
        if self.own_vector is None or self.vector is None:
            return self.vector
        mixed = self.own_vector + self.vector
        norm = float((mixed @ mixed) ** 0.5)
        return mixed / norm if norm > 0 else self.vector

    def mass_in(self, terms: frozenset[str]) -> float:
        """The query's rarity mass that ``terms`` hold, summed in the query's own term order."""
        common = terms & self.mass.keys()
        if not common:
            return 0.0
        if len(common) == 1:
            return 0.0 + self.mass[next(iter(common))]
        order = self._order
        return sum(self.mass[t] for t in sorted(common, key=order.__getitem__))

    @cached_property
    def _order(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.mass)}

    @property
    def question(self) -> Turn:
        return self.turns[0]

    @property
    def follow_up(self) -> bool:
        return len(self.turns) > 1

    @property
    def context(self) -> tuple[str, ...]:
        """The earlier questions this one leans on, most recent first."""
        return tuple(t.text for t in self.turns[1:] if t.role == "earlier")

    @cached_property
    def asked(self) -> frozenset[str]:
        """Terms of the conversation's questions: a passage must hold one to be returned."""
        return frozenset(t for turn in self.turns if turn.role != "answer" for t in turn.terms)

    @cached_property
    def own(self) -> frozenset[str]:
        """Terms of the question itself."""
        return frozenset(self.question.terms)


# ---------------------------------------------------------------- the answer


class SentenceSource(Protocol):
    """Where stages find a passage's sentences: each one's span in the passage and its terms."""

    def sentences(self, position: int) -> tuple[tuple[Span, frozenset[str]], ...]: ...



@dataclass(frozen=True)
class Hit:
    """A passage that matched, its ranking score, each stage's score by name, and the query
    terms it contains. ``scores["bm25"]`` is rank-bm25's own score for the question's terms."""

    passage: Passage
    position: int  # in the index, for stages that keep per-passage data
    score: float  # what the passages are ordered by
    rank: int
    matched: frozenset[str]
    scores: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AnswerSpan:
    """The exact answer inside the answer sentence: its text, type, and offsets in the passage."""

    text: str
    start: int
    end: int
    type: str


@dataclass(frozen=True)
class AnswerSentence:
    """The sentence that answers the question, where it is in its passage, and the exact span
    inside it when one of the asked-for type was found."""

    text: str
    passage_id: str
    score: float
    start: int
    end: int
    span: AnswerSpan | None = None
    # what the reader saw when it chose (the decider's inputs), by name; empty for the words-only reader
    signals: Mapping[str, float] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Abstention:
    """Why there is no answer, as data: ``reason`` is one of :data:`REASONS`; ``missing``
    holds the words behind it (the names never mentioned, or the missing words)."""

    reason: str
    missing: tuple[str, ...] = ()
    coverage: float | None = None

    REASONS = ("no_terms", "missing_names", "low_coverage", "no_match", "low_confidence", "nothing_more")

    def __post_init__(self) -> None:
        if self.reason not in self.REASONS:
            raise ValueError(f"unknown abstention reason {self.reason!r}")


@dataclass(frozen=True)
class PassageResult:
    hit: Hit
    document_title: str
    highlights: tuple[Span, ...]


@dataclass(frozen=True)
class Answer:
    question: str
    answer: AnswerSentence | None
    abstention: Abstention | None
    passages: tuple[PassageResult, ...]
    took_ms: float
    follow_up: bool = False
    context: tuple[str, ...] = ()  # earlier questions that shaped this answer
    missing: tuple[str, ...] = ()  # question words the documents do not contain
    answer_type: str = "other"  # the kind of answer the question asks for
    # the decider's probability that the best sentence answers the question (None without the learned decider)
    confidence: float | None = None
    intent: str | None = None  # smalltalk.INTENTS when the question is small talk or about a whole document
    reply: str | None = None  # what small talk is answered with (it has no answer sentence)
