"""Answering: rank passages, pick the answer sentence, decide to abstain, use the chat history.

:class:`Engine` is what the web app, the CLI and the evaluation all call.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import wordfreq

from .config import Settings
from .index import Hit, Index
from .ingest import Corpus, load_corpus
from .text import Span, Tokenizer, clean_question, sentence_spans

__all__ = ["Answer", "Engine", "PassageResult", "ShortAnswer", "Turn"]

# Pronouns that point back to an earlier turn when the question names nobody itself.
_PRONOUNS = frozenset("he she they him her them his hers their theirs it its this that these those there then".split())
# Pronouns for a person: with no name before them in the question, they point at an earlier turn.
_PERSONAL_RE = re.compile(r"\b(he|she|him|her|his|hers|himself|herself)\b", re.IGNORECASE)
_CONNECTIVES = ("and ", "but ", "so ", "also ", "what about ", "how about ", "what else", "anything else")
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_YEAR_OR_DATE_RE = re.compile(
    r"\b(1[5-9]\d\d|20\d\d|January|February|March|April|May|June|July|August|September|October|"
    r"November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|today|"
    r"tomorrow|century|decade)\b")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*|\b(one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|"
                        r"billion|dozen)\b", re.IGNORECASE)
_SENTENCE_START_RE = re.compile(r"(^|[.!?:;]\s*|[\"“(]\s*)$")  # what comes before a sentence's first word
_NAME_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")
# The word naming the kind of answer wanted: "what year", "which city", "how many people".
_ASKED_FOR_RE = re.compile(r"\b(?:what|which|whose|how many|how much)\s+([^\W\d_]+)", re.IGNORECASE)
_MAX_CHAIN = 3  # a follow-up reaches back at most this many turns
# A follow-up usually asks for something new, so the previous answer sentence counts this much.
_REPEAT_WEIGHT = 0.5
_RERANK_DEPTH = 20  # how many BM25 hits the sentence-level re-ranking looks at
# The previous answer counts half as much as the previous question: it is longer, and only
# part of it is what a pronoun points at.
_ANSWER_WEIGHT = 0.5


@dataclass(frozen=True)
class ShortAnswer:
    """The sentence that best answers the question, and where it is."""

    text: str
    passage_id: str
    score: float
    start: int  # offsets in the passage text
    end: int


@dataclass(frozen=True)
class PassageResult:
    hit: Hit
    document_title: str
    highlights: tuple[Span, ...]


@dataclass(frozen=True)
class Turn:
    """A question's terms with the weight they carry in the combined query."""

    question: str
    terms: tuple[str, ...]
    weight: float
    from_answer: bool = False  # the previous turn's answer sentence, not a question
    priors: tuple[float, ...] = ()  # per term: how much the word says in English at large (0..1]

    def __post_init__(self) -> None:
        if not self.priors:
            object.__setattr__(self, "priors", (1.0,) * len(self.terms))
        if len(self.priors) != len(self.terms):
            raise ValueError("a turn needs one prior per term")


@dataclass(frozen=True)
class Answer:
    question: str
    answer: ShortAnswer | None
    message: str
    passages: tuple[PassageResult, ...]
    took_ms: float
    follow_up: bool = False
    context: tuple[str, ...] = field(default=())  # earlier questions that shaped this answer
    missing: tuple[str, ...] = field(default=())  # question words the documents do not contain


class Engine:
    """A corpus, its index and the settings that answer questions over it."""

    def __init__(self, corpus: Corpus, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        s = self.settings
        self.corpus = corpus
        self.tokenizer = Tokenizer(lemmatize=s.lemmatize, stem=s.stem, stopwords=s.stopwords,
                                   split_hyphens=s.split_hyphens, fold_accents=s.fold_accents, language=s.language)
        self.index = Index(corpus.passages, self.tokenizer, scorer=s.scorer, k1=s.k1, b=s.b, delta=s.delta)
        self._titles = {d.id: d.title for d in corpus.documents}
        self._title_terms = frozenset(t for d in corpus.documents for t in self.tokenizer.terms(d.title))
        self._sentences = [sentence_spans(p.text) for p in corpus.passages]
        self._sentence_terms = [[frozenset(self.tokenizer.terms(p.text[a:b])) for a, b in spans]
                                for p, spans in zip(corpus.passages, self._sentences)]
        _informativeness("the")  # load the word-frequency list now, not during the first question

    @classmethod
    def from_settings(cls, settings: Settings) -> "Engine":
        return cls(load_corpus(Path(settings.corpus_dir)), settings)

    # ------------------------------------------------------------ the question

    def _known(self, term: str) -> bool:
        return self.index.document_frequency(term) > 0 or term in self._title_terms

    def _resolve(self, term: str) -> tuple[str, ...]:
        """The indexed terms a question term stands for: itself, or near-spellings when unknown."""
        if self._known(term):
            return (term,)
        return tuple(self.index.similar(term))

    def _turn(self, text: str, weight: float, from_answer: bool = False) -> Turn:
        """A turn's terms (near-spellings standing in for unknown words) and each one's prior."""
        terms: list[str] = []
        priors: list[float] = []
        for token in self.tokenizer.tokens(text):
            prior = _prior(text[token.start : token.end], self.settings.word_prior)
            for r in self._resolve(token.term) or (token.term,):
                terms.append(r)
                priors.append(prior)
        return Turn(text, tuple(terms), weight, from_answer, tuple(priors))

    def is_follow_up(self, question: str) -> bool:
        """Whether a question leans on earlier turns: it opens with a connective, names too
        little to stand alone, speaks of "he" or "she" before naming anyone, or uses another
        pronoun while naming nobody and little else."""
        low = question.lower()
        if low.startswith(_CONNECTIVES):
            return True
        personal = _PERSONAL_RE.search(question)
        if personal and not _NAME_RE.search(question[: personal.start()]):
            return True
        known = [t for t in dict.fromkeys(self.tokenizer.terms(question)) if self._resolve(t)]
        if len(known) <= 1:
            return True
        words = [w.lower() for w in _WORD_RE.findall(question)]
        pronoun = any(w in _PRONOUNS for w in words)
        return pronoun and len(known) <= 2 and not _NAME_RE.search(question)

    def turns(self, question: str, history: Sequence[str]) -> list[Turn]:
        """The question, then as many earlier turns as the conversation needs, with decaying weights."""
        turns = [self._turn(question, 1.0)]
        weight = 1.0
        current = question
        for earlier in reversed(history[-_MAX_CHAIN * 4 :]):
            # Once in a conversation, an earlier "he" or "she" reaches back too, named or not
            # ("Which Ukrainian town did he visit?": "Ukrainian" is not who "he" is).
            leans = self.is_follow_up(current) or (current is not question and _PERSONAL_RE.search(current))
            if len(turns) > _MAX_CHAIN or not leans:
                break
            earlier = clean_question(earlier)
            if not earlier:
                continue
            weight *= self.settings.history_weight
            if weight <= 0:
                break
            turns.append(self._turn(earlier, weight))
            current = earlier
        return turns

    # ------------------------------------------------------------ answering

    def ask(self, question: str, history: Sequence[str] = (), top_k: int | None = None) -> Answer:
        started = time.perf_counter()
        question = clean_question(question)
        if not question:
            raise ValueError("the question is empty")
        k = top_k or self.settings.top_k
        turns = self.turns(question, history)
        avoid = None
        if len(turns) > 1:
            # "she", "there", "that" often point at what the last answer said, not only at the
            # last question; and a follow-up asks for something new, not the sentence just given.
            previous = self.ask(history[-1], history=history[-_MAX_CHAIN:-1], top_k=k).answer
            if previous is not None:
                avoid = (previous.passage_id, previous.start)
                turns.append(self._turn(previous.text, turns[1].weight * _ANSWER_WEIGHT, from_answer=True))
        weights: dict[str, float] = {}
        for turn in turns:
            for term, prior in zip(turn.terms, turn.priors):
                weights[term] = max(weights.get(term, 0.0), turn.weight * prior)

        scores = np.zeros(len(self.index))
        for turn in turns:
            if turn.terms:
                scores += turn.weight * self.index.scores(turn.terms, turn.priors)
        # Passages must match a question of the conversation; the previous answer only helps rank.
        asked = {t for turn in turns if not turn.from_answer for t in turn.terms}
        hits = self.index.rank(scores, self.index.candidates(asked), asked, max(k, _RERANK_DEPTH)) if asked else []
        hits = self._rerank(hits, weights)[:k]
        results = tuple(
            PassageResult(h, self._titles.get(h.passage.document, h.passage.document),
                          tuple(self.tokenizer.highlights(h.passage.text, asked)))
            for h in hits
        )
        short, message, missing = self._decide(question, turns, weights, hits, avoid)
        return Answer(
            question=question,
            answer=short,
            message=message,
            passages=results,
            took_ms=(time.perf_counter() - started) * 1000,
            follow_up=len(turns) > 1,
            context=tuple(t.question for t in turns[1:] if not t.from_answer),
            missing=missing,
        )

    def _sentence_coverage(self, position: int, weights: dict[str, float]) -> float:
        """Share of the query's rarity mass found in the passage's best sentence."""
        mass = sum(w * self.index.rarity(t) for t, w in weights.items()) or 1.0
        return max((sum(w * self.index.rarity(t) for t, w in weights.items() if t in terms) / mass
                    for terms in self._sentence_terms[position]), default=0.0)

    def _rerank(self, hits: list[Hit], weights: dict[str, float]) -> list[Hit]:
        """Passages whose question terms meet in one sentence move up: BM25 scores a passage as a
        bag of words, but an answer usually sits in a single sentence."""
        alpha = self.settings.sentence_weight
        if not hits or alpha <= 0:
            return hits
        top = hits[0].score if hits[0].score > 0 else 1.0
        rescored = [h.score + alpha * top * self._sentence_coverage(self.index.position(h.passage.id), weights)
                    for h in hits]
        order = sorted(range(len(hits)), key=lambda i: (-rescored[i], i))
        return [Hit(hits[i].passage, rescored[i], rank, hits[i].matched, bm25=hits[i].bm25)
                for rank, i in enumerate(order, start=1)]

    def _decide(
        self, question: str, turns: list[Turn], weights: dict[str, float], hits: list[Hit],
        avoid: tuple[str, int] | None = None,
    ) -> tuple[ShortAnswer | None, str, tuple[str, ...]]:
        """The short answer, or None with the reason we abstain."""
        if not weights:
            return None, "Your question has no words to search for. Ask about something in the document.", ()
        missing, names = self._missing_words(turns[0].question)
        coverage = self.coverage(turns)
        if names or coverage < self.settings.min_coverage or not hits:
            shown = ", ".join(f"“{w}”" for w in (names or missing)[:5])
            reason = f" It does not mention {shown}." if shown else ""
            return None, f"The document does not seem to answer this.{reason}", tuple(missing)
        short = self._best_sentence(question, frozenset(turns[0].terms), weights, hits, avoid)
        title = self._titles.get(hits[0].passage.document, "")
        return short, f"Best answer from “{title}”, passage {short.passage_id}.", tuple(missing)

    def _missing_words(self, question: str) -> tuple[list[str], list[str]]:
        """The question's words (as written) whose terms no document contains, and those of
        them that are names: capitalised where a sentence does not start."""
        words: list[str] = []
        names: list[str] = []
        for token in self.tokenizer.tokens(question):
            word = question[token.start : token.end]
            if self._resolve(token.term) or word in words or "-" in token.term:
                continue
            words.append(word)
            if word[0].isupper() and not _SENTENCE_START_RE.search(question[: token.start]):
                names.append(word)
        return words, names

    def coverage(self, turns: Sequence[Turn]) -> float:
        """Share of the question's information that the documents contain (1.0 = all of it).

        Each word counts by how rare it is in English at large (wordfreq): in a short document
        most everyday words are missing by chance, so a missing "article" or "year" says little,
        while a missing "injured" or "tallest" says the document is about something else.
        Earlier turns of a follow-up count with their weight.
        """
        total = found = 0.0
        for turn in turns:
            asked_for = {m.start(1) for m in _ASKED_FOR_RE.finditer(turn.question)}
            for token in self.tokenizer.tokens(turn.question):
                if "-" in token.term and self.tokenizer.split_hyphens:
                    continue  # a hyphenated word counts through its parts
                known = bool(self._resolve(token.term))
                if not known and token.start in asked_for:
                    continue  # "what year", "which city": the document gives the year, not the word
                w = turn.weight * _informativeness(turn.question[token.start : token.end])
                total += w
                if known:
                    found += w
        return found / total if total else 0.0

    def _best_sentence(self, question: str, own: frozenset[str], weights: dict[str, float], hits: list[Hit],
                       avoid: tuple[str, int] | None = None) -> ShortAnswer:
        """Sentence-level scoring over the top passages: rarity of the terms a sentence matches,
        a share of its passage's score, and a bonus when it holds the kind of thing asked for.
        The ``avoid`` sentence (the previous turn's answer) counts ``_REPEAT_WEIGHT`` unless it
        holds one of ``own``, the question's own terms: "what did she write?" wants something
        new, "how did she describe the visit?" may be answered by the sentence that named her."""
        wants = _answer_kind(question)
        top_score = hits[0].score or 1.0
        best: tuple[float, int, int, ShortAnswer] | None = None
        for hit in hits[:3]:
            position = self.index.position(hit.passage.id)
            text = hit.passage.text
            for n, (start, end) in enumerate(self._sentences[position]):
                sentence = text[start:end]
                terms = self._sentence_terms[position][n]
                # The last answer again only if it holds a word of this question itself.
                repeat = avoid == (hit.passage.id, start) and not (own & terms)
                score = sum(w * self.index.rarity(t) for t, w in weights.items() if t in terms)
                if score <= 0:
                    continue
                score += 0.5 * hit.score / top_score
                if wants is not None and _gives_new(wants, sentence, question):
                    score *= 1.25
                if repeat:
                    score *= _REPEAT_WEIGHT
                key = (score, -hit.rank, -n)
                if best is None or key > best[:3]:
                    best = (score, -hit.rank, -n, ShortAnswer(sentence, hit.passage.id, round(score, 4), start, end))
        if best is None:  # the hits matched only through hyphenated wholes; fall back to the top passage
            p = hits[0].passage
            start, end = self._sentences[self.index.position(p.id)][0]
            return ShortAnswer(p.text[start:end], p.id, 0.0, start, end)
        return best[3]

    def examples(self, limit: int = 4) -> list[str]:
        """Example questions for the chat page, from the corpus's question set if it has one."""
        return _example_questions(Path(self.settings.corpus_dir) / "questions.jsonl", limit)


@lru_cache(maxsize=100_000)
def _informativeness(word: str) -> float:
    """How much a word tells, from its frequency in English: about 1 for "the", 6 for "Zakharova"."""
    zipf = wordfreq.zipf_frequency(word.casefold().replace("’", "'"), "en")
    return max(0.5, 8.0 - zipf)


def _prior(word: str, scale: float) -> float:
    """A query word's weight: 1 for a telling word, less for an everyday one ("go" about 0.35
    at scale 4). In a short document BM25's IDF cannot tell "went" from "Lukashenko" when both
    occur once; how common the word is in English at large can."""
    if scale <= 0:
        return 1.0
    return min(1.0, _informativeness(word) / scale)


def _gives_new(kind: re.Pattern[str], sentence: str, question: str) -> bool:
    """Whether ``sentence`` holds something of the ``kind`` asked for that the question does not
    already say ("June 12" does not answer "how many were hurt on June 12?")."""
    said = {m.group().casefold().replace(",", "") for m in kind.finditer(question)}
    return any(m.group().casefold().replace(",", "") not in said for m in kind.finditer(sentence))


def _answer_kind(question: str) -> re.Pattern[str] | None:
    """What a sentence must contain to be the kind of answer asked for, from the question word."""
    low = question.lower()
    if re.search(r"\b(when|what year|which year|what date|what day|how long ago)\b", low):
        return _YEAR_OR_DATE_RE
    if re.search(r"\bhow (much|many|old|long|far)\b", low):
        return _NUMBER_RE
    if re.search(r"\b(who|whom|whose)\b", low):
        return _NAME_RE
    return None


def _example_questions(path: Path, limit: int) -> list[str]:
    if not path.is_file():
        return []
    out: list[str] = []
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line) if line.strip() else None
            if (isinstance(record, dict) and isinstance(record.get("question"), str)
                    and record.get("answers") and not record.get("history")):
                out.append(record["question"])
            if len(out) >= limit:
                break
    except (OSError, ValueError):
        return []
    return out
