"""The query analyser: a question and the conversation before it, analysed once into a :class:`Query`.

Each text of the conversation is tokenised once; every later stage reads the query's terms,
priors, coverage, missing words, answer kind and turns instead of looking at the text again.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable, Protocol, Sequence

import wordfreq

from .encode import Encoder
from .spans import answer_type, common_word
from .text import MAX_CACHED_WORD, Token, Tokenizer
from .values import Exchange, Query, QueryTerm, Turn

__all__ = ["KIND_PATTERNS", "QueryAnalyser", "Vocabulary", "asks_for_more", "informativeness", "lone_demonstrative", "word_prior"]

# Pronouns that point back to an earlier turn when the question names nobody itself.
_PRONOUNS = frozenset("he she they him her them his hers their theirs it its this that these those there then".split())
# Pronouns for a person: with no name before them in the question, they point at an earlier turn.
_PERSONAL_RE = re.compile(r"\b(he|she|him|her|his|hers|himself|herself)\b", re.IGNORECASE)
# A demonstrative standing for something said before rather than pointing at a noun after it:
# "Does Yerevan accept that?", "Why did that happen?", "What was that about?" ("this year",
# "those who", "those with lower incomes", "compared to that of", "the man that was recalled",
# "what does it have that is rare?" do not).
_LINKING = r"(?:is|are|was|were|be|been|do|does|did|will|would|can|could|should|might|may|must)"
_VERB_AFTER = rf"(?:{_LINKING}|has|have|had|mean|means|meant|happen|happens|happened)"
_PREPOSITION = r"(?:about|after|before|of|for|by|from|with|to|in|on|at|since|despite|during|like)"
_LONE_DEMONSTRATIVE_RE = re.compile(
    rf"\b(?:this|that|these|those)\s*[?.!]*\s*$"
    rf"|(?:^|\b(?:why|how|what|when|where|who|{_LINKING}|{_PREPOSITION})\s+)(?:this|that|these|those)"
    rf"\s+(?:(?:{_VERB_AFTER}|why|how|what|when|where)\b|{_PREPOSITION}\s*[?.!]*\s*$)", re.IGNORECASE)
# "the", "that", "this", "these", "those" right before a word, perhaps past one adjective: a definite description.
_DEFINITE_BEFORE_RE = re.compile(r"\b(?:the|that|this|these|those)\s+(?:[a-z][\w-]*\s+)?$", re.IGNORECASE)
_ACRONYM_RE = re.compile(r"\b[A-Z]{2,}s?\b")
_CONNECTIVES = ("and ", "but ", "so ", "also ", "what about ", "how about ", "what else", "anything else")
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_SENTENCE_START_RE = re.compile(r"(^|[.!?:;]\s*|[\"“(]\s*)$")  # what comes before a sentence's first word
_NAME_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")
# Words asking for something beyond what was said: "what else…", "any other…", "tell me more",
# "besides that…" ("more important" and "more than" compare, "each other" and "one another" pair).
_MORE_RE = re.compile(r"\b(?:else|besides|additionally|in addition|(?<!\beach )others?|(?<!\bone )another|"
                      r"(?:what|anything|something|any|tell me|say|said|know)\s+more|"
                      r"more(?=\s*(?:[?.!]|$|about\b|on\b|details?\b|information\b)))\b", re.IGNORECASE)
# The words of those questions that only ask for more.
_MORE_WORD_RE = re.compile(r"\b(?:else|besides|additionally|others?|another|more)\b", re.IGNORECASE)
# The word naming the kind of answer wanted: "what year", "which city", "how many people".
_ASKED_FOR_RE = re.compile(r"\b(?:what|which|whose|how many|how much)\s+([^\W\d_]+)", re.IGNORECASE)
# In "what does X stand for?" these words ask for an expansion; a document that defines X need not use them.
_DEFINITION_FRAME_RE = re.compile(r"\b(?:stands?|short|abbreviat\w*|acronyms?|initials|means?)\b", re.IGNORECASE)
# Of those, the ones that are only the question's frame: searched, "stand" finds "it stands alone"
# for "what does NASA stand for?"; a sentence defining NASA holds NASA itself.
_FRAME_ONLY_RE = re.compile(r"\b(?:stands?|short)(?=\s+for\b)", re.IGNORECASE)

# What a sentence must hold to be the kind of answer asked for.
KIND_PATTERNS: dict[str, re.Pattern[str]] = {
    "date": re.compile(
        r"\b(1[5-9]\d\d|20\d\d|January|February|March|April|May|June|July|August|September|October|"
        r"November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|today|"
        r"tomorrow|century|decade)\b"),
    "number": re.compile(r"\d+(?:[.,]\d+)*|\b(one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|"
                         r"million|billion|dozen)\b", re.IGNORECASE),
    "name": _NAME_RE,
}
_KIND_QUESTIONS = (
    ("date", re.compile(r"\b(when|what year|which year|what date|what day|how long ago)\b")),
    ("number", re.compile(r"\bhow (much|many|old|long|far)\b")),
    ("name", re.compile(r"\b(who|whom|whose)\b")),
)


# wordfreq's Zipf scale: about 7.7 for "the", 0 for a word it has never seen.
_ZIPF_CEILING = 8.0
# Even the commonest word says a little (and a weight of 0 would drop it from coverage).
_MIN_INFORMATION = 0.5
# Unknown words of one text whose near-spellings are looked for: bounds a request's work (a
# question of a hundred made-up words took 0.3 s); real questions have a few unknown words.
MAX_GUESSES = 12
# Characters of a question (with its context) that are embedded: about 100 word pieces, more than
# any real question needs; the encoder's cost grows with the square of its input.
MAX_EMBEDDED_CHARS = 400
MAX_EMBEDDED_TOKENS = 96
# Answers quoted from passages whose analysis is kept: follow-ups come back to the last one.
_QUOTED_CACHE_SIZE = 4096


class Neighbours(Protocol):
    """Corpus words near in meaning to words the corpus lacks (neighbours.WordNeighbours)."""

    def nearest(self, words: Sequence[str]) -> list[tuple[str, ...]]: ...


class Vocabulary(Protocol):
    """What the analyser asks of the index."""

    def known(self, term: str) -> bool: ...

    def similar(self, term: str) -> list[str]: ...

    def tokens_of(self, passage_id: str, start: int, text: str) -> list[Token] | None: ...

    def rarity(self, term: str) -> float: ...

    # acronyms the documents define: the acronym's term -> its long form's terms (optional)


def _find_run(terms: Sequence[str], run: Sequence[str]) -> int | None:
    """Where ``run`` occurs in ``terms`` as consecutive items, or None."""
    n = len(run)
    for i in range(len(terms) - n + 1):
        if tuple(terms[i : i + n]) == tuple(run):
            return i
    return None


def informativeness(word: str) -> float:
    """How much a word tells, from its frequency in English: about 1 for "the", 6 for "Zakharova".
    A word longer than any English one is as rare as can be, and is not looked up (or cached)."""
    if len(word) > MAX_CACHED_WORD:
        return _ZIPF_CEILING
    return _informativeness(word)


@lru_cache(maxsize=100_000)
def _informativeness(word: str) -> float:
    zipf = wordfreq.zipf_frequency(word.casefold().replace("’", "'"), "en")
    return max(_MIN_INFORMATION, _ZIPF_CEILING - zipf)


def word_prior(word: str, scale: float) -> float:
    """A query word's weight: 1 for a telling word, less for an everyday one ("go" about 0.35
    at scale 4). In a short document BM25's IDF cannot tell "went" from "Lukashenko" when both
    occur once; how common the word is in English at large can."""
    if scale <= 0:
        return 1.0
    return min(1.0, informativeness(word) / scale)


def asks_for_more(question: str) -> bool:
    """Whether a question asks for something beyond what it was told: "What else did she say?",
    "Anything else?", "Which other countries…?", "Tell me more." ("more than ten", "each other"
    do not)."""
    return _MORE_RE.search(question) is not None


def lone_demonstrative(question: str) -> bool:
    """Whether ``question`` holds "this", "that", "these" or "those" standing alone for
    something said before ("What did Russia say about that?", "Why did this happen?"), not
    pointing at a noun after it ("this year", "those who") nor opening a relative clause ("the
    law that was passed")."""
    return _LONE_DEMONSTRATIVE_RE.search(question) is not None


def answer_kind(question: str) -> str | None:
    """The kind of answer a question asks for, from its question word."""
    low = question.lower()
    for kind, pattern in _KIND_QUESTIONS:
        if pattern.search(low):
            return kind
    return None


class QueryAnalyser:
    """Turns a question and its conversation into a :class:`Query`.

    Args:
        tokenizer: the one tokeniser (the index's).
        vocabulary: which terms the documents know, and near-spellings of those they don't.
        word_prior: scale of the English-frequency prior on question words (0 = off).
        history_weight: weight of each earlier turn relative to the one after it (0 = no follow-ups).
        max_turns: how many earlier exchanges a follow-up can lean on.
        answer_weight: weight of the previous answer sentence relative to the previous question.
        encoder: embeds the question (None: words only).
        neighbours: a word the documents lack, with no near-spelling either, searches the
            corpus words nearest to it in meaning (None: it stays unknown).
        neighbour_credit: how much of such a word's information coverage counts as found (0..1):
            "Norwegian" is near "Norway" without being it.
    """

    def __init__(self, tokenizer: Tokenizer, vocabulary: Vocabulary, *, word_prior: float, history_weight: float,
                 max_turns: int, answer_weight: float, encoder: Encoder | None = None,
                 neighbours: Neighbours | None = None, neighbour_credit: float = 1.0) -> None:
        self.tokenizer = tokenizer
        self.vocabulary = vocabulary
        self.word_prior = word_prior
        self.history_weight = history_weight
        self.max_turns = max_turns
        self.answer_weight = answer_weight
        self.encoder = encoder
        self.neighbours = neighbours
        self.neighbour_credit = neighbour_credit
        self._quoted_cache: dict[tuple[str, int, str], tuple[QueryTerm, ...]] = {}

    def warm_up(self) -> None:
        """Load the word lists (frequencies, lemmas, the other languages' lists the span rules
        read) and the encoder now, not during the first question: with a saved index, start-up
        tokenises nothing, so the lemmatiser's dictionary would load on the first question."""
        informativeness("the")
        self.tokenizer.terms("Warming up the words")
        common_word("Warming")
        if self.encoder is not None:
            self.encoder.warm_up()

    def words(self, text: str, memo: dict[str, tuple[QueryTerm, ...]] | None = None,
              tokens: Sequence[Token] | None = None) -> tuple[QueryTerm, ...]:
        """Every word of ``text`` analysed: its term, what it searches for, its prior.
        ``tokens``, when the index already holds them, saves tokenising ``text`` again."""
        if memo is not None and text in memo:
            return memo[text]
        asked_for = {m.start(1) for m in _ASKED_FOR_RE.finditer(text)}
        frame: set[int] = set()
        if answer_type(text) == "definition":
            asked_for |= {m.start() for m in _DEFINITION_FRAME_RE.finditer(text)}
            frame = {m.start() for m in _FRAME_ONLY_RE.finditer(text)}
        if asks_for_more(text):  # "else" of "what else…?": not a word the documents should hold
            frame |= {m.start() for m in _MORE_WORD_RE.finditer(text)}
        out = []
        guesses = 0
        for token in self.tokenizer.tokens(text) if tokens is None else tokens:
            surface = text[token.start : token.end]
            if token.start in frame:
                continue  # "stand" of "stand for", "else" of "what else": not what the question is about
            if self.vocabulary.known(token.term):
                searched: tuple[str, ...] = (token.term,)
            elif guesses < MAX_GUESSES:
                guesses += 1
                searched = tuple(self.vocabulary.similar(token.term))
            else:
                searched = ()  # enough guessing for one text: the rest count as unknown
            out.append(QueryTerm(
                term=token.term, start=token.start, end=token.end, searched=searched,
                prior=word_prior(surface, self.word_prior), information=informativeness(surface),
                asked_for=token.start in asked_for,
            ))
        words = tuple(out) + self._other_forms(out)
        if memo is not None:
            memo[text] = words
        return words

    def _other_forms(self, words: Sequence[QueryTerm]) -> tuple[QueryTerm, ...]:
        """A long form whose acronym the documents define ("Collective Security Treaty
        Organization" for "CSTO") also searches for the acronym, which later passages use alone;
        the acronym weighs what the long form's most telling word does, and tells nothing new
        (coverage ignores it). The other way round, the index credits a passage that spells the
        long form out with the acronym."""
        acronyms = getattr(self.vocabulary, "acronyms", None)
        if not acronyms:
            return ()
        terms = [w.term for w in words]
        extra: list[QueryTerm] = []
        for short, long in acronyms.items():
            at = _find_run(terms, long) if short not in terms else None
            if at is not None:
                run = words[at : at + len(long)]
                extra.append(QueryTerm(short, run[0].start, run[-1].end, (short,), max(w.prior for w in run), 0.0))
        return tuple(extra)

    def _quoted(self, previous: Exchange) -> tuple[QueryTerm, ...] | None:
        """The words of an answer quoted from a passage, from the index's tokens (no tokenising),
        kept for the next follow-up on it; None when it is not where the exchange says."""
        if previous.passage_id is None or previous.start is None or previous.answer is None:
            return None
        key = (previous.passage_id, previous.start, previous.answer)
        words = self._quoted_cache.get(key)
        if words is None:
            tokens = self.vocabulary.tokens_of(previous.passage_id, previous.start, previous.answer)
            if tokens is None:
                return None
            words = self.words(previous.answer, tokens=tokens)
            if len(self._quoted_cache) >= _QUOTED_CACHE_SIZE:
                self._quoted_cache.clear()
            self._quoted_cache[key] = words  # only sentences of the corpus: bounded by it
        return words

    def window(self, history: Sequence[Exchange]) -> Sequence[Exchange]:
        """The earlier exchanges a question may lean on: the last ``max_turns``."""
        return history[-self.max_turns :] if self.max_turns else ()

    def is_follow_up(self, text: str, words: Sequence[QueryTerm] | None = None) -> bool:
        """Whether a question leans on earlier turns: it opens with a connective, names too
        little to stand alone (one word, unless it asks about a name: "Who is Lukashenko?"),
        speaks of "he" or "she" before naming anyone, points back with a demonstrative standing
        alone ("Does Yerevan accept that?": whatever it names), or uses another pronoun while
        naming nobody and little else."""
        if text.lower().startswith(_CONNECTIVES) or lone_demonstrative(text):
            return True
        personal = _PERSONAL_RE.search(text)
        if personal and not _NAME_RE.search(text[: personal.start()]):
            return True
        words = self.words(text) if words is None else words
        # Every word it names counts, found in the documents or not: "what happened in Bucha?"
        # stands alone even if no document says "happened" (it was once read as a continuation).
        named = {w.term for w in words}
        if len(named) <= 1:
            # one word named: "Why?", "When was it built?" lean back; a question asking about a
            # name ("Who is Lukashenko?", "What does NASA stand for?") stands alone
            return not (named and len(_WORD_RE.findall(text)) >= 3 and (
                _NAME_RE.search(text) or _ACRONYM_RE.search(text)))
        pronoun = any(w.lower() in _PRONOUNS for w in _WORD_RE.findall(text))
        return pronoun and len(named) <= 2 and not _NAME_RE.search(text)

    def _names_in_other_words(self, text: str, words: Sequence[QueryTerm], window: Sequence[Exchange],
                              memo: dict[str, tuple[QueryTerm, ...]]) -> bool:
        """Whether ``text`` speaks of something of the conversation in its own words: "the trip"
        (a word no document holds) after "Who did he travel with?", whose word is the one the
        documents hold nearest in meaning to it. A definite description of that kind points back
        ("How did Russia react to the trip?"); "the lighthouse", a word the documents hold,
        says nothing of the sort."""
        if self.neighbours is None or not window:
            return False
        described = [text[w.start : w.end] for w in (words[i] for i in self._unmatched(words))
                     if text[w.start : w.end].islower() and _DEFINITE_BEFORE_RE.search(text[: w.start])]
        if not described:
            return False
        earlier_terms = {w.term for e in window if e.question for w in self.words(e.question, memo)}
        return any(earlier_terms & set(near) for near in self.neighbours.nearest(described))

    def analyse(
        self,
        question: str,
        history: Sequence[Exchange] = (),
        previous_answer: Callable[[], Exchange | None] | None = None,
        memo: dict[str, tuple[QueryTerm, ...]] | None = None,
        lean: bool = False,
        earlier_answers: Callable[[], Sequence[Exchange]] | None = None,
    ) -> Query:
        """The query for ``question`` (already cleaned) after ``history`` (oldest first).

        ``previous_answer`` gives the last exchange with its answer; it is called only when
        the question leans on the conversation, so a stand-alone question costs nothing more.
        ``lean``: read the question as leaning on the last earlier turn whatever
        :meth:`is_follow_up` says (the pipeline's second reading of a question that could not be
        answered on its own). ``earlier_answers`` gives every earlier exchange of the window with
        its answer; it is called only for a follow-up that asks for more (:func:`asks_for_more`),
        whose answer should be none of them.
        """
        memo = {} if memo is None else memo
        words = self.words(question, memo)
        turns = [Turn(question, 1.0, "question", words)]
        weight = 1.0
        current, current_words = question, words
        window = self.window(history)
        for earlier in reversed(window):
            # Once in a conversation, an earlier "he" or "she" reaches back too, named or not
            # ("Which Ukrainian town did he visit?": "Ukrainian" is not who "he" is).
            leans = (lean and len(turns) == 1) or self.is_follow_up(current, current_words) or (
                len(turns) > 1 and _PERSONAL_RE.search(current)) or (
                len(turns) == 1 and self._names_in_other_words(question, words, window, memo))
            if not leans:
                break
            if not earlier.question or not any(w.known for w in self.words(earlier.question, memo)):
                continue  # an earlier "Anything else?" says nothing to lean on: the turn before it does
            weight *= self.history_weight
            if weight <= 0:
                break
            current, current_words = earlier.question, self.words(earlier.question, memo)
            turns.append(Turn(current, weight, "earlier", current_words))
        previous = previous_answer() if len(turns) > 1 and previous_answer is not None else None
        if previous is not None and previous.answer:
            # "she", "there", "that" often point at what the last answer said, not only at the last question.
            answer_words = self._quoted(previous)
            if answer_words is None:
                if previous.passage_id is not None:  # not where the client says: recognise it by its text
                    previous = Exchange(previous.question, previous.answer, answered=True)
                answer_words = self.words(previous.answer, memo)
            turns.append(Turn(previous.answer, turns[1].weight * self.answer_weight, "answer", answer_words))
        given: tuple[Exchange, ...] = ()
        if len(turns) > 1 and earlier_answers is not None and asks_for_more(question):
            given = tuple(e for e in earlier_answers() if e.answer)
        turns, vector = self._meaning(turns)
        own_vector = None
        if vector is not None and any(t.role == "earlier" for t in turns):  # a follow-up: what it asks by itself
            own_vector = self.encoder.encode([question[:MAX_EMBEDDED_CHARS]],  # type: ignore[union-attr]
                                             max_tokens=MAX_EMBEDDED_TOKENS)[0]
        weights: dict[str, float] = {}
        for turn in turns:
            for term, prior in zip(turn.terms, turn.priors):
                weights[term] = max(weights.get(term, 0.0), turn.weight * prior)
        missing, names = self._missing(question, turns[0].words)
        return Query(
            text=question, turns=tuple(turns), weights=weights, kind=answer_kind(question),
            coverage=self._coverage(turns), missing=missing, names=names,
            previous=previous if previous is not None and previous.answer else None,
            mass={t: w * self.vocabulary.rarity(t) for t, w in weights.items()},
            vector=vector,
            own_vector=own_vector,
            answer_type=answer_type(question),
            leant=lean and len(turns) > 1 and not self.is_follow_up(question, words),
            given=given,
        )

    def _meaning(self, turns: list[Turn]) -> tuple[list[Turn], Any]:
        """The question's vector, and the turns with each unknown word that has no near-spelling
        searching its neighbours in meaning (one encoder call for all the words not asked
        before, apart from the question's: padded to the question's length beside it, they
        cost more, measured)."""
        if self.encoder is None:
            return turns, None
        vector = self.encoder.encode([self._vector_text(turns)], max_tokens=MAX_EMBEDDED_TOKENS)[0]
        if self.neighbours is None:
            return turns, vector
        unmatched = [(n, i) for n, turn in enumerate(turns) for i in self._unmatched(turn.words)]
        if not unmatched:
            return turns, vector
        found = self.neighbours.nearest([turns[n].text[turns[n].words[i].start : turns[n].words[i].end]
                                         for n, i in unmatched])
        if not any(found):
            return turns, vector
        changed = [list(turn.words) for turn in turns]
        for (n, i), terms in zip(unmatched, found):
            if terms:
                changed[n][i] = changed[n][i]._replace(searched=terms, by_meaning=True)
        return [Turn(t.text, t.weight, t.role, tuple(w)) for t, w in zip(turns, changed)], vector

    def _unmatched(self, words: Sequence[QueryTerm]) -> list[int]:
        """Where ``words`` has a word of letters the index does not know and found no
        near-spelling for, among the first MAX_GUESSES unknown words (those :meth:`words` asked
        the index about): the ones whose neighbours in meaning are looked up."""
        out = []
        unknown = 0
        for i, w in enumerate(words):
            if self.vocabulary.known(w.term):
                continue
            unknown += 1
            if unknown > MAX_GUESSES:
                break
            if not w.searched and w.term.isalpha():
                out.append(i)
        return out

    @staticmethod
    def _vector_text(turns: Sequence[Turn]) -> str:
        """What is embedded: the question, with the earlier questions it leans on after it, most
        recent first (a bare "And when was that?" means little alone). The question comes first
        so that the encoder's cut at its token limit falls on the oldest context, never on it."""
        text = " ".join([turns[0].text] + [t.text for t in turns[1:] if t.role == "earlier"])
        return text[:MAX_EMBEDDED_CHARS]

    def _missing(self, question: str, words: Sequence[QueryTerm]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The question's words (as written) whose terms no document contains, and those of
        them that are names: capitalised where a sentence does not start."""
        missing: list[str] = []
        names: list[str] = []
        for w in words:
            word = question[w.start : w.end]
            if w.known or word in missing or "-" in w.term or (w.asked_for and word.islower()):
                continue  # a lower-case word naming the kind of answer ("what *year*") need not be in the text
            missing.append(word)
            if word[0].isupper() and not _SENTENCE_START_RE.search(question[: w.start]):
                names.append(word)
        return tuple(missing), tuple(names)

    def _coverage(self, turns: Sequence[Turn]) -> float:
        """Share of the question's information that the documents contain (1.0 = all of it).

        Each word counts by how rare it is in English at large (wordfreq): in a short document
        most everyday words are missing by chance, so a missing "article" or "year" says little,
        while a missing "injured" or "tallest" says the document is about something else.
        Earlier turns of a follow-up count with their weight. The word naming the kind of
        answer ("what *year*") need not be in the text. A word found only by its neighbours in
        meaning counts ``neighbour_credit`` of its information.
        """
        total = found = 0.0
        for turn in turns:
            for w in turn.words:
                if "-" in w.term and self.tokenizer.split_hyphens:
                    continue  # a hyphenated word counts through its parts
                if not w.known and w.asked_for:
                    continue
                weight = turn.weight * w.information
                total += weight
                if w.known:
                    found += weight * self.neighbour_credit if w.by_meaning else weight
        return found / total if total else 0.0
