"""The pipeline: a question analysed once, then retrieve -> re-rank -> read -> decide.

Each stage is a small object behind a protocol, built from plain arguments; :func:`build_pipeline`
is the one place settings become stages. The web app, the CLI and the evaluation all call
:meth:`Pipeline.answer` (or :meth:`Pipeline.ask`, which also cleans its input).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Callable, Protocol, Sequence, TypeVar

from .config import Settings
from .decide import CoverageAbstainer, LearnedAbstainer
from .encode import MiniLMEncoder
from .errors import BadRequest, EmptyCorpusError, NotFound, SettingsError
from .extract import SpanModel
from .index import Index, IndexData, load_or_build_data
from .ingest import load_corpus
from .query import QueryAnalyser
from .learned import LogisticModel, SpanChooser, TreeModel, load_models, load_span_chooser
from .read import LearnedReader, SentenceReader
from .rerank import SentenceReranker
from .neighbours import WordNeighbours, load_or_build_neighbours
from .semantic import SemanticReranker, SentenceVectors, load_or_build
from .smalltalk import Intent, greeting_text, intent, lead, starting_points
from .text import Tokenizer, clean_question
from .values import (Abstention, Answer, AnswerSentence, Corpus, Exchange, Hit, PassageResult, Query,
                     QueryTerm)

__all__ = ["ANSWER_MODEL", "SPAN_MODEL", "Abstainer", "Pipeline", "answer_models", "span_chooser", "Reader", "Reranker", "build_encoder", "build_pipeline", "build_tokenizer"]

_log = logging.getLogger(__name__)


class Reranker(Protocol):
    depth: int  # how many hits it wants from the retriever

    def rerank(self, query: Query, hits: list[Hit]) -> list[Hit]: ...


class Reader(Protocol):
    def read(self, query: Query, hits: list[Hit]) -> AnswerSentence | None: ...


class Abstainer(Protocol):
    def assess(self, query: Query, hits: list[Hit], sentence: AnswerSentence | None) -> float | None:
        """The probability that ``sentence`` answers the question, when the abstainer has one."""
        ...

    def decide(self, query: Query, hits: list[Hit], sentence: AnswerSentence | None,
               confidence: float | None = None) -> Abstention | None: ...


class Pipeline:
    """A corpus, its index, and the stages that answer questions over it."""

    def __init__(self, corpus: Corpus, index: Index, analyser: QueryAnalyser, rerankers: Sequence[Reranker],
                 reader: Reader, abstainer: Abstainer, *, top_k: int, vectors: SentenceVectors | None = None,
                 semantic_candidates: int = 0, answer_first: bool = False, settings: Settings | None = None) -> None:
        self.corpus = corpus
        self.settings = settings  # what built it (build_pipeline): a document added builds the next one alike
        self.index = index  # the retriever: search(query, k), and the passages' sentences and tokens
        self.analyser = analyser
        self.rerankers = tuple(rerankers)  # applied in turn
        self.reader = reader
        self.abstainer = abstainer
        self.top_k = top_k
        self.depth = max((r.depth for r in self.rerankers), default=1)
        self.vectors = vectors  # with semantic_candidates > 0: passages found by meaning join those found by words
        self.semantic_candidates = semantic_candidates
        self.answer_first = answer_first  # the passage the answer is quoted from is listed first
        self._starting_points: dict[int, list[str]] = {}

    @property
    def semantic(self) -> bool:
        """Whether sentence meaning takes part (an encoder is loaded)."""
        return self.analyser.encoder is not None

    @property
    def extractive(self) -> bool:
        """Whether the extractive reader takes part (its model is loaded)."""
        return getattr(self.reader, "span_model", None) is not None

    def warm_up(self) -> None:
        """Load what the stages need now, not during the first question."""
        for stage in (self.analyser, self.index, *self.rerankers, self.reader, self.abstainer):
            warm_up = getattr(stage, "warm_up", None)
            if callable(warm_up):
                warm_up()

    def ask(self, question: str, history: Sequence[str | Exchange] = (), top_k: int | None = None) -> Answer:
        """Answer a question as typed: it and the earlier questions are cleaned first (an
        earlier question that cleans to nothing is left out)."""
        cleaned = clean_question(question)
        if not cleaned:
            raise BadRequest("the question is empty", code="invalid_field")
        exchanges = []
        for item in history:
            exchange = item if isinstance(item, Exchange) else Exchange(item)
            text = clean_question(exchange.question)
            if text:
                exchanges.append(dataclasses.replace(exchange, question=text))
        return self.answer(cleaned, exchanges, top_k)

    def answer(self, question: str, history: Sequence[Exchange] = (), top_k: int | None = None) -> Answer:
        """Answer a cleaned question after the conversation's earlier exchanges (oldest first).

        An exchange without its answer (a client that sent only questions) gets it computed
        once here, without highlights, and only when the question leans on it.
        """
        started = time.perf_counter()
        k = top_k or self.top_k
        asked_for = intent(question)
        if asked_for is not None:
            return self._about(question, asked_for, k, started)
        query, hits, sentence, confidence, abstention = self._respond(
            question, list(self.analyser.window(history)), k, {}, {})
        if sentence is not None and abstention is None and (
                self.answer_first or all(h.passage.id != sentence.passage_id for h in hits[:k])):
            hits = quoted_first(hits, sentence.passage_id)  # the answer's passage is always listed
        passages = tuple(
            PassageResult(h, self.corpus.title(h.passage.document), tuple(self.index.highlights(h.position, query.asked)))
            for h in hits[:k]
        )
        return Answer(
            question=question,
            answer=sentence if abstention is None else None,
            abstention=abstention,
            passages=passages,
            took_ms=(time.perf_counter() - started) * 1000,
            follow_up=query.follow_up,
            context=query.context,
            missing=query.missing,
            answer_type=query.answer_type,
            confidence=None if confidence is None else round(confidence, 4),
        )

    def _about(self, question: str, asked_for: Intent, k: int, started: float) -> Answer:
        """Small talk gets no answer sentence (the message says what the service can do); an
        overview question gets its document's opening sentences, cited like any answer."""
        sentence, passages = None, ()
        if asked_for.kind == "overview":
            document = self.corpus.documents[0].id
            if asked_for.rest:  # "summarise the report on whaling": the document its words find
                query = self._analyse(asked_for.rest, [], k, {}, {})
                hits = self._rank(query, 1)
                if hits:
                    document = hits[0].passage.document
            position = next((i for i, p in enumerate(self.index.passages) if p.document == document), None)
            first = self.index.passages[position] if position is not None else None
            span = lead(first, self.corpus.title(document)) if first is not None else None
            if first is not None and position is not None and span is not None:
                sentence = AnswerSentence(first.text[span.start:span.end], first.id, 0.0, span.start, span.end)
                passages = (PassageResult(Hit(first, position, 0.0, 1, frozenset()), self.corpus.title(document), ()),)
        reply = None if asked_for.kind == "overview" else greeting_text(
            asked_for.kind, [d.title for d in self.corpus.documents])
        return Answer(question=question, answer=sentence, abstention=None, passages=passages,
                      took_ms=(time.perf_counter() - started) * 1000, intent=asked_for.kind, reply=reply)

    def explain(self, question: str, history: Sequence[Exchange], passage_id: str) -> tuple[Query, list[dict]]:
        """Why ``passage_id`` matched the question: the query and each searched term's part
        (the query the answer came from: read in the conversation when that answered it)."""
        window = list(self.analyser.window(history))
        # only a question in a conversation can have been read a second time: else analysing it is enough
        query = self._respond(question, window, self.top_k, {}, {})[0] if window else self._analyse(
            question, window, self.top_k, {}, {})
        try:
            return query, self.index.explain(query, passage_id)
        except KeyError:
            raise NotFound(f"no passage with id {passage_id!r}") from None

    def starting_points(self, limit: int = 4) -> list[str]:
        """Example questions for this corpus, from its titles and salient names (worked out once:
        the page asks on every load)."""
        if limit not in self._starting_points:
            self._starting_points[limit] = starting_points(self.corpus, limit)
        return list(self._starting_points[limit])

    def analyse(self, question: str, history: Sequence[Exchange] = (), top_k: int | None = None) -> Query:
        """The query the pipeline would answer (for explanations and tests)."""
        return self._analyse(question, list(self.analyser.window(history)), top_k or self.top_k, {}, {})

    def retrieve(self, query: Query, k: int | None = None) -> list[Hit]:
        """The ranked hits for an analysed query: retrieve, then every re-ranker (for training
        and explanations; :meth:`answer` does the same)."""
        return self._rank(query, k or self.top_k)

    def _rank(self, query: Query, k: int) -> list[Hit]:
        hits = self.index.search(query, max(k, self.depth))
        by_meaning = False
        if self.vectors is not None and self.semantic_candidates > 0 and query.vector is not None:
            found = {h.position for h in hits}
            extra = [p for p in self.vectors.nearest(query.vector, self.semantic_candidates) if p not in found]
            hits += self.index.hits_at(query, extra, len(hits) + 1)
            by_meaning = bool(extra)
        for reranker in self.rerankers:
            hits = reranker.rerank(query, hits)
        if by_meaning:  # found by meaning alone and still below every match by words: padding, not evidence
            last = max((i for i, h in enumerate(hits) if h.matched), default=-1)
            hits = [h for i, h in enumerate(hits) if h.matched or i < last]
        return hits

    def _analyse(self, question: str, window: list[Exchange], k: int, memo: dict[str, tuple[QueryTerm, ...]],
                 answers: dict[int, Exchange], lean: bool = False) -> Query:
        def previous() -> Exchange | None:
            return self._answer_of(window, len(window) - 1, k, memo, answers) if window else None

        def earlier() -> list[Exchange]:
            return [self._answer_of(window, i, k, memo, answers) for i in range(len(window))]

        return self.analyser.analyse(question, window, previous, memo, lean=lean, earlier_answers=earlier)

    def _respond(self, question: str, window: list[Exchange], k: int, memo: dict[str, tuple[QueryTerm, ...]],
                 answers: dict[int, Exchange]
                 ) -> tuple[Query, list[Hit], AnswerSentence | None, float | None, Abstention | None]:
        """Analyse, rank, read and decide. A question in a conversation that does not read as a
        follow-up, whose words the documents hold, but whose answer the decider is not sure of
        on its own ("What did Armenia ask the CSTO for back then?") is read once more as leaning
        on the last turn, and answered so when the same decider, at the same threshold, takes
        that answer. A question refused for what the documents lack (names, too much of its
        information) is not read again: the conversation's words would only hide the gap."""
        query = self._analyse(question, window, k, memo, answers)
        found = self._decided(query, k)
        if found[3] is None or found[3].reason != "low_confidence" or not window or query.follow_up:
            return (query, *found)  # a question whose own words the documents lack stays refused
        leaning = self._analyse(question, window, k, memo, answers, lean=True)
        if not leaning.leant:  # the earlier turns were all empty
            return (query, *found)
        second = self._decided(leaning, k)
        if second[1] is not None and second[2] is not None and second[3] is None:
            return (leaning, *second)
        return (query, *found)

    def _decided(self, query: Query, k: int
                 ) -> tuple[list[Hit], AnswerSentence | None, float | None, Abstention | None]:
        hits = self._rank(query, k)
        sentence = self.reader.read(query, hits)
        confidence = self.abstainer.assess(query, hits, sentence)
        return hits, sentence, confidence, self.abstainer.decide(query, hits, sentence, confidence)

    def _answer_of(self, window: list[Exchange], i: int, k: int, memo: dict[str, tuple[QueryTerm, ...]],
                   answers: dict[int, Exchange]) -> Exchange:
        """The exchange at ``window[i]`` with its answer: as sent, or computed from the ones before it."""
        exchange = window[i]
        if exchange.answered:
            return exchange
        if i not in answers:
            _, _, sentence, _, abstention = self._respond(exchange.question, window[:i], k, memo, answers)
            if sentence is None or abstention is not None:
                answers[i] = Exchange(exchange.question, None, answered=True)
            else:
                answers[i] = Exchange(exchange.question, sentence.text, sentence.passage_id, sentence.start, True)
        return answers[i]


def build_tokenizer(settings: Settings) -> Tokenizer:
    """The tokeniser the settings describe."""
    try:
        return Tokenizer(lemmatize=settings.lemmatize, stem=settings.stem, stopwords=settings.stopwords,
                         split_hyphens=settings.split_hyphens, fold_accents=settings.fold_accents,
                         language=settings.language)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


# One loaded model per process (per thread count and file), shared by pipelines; None: it failed to load.
_ENCODERS: dict[tuple[int, str], MiniLMEncoder | None] = {}
_SPAN_MODELS_LOADED: dict[tuple[int, str], SpanModel | None] = {}
_M = TypeVar("_M", MiniLMEncoder, SpanModel)


def _loaded(cache: dict[tuple[int, str], _M | None], key: tuple[int, str], make: Callable[[], _M],
            what: str) -> _M | None:
    """The model ``make()`` gives, warmed up once per process and ``key``; None, with one warning,
    when it cannot be loaded (any failure: the service then answers without it)."""
    if key not in cache:
        model: _M | None = None
        try:
            model = make()  # may read a model card: a missing or broken one is a failure to load too
            model.warm_up()
        except Exception as exc:  # noqa: BLE001 - any failure to load means: answer without it
            message = exc.message if isinstance(exc, SettingsError) else f"{type(exc).__name__}: {exc}"
            _log.warning("qa-service: %s is off: %s", what, " ".join(message.split()))
            model = None
        cache[key] = model
    return cache[key]


def build_encoder(settings: Settings) -> MiniLMEncoder | None:
    """The sentence encoder, loaded and checked; None, with one warning per process, when it
    cannot be (the words-only path then answers alone)."""
    if not settings.semantic:
        return None
    threads, model = settings.encoder_threads, settings.encoder
    return _loaded(_ENCODERS, (threads, model), lambda: MiniLMEncoder(model=model, threads=threads), "sentence meaning")


def build_span_model(settings: Settings) -> SpanModel | None:
    """The extractive reader, loaded and checked; None when it is off or, with one warning per
    process, cannot be loaded (the sentence chooser and the span rules then answer alone)."""
    if not settings.extractive:
        return None
    threads = settings.encoder_threads
    return _loaded(_SPAN_MODELS_LOADED, (threads, "reader"), lambda: SpanModel(threads=threads),
                   "the extractive reader")


ANSWER_MODEL = Path(__file__).resolve().parent / "models" / "answer-model.json"
_MODELS: dict[Path, tuple[TreeModel, LogisticModel, float]] = {}
SPAN_MODEL = Path(__file__).resolve().parent / "models" / "span-model.json"
_SPAN_MODELS: dict[Path, SpanChooser] = {}


def span_chooser(path: Path = SPAN_MODEL) -> SpanChooser:
    """The trained span chooser, read once per process."""
    if path not in _SPAN_MODELS:
        _SPAN_MODELS[path] = load_span_chooser(path)[0]
    return _SPAN_MODELS[path]


def answer_models(path: Path = ANSWER_MODEL) -> tuple[TreeModel, LogisticModel, float]:
    """The trained chooser, decider and refusal threshold, read once per process."""
    if path not in _MODELS:
        chooser, decider, threshold, _ = load_models(path)
        _MODELS[path] = (chooser, decider, threshold)
    return _MODELS[path]


def quoted_first(hits: list[Hit], passage_id: str) -> list[Hit]:
    """``hits`` with the one of passage ``passage_id`` (the answer's) moved to the top, ranks
    renumbered from 1; as they were when it is already first or not among them."""
    at = next((i for i, h in enumerate(hits) if h.passage.id == passage_id), None)
    if not at:
        return hits
    moved = [hits[at], *hits[:at], *hits[at + 1 :]]
    while moved and not moved[-1].matched:  # found by meaning alone, now below every match by words: padding
        moved.pop()
    return [h if h.rank == i else dataclasses.replace(h, rank=i) for i, h in enumerate(moved, start=1)]


def build_pipeline(settings: Settings, corpus: Corpus | None = None, *, data: IndexData | None = None,
                   vectors: SentenceVectors | None = None, words: WordNeighbours | None = None,
                   encoder: MiniLMEncoder | None = None) -> Pipeline:
    """The one place settings become stages: the corpus (from ``settings.corpus_dir`` unless
    given), its index, the sentence vectors (read from the corpus folder, else computed and
    saved there), and every stage with its plain arguments. ``data`` and ``vectors``, when
    given, were made for ``corpus``'s passages already (a document added to a running server);
    ``words``, the word vectors of the corpus before that change, are reused where they still apply.
    ``encoder`` replaces the one the settings name (training reads each article with an encoder
    that was not trained on it)."""
    folder = None
    if corpus is None:
        folder = Path(settings.corpus_dir)
        corpus = load_corpus(folder)
    tokenizer = build_tokenizer(settings)
    # A title that opens its document's text is in its passages already; only the others add terms.
    titles = [t for d in corpus.documents if not d.text.startswith(d.title) for t in tokenizer.terms(d.title)]
    try:
        # From the corpus folder, the index `qa-service index` saved there (memory-mapped), when it is current.
        if data is None:
            data = load_or_build_data(corpus.passages, tokenizer, folder)
        index = Index(corpus.passages, tokenizer, scorer=settings.scorer, k1=settings.k1, b=settings.b,
                      delta=settings.delta, extra_terms=titles, data=data)
    except EmptyCorpusError:
        raise
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    if encoder is None or not settings.semantic:
        encoder = build_encoder(settings)
    if encoder is not None and len(corpus.passages) > settings.semantic_max_passages:
        _log.warning("qa-service: sentence meaning is off for %d passages (over semantic_max_passages, %d): "
                     "answering with words only", len(corpus.passages), settings.semantic_max_passages)
        encoder = None
    if encoder is None:
        vectors = None
    elif vectors is None or vectors.fingerprint != encoder.fingerprint or len(vectors.offsets) != len(corpus.passages) + 1:
        vectors = load_or_build(corpus.passages, encoder, folder)
    neighbours = None
    if encoder is not None and settings.neighbours > 0:
        neighbours = load_or_build_neighbours(index.data.terms, corpus.passages, tokenizer, encoder, folder,
                                              min_similarity=settings.neighbour_similarity, limit=settings.neighbours,
                                              previous=words)
    analyser = QueryAnalyser(tokenizer, index, word_prior=settings.word_prior, history_weight=settings.history_weight,
                             max_turns=settings.max_turns, answer_weight=settings.answer_weight, encoder=encoder,
                             neighbours=neighbours, neighbour_credit=settings.neighbour_credit)
    rerankers: list[Reranker] = [SentenceReranker(index, weight=settings.sentence_weight, depth=settings.rerank_depth)]
    if vectors is not None:
        rerankers.append(SemanticReranker(vectors, weight=settings.semantic_weight, depth=settings.rerank_depth))
    learned = vectors is not None and settings.learned  # the models were trained with meaning among their features
    spans = span_chooser() if learned else None
    reader: SentenceReader | LearnedReader = SentenceReader(index, passages=settings.reader_passages, repeat_weight=settings.repeat_weight,
                                    vectors=vectors, semantic_weight=settings.semantic_sentence_weight, spans=spans)
    abstainer: CoverageAbstainer = CoverageAbstainer(min_coverage=settings.min_coverage)
    if learned:
        chooser, decider, threshold = answer_models()
        reader = LearnedReader(index, passages=settings.reader_passages, chooser=chooser, follow_ups=reader,
                               vectors=vectors, spans=spans, span_model=build_span_model(settings),
                               span_weight=settings.extractive_weight,
                               span_candidates=settings.extractive_candidates,
                               span_lead=settings.extractive_lead,
                               span_context=settings.extractive_context,
                               span_neighbours=settings.extractive_neighbours)
        abstainer = LearnedAbstainer(min_coverage=settings.min_coverage, decider=decider, threshold=threshold,
                                     coverage_by_meaning=settings.coverage_by_meaning)
    return Pipeline(
        corpus, index, analyser, rerankers, reader, abstainer,
        top_k=settings.top_k, vectors=vectors, semantic_candidates=settings.semantic_candidates,
        # the answer chosen by words alone is no better guide to the passage order than the order itself
        # (SQuAD 2.0 subset, words only: hit@1 .786 -> .775 with it; with the learned choice .863 -> .870)
        answer_first=settings.answer_first and learned, settings=settings,
    )
