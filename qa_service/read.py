"""The reader: picks the sentence of the best passages that answers the question."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from .learned import (QUESTION_FEATURES, Candidate, SpanChooser, TreeModel, candidate_features, gives_new, is_previous,
                      question_basics, question_features)
from .extract import Reading, SpanModel, whole_words
from .query import KIND_PATTERNS
from .semantic import SentenceVectors, minmax
from .spans import answers_yes_or_no, find_span, fits_question, one_figure
from .values import AnswerSentence, AnswerSpan, Hit, Query, SentenceSource

__all__ = ["LearnedReader", "SentenceReader", "gives_new"]

# A sentence holding the kind of thing asked for (a date for "when") counts this much more.
KIND_BONUS = 1.25
# A sentence also gets this share of its passage's score relative to the top one: between two
# sentences matching the same words, the one in the better passage wins.
PASSAGE_SHARE = 0.5


class SentenceReader:
    """Scores every sentence of the first ``passages`` hits by the rarity of the query terms it
    holds, plus a share of its passage's score, with a bonus when it holds the kind of answer
    asked for that the question does not already give.

    A follow-up wants something new: the previous answer sentence counts ``repeat_weight``
    unless it holds one of the question's own terms ("what did she write?" moves on, "how did
    she describe the visit?" may be answered by the sentence that named her). One that asks for
    more ("what else did she say?", :attr:`Query.given`) is answered by none of the sentences the
    conversation gave, on the same terms; by nothing when every sentence found was given.

    With sentence ``vectors``, every sentence of those passages is a candidate, even one that
    shares no word with the question: its score becomes its lexical score relative to the best
    one plus ``semantic_weight`` x its cosine with the question, spread over [0, 1]. For a
    follow-up that cosine is with :attr:`Query.choice_vector`: the new question's own meaning
    and the conversation's, equally ("And how were its ties with Russia before that?" wants the
    sentence about those ties, not the one the conversation was about).
    """

    def __init__(self, index: SentenceSource, *, passages: int, repeat_weight: float,
                 vectors: SentenceVectors | None = None, semantic_weight: float = 0.0,
                 spans: SpanChooser | None = None) -> None:
        self.index = index
        self.passages = passages
        self.repeat_weight = repeat_weight
        self.vectors = vectors
        self.semantic_weight = semantic_weight
        self.spans = spans  # the learned span where the rules find none (None: the rules alone)

    def read(self, query: Query, hits: list[Hit]) -> AnswerSentence | None:
        if not hits:
            return None
        hybrid = self.vectors is not None and query.vector is not None and self.semantic_weight > 0
        wanted = KIND_PATTERNS.get(query.kind) if query.kind else None
        top_score = hits[0].score or 1.0
        previous = query.previous
        # (lexical score or None when it shares no word, repeated?, hit, sentence number, span, cosine)
        candidates: list[tuple[float | None, bool, Hit, int, tuple[int, int], float]] = []
        for hit in hits[: self.passages]:
            text = hit.passage.text
            cosines = self.vectors.cosines(query.choice_vector, hit.position) if hybrid else None  # type: ignore[union-attr]
            for n, (span, terms) in enumerate(self.index.sentences(hit.position)):
                start, end = span
                sentence = text[start:end]
                if query.given and not (query.own & terms) and \
                        any(is_previous(g, hit.passage.id, start, sentence) for g in query.given):
                    continue  # "what else did she say?": not what the conversation already said
                repeat = previous is not None and is_previous(previous, hit.passage.id, start, sentence) \
                    and not (query.own & terms)
                score: float | None = query.mass_in(terms)
                if score <= 0:  # type: ignore[operator]
                    score = None  # shares no word: a candidate only by meaning
                else:
                    score += PASSAGE_SHARE * hit.score / top_score
                    if wanted is not None and gives_new(wanted, sentence, query.text):
                        score *= KIND_BONUS
                    if repeat:
                        score *= self.repeat_weight
                if score is not None or hybrid:
                    candidates.append((score, repeat, hit, n, (start, end), float(cosines[n]) if hybrid else 0.0))
        if hybrid:
            candidates = self._mixed(candidates)
        if query.answer_type == "definition":  # "what does X stand for?": a sentence defining X answers it
            defining = [c for c in candidates if c[0] is not None and find_span(
                c[2].passage.text[c[4][0]:c[4][1]], query.text, "definition") is not None]
            candidates = defining or candidates
        best: tuple[float, int, int, AnswerSentence] | None = None
        for score, _, hit, n, (start, end), _ in candidates:
            if score is None:
                continue
            key = (score, -hit.rank, -n)
            if best is None or key > best[:3]:
                text = hit.passage.text
                best = (score, -hit.rank, -n, AnswerSentence(text[start:end], hit.passage.id, round(score, 4), start, end))
        if best is None and query.given:  # asked for more, and every sentence found was said already
            return None
        if best is None:  # the hits matched only through hyphenated wholes; fall back to the top passage
            p = hits[0].passage
            (start, end), _ = self.index.sentences(hits[0].position)[0]
            return AnswerSentence(p.text[start:end], p.id, 0.0, start, end)
        sentence = best[3]
        return with_span(sentence, query, self.spans)

    def _mixed(self, candidates: list) -> list:  # type: ignore[type-arg]
        """Lexical score relative to the best one, plus ``semantic_weight`` x the cosine spread
        over [0, 1] across the candidates; the sentence just given keeps its penalty."""
        top = max((c[0] for c in candidates if c[0] is not None), default=0.0) or 1.0
        spread = minmax(np.array([c[5] for c in candidates], dtype=np.float64))
        mixed = []
        for (score, repeat, hit, n, span, cosine), s in zip(candidates, spread):
            meaning = self.semantic_weight * float(s) * (self.repeat_weight if repeat else 1.0)
            mixed.append(((score or 0.0) / top + meaning, repeat, hit, n, span, cosine))
        return mixed


class LearnedReader:
    """Picks the sentence a trained chooser scores highest among every sentence of the first
    ``passages`` hits (features: :data:`learned.CANDIDATE_FEATURES`), and hands the decider what
    it saw (:data:`learned.QUESTION_FEATURES`) as the sentence's ``signals``.

    The chooser was trained on single questions (SQuAD has no conversations): a follow-up is
    read by ``follow_ups``, the hand-weighted reader that knows not to repeat the last answer.

    A question asking what an acronym stands for is answered by a sentence that defines it
    whenever one is among the candidates.

    With the extractive reader (``span_model``), the chooser's best ``span_candidates`` sentences
    compete: each is read with ``span_context`` sentences either side, its score gets
    ``span_weight`` x its best span's lead over "no answer" in its excerpt (start + end logit
    minus [CLS]'s, SQuAD 2.0's reading; relative to the best of them), and the exact answer is
    the chosen sentence's best span; when the chooser's best leads the next by ``span_lead`` or
    more (log-odds; 0: never), only the best is read. A span that cannot answer the question as asked
    (:func:`spans.fits_question`: "why?" answered by a bare name) weighs as no span. A
    follow-up's sentence is read with the follow-up's own words: the reader, trained on single
    questions, reads two questions as the first one (held-out SQuAD: span F1 .718 alone, .497
    after another question of the paragraph; ``training/measure_follow_up_reading.py``).
    """

    def __init__(self, index: SentenceSource, *, passages: int, chooser: TreeModel, follow_ups: SentenceReader,
                 vectors: SentenceVectors | None = None, spans: SpanChooser | None = None,
                 span_model: SpanModel | None = None, span_weight: float = 0.0, span_candidates: int = 2,
                 span_context: int = 100, span_neighbours: bool = False, span_lead: float = 0.0) -> None:
        self.index = index
        self.passages = passages
        self.chooser = chooser
        self.follow_ups = follow_ups
        self.vectors = vectors
        self.spans = spans  # the learned span where the rules find none (None: the rules alone)
        self.span_model = span_model
        self.span_weight = span_weight
        self.span_candidates = span_candidates
        self.span_context = span_context
        self.span_neighbours = span_neighbours
        self.span_lead = span_lead

    def warm_up(self) -> None:
        if self.span_model is not None:
            self.span_model.warm_up()

    def excerpts(self, candidates: Sequence[Candidate]) -> list[tuple[int, int, int]]:
        """What the reader reads for ``candidates``: per candidate, (which excerpt, its start and
        end in its passage). An excerpt is the candidate's sentence with ``span_context`` sentences
        either side; candidates of one passage whose excerpts overlap or touch share one."""
        runs: list[tuple[int, int, int]] = []  # (passage position, first sentence number, last)
        for c in sorted(candidates, key=lambda c: (c.hit.position, c.number)):
            first, last = c.number - self.span_context, c.number + self.span_context
            if runs and runs[-1][0] == c.hit.position and first <= runs[-1][2] + 1:
                runs[-1] = (c.hit.position, runs[-1][1], max(runs[-1][2], last))
            else:
                runs.append((c.hit.position, first, last))
        out = []
        for c in candidates:
            n = next(n for n, (p, first, last) in enumerate(runs) if p == c.hit.position and first <= c.number <= last)
            _, first, last = runs[n]
            spans = [span for span, _ in self.index.sentences(c.hit.position)]
            start = 0 if first <= 0 else spans[first][0]
            end = len(c.hit.passage.text) if last >= len(spans) - 1 else spans[last][1]
            out.append((n, start, end))
        return out

    def _readings(self, question: str, candidates: Sequence[Candidate],
                  inside: Sequence[Candidate] = ()) -> list[Reading]:
        """The reader's best span inside each candidate sentence (offsets in its passage), each
        read with its excerpt (:meth:`excerpts`), every excerpt once, in one call; then, for
        each of ``inside`` (sentences that lie wholly in one of those excerpts), its best span
        there too, with no more reading. ValueError for one of ``inside`` outside them."""
        excerpts = self.excerpts(candidates)
        texts: dict[int, tuple[str, int]] = {}
        where: dict[int, tuple[int, int, int]] = {}  # excerpt -> (passage position, start, end)
        for c, (n, start, end) in zip(candidates, excerpts):
            texts.setdefault(n, (c.hit.passage.text[start:end], start))
            where.setdefault(n, (c.hit.position, start, end))
        order = sorted(texts)
        read = dict(zip(order, self.span_model.logits(question, [texts[n][0] for n in order])))
        found = [read[n].shifted(texts[n][1]).best((c.start, c.end)) for c, (n, _, _) in zip(candidates, excerpts)]
        for c in inside:
            n = next((n for n, (position, start, end) in where.items()
                      if position == c.hit.position and start <= c.start and c.end <= end), None)
            if n is None:
                raise ValueError(f"sentence {c.number} of passage {c.hit.passage.id} was not read")
            found.append(read[n].shifted(texts[n][1]).best((c.start, c.end)))
        return found

    def _weighed(self, logits: np.ndarray, competing: list[int], readings: dict[int, Reading],
                 found: Sequence[Candidate], query: Query) -> np.ndarray:
        """The chooser's log-odds of the ``competing`` sentences plus the reader's weighed span in
        each (relative to the best; NO_SPAN below it without one that answers as asked), -inf for
        the others; the chooser's alone when the reader answers as asked in none of them."""
        spans = np.array([readings[i].margin if _answers_as_asked(readings[i], found[i], query) else -np.inf
                          for i in competing], dtype=np.float64)
        if not np.isfinite(spans).any():
            return logits
        spans = np.where(np.isfinite(spans), spans - spans[np.isfinite(spans)].max(), -NO_SPAN)
        scores = np.full(len(found), -np.inf)
        scores[competing] = logits[competing] + self.span_weight * spans
        return scores

    def _assessed(self, query: Query, hits: list[Hit], sentence: AnswerSentence) -> AnswerSentence:
        """A follow-up's sentence with what the decider reads of it (``signals``), as if the
        chooser had picked it among the same candidates; unchanged when it is not one of them."""
        found, matrix = candidate_features(query, hits, self.index, self.vectors, self.passages)
        best = next((i for i, c in enumerate(found)
                     if c.hit.passage.id == sentence.passage_id and c.start == sentence.start), None)
        if best is None:
            return sentence
        logits = self.chooser.logits(matrix)
        return replace(sentence, signals=dict(zip(QUESTION_FEATURES, question_features(
            question_basics(query, hits), matrix, logits, best))))

    def read(self, query: Query, hits: list[Hit]) -> AnswerSentence | None:
        if not hits:
            return None
        if query.follow_up:
            sentence = self.follow_ups.read(query, hits)
            if sentence is None:
                return None
            if query.leant:  # not a follow-up by its words: the decider judges this reading of it
                sentence = self._assessed(query, hits, sentence)
            if self.span_model is None or not _asks_for_something(query):
                return sentence
            # the reader reads its own words: after the question it leans on, it answers that one
            # ("What did she call the visit?" got the name the last question asked for)
            question = query.text
            hit = next((h for h in hits if h.passage.id == sentence.passage_id), None)
            if hit is None:
                return sentence
            number = next((n for n, ((start, _), _) in enumerate(self.index.sentences(hit.position))
                           if start == sentence.start), None)
            if number is None:  # not one of the passage's sentences: its passage is read whole
                [logits] = self.span_model.logits(question, [hit.passage.text])
                reading = logits.best((sentence.start, sentence.end))
            else:
                [reading] = self._readings(question, [Candidate(hit, number, sentence.start, sentence.end,
                                                                sentence.text, False)])
            return _with_read_span(sentence, reading, hit.passage.text, query) or sentence
        found, matrix = candidate_features(query, hits, self.index, self.vectors, self.passages)
        if not found:
            return None
        logits = self.chooser.logits(matrix)
        readings: dict[int, Reading] | None = None
        scores = chosen_by = logits
        if self.span_model is not None:
            # the chooser's best `span_candidates` sentences compete, each read by the model with its neighbours
            top = [int(i) for i in np.argsort(-logits, kind="stable")[: self.span_candidates]]
            if self.span_lead > 0 and len(top) > 1 and logits[top[0]] - logits[top[1]] >= self.span_lead:
                top = top[:1]  # a lead the reader's weighing seldom overturns: only the best is read
            near = [i for i, c in enumerate(found) if self.span_neighbours and i not in top and any(
                c.hit.position == found[t].hit.position and abs(c.number - found[t].number) <= self.span_context
                for t in top)]
            read = self._readings(query.text, [found[i] for i in top], [found[i] for i in near])
            readings = dict(zip(top + near, read))
            scores = self._weighed(logits, top, readings, found, query)
            chosen_by = self._weighed(logits, top + near, readings, found, query)
        # the decider reads the scores the choice among the chooser's best was made on (the candidates the reader
        # did not weigh keep the chooser's), as it was trained: the other sentences of the excerpts may take the
        # answer's place, not move the decision to answer
        weighed = np.where(np.isfinite(scores), scores, logits)
        signals = dict(zip(QUESTION_FEATURES, question_features(question_basics(query, hits), matrix, weighed,
                                                                int(np.argmax(scores)))))
        best = int(np.argmax(chosen_by))  # the first of equals: passage order
        weighed = np.where(np.isfinite(chosen_by), chosen_by, logits)
        if query.answer_type == "definition":  # a sentence defining the acronym asked about answers it, by rule:
            defining = [i for i, c in enumerate(found) if find_span(c.text, query.text, "definition") is not None]
            if defining and best not in defining:  # the chooser's confidence is not about this one
                best, signals = max(defining, key=lambda i: weighed[i]), {}
        chosen = found[best]
        sentence = AnswerSentence(chosen.text, chosen.hit.passage.id, round(float(weighed[best]), 4), chosen.start,
                                  chosen.end, signals=signals)
        if readings is not None and best in readings and query.answer_type != "definition":
            spanned = _with_read_span(sentence, readings[best], chosen.hit.passage.text, query)
            if spanned is not None:
                return spanned
        return with_span(sentence, query, self.spans)


# Kinds of answer a span can be checked against (query.KIND_PATTERNS): a date for "when", a number for "how many".
TYPED_KINDS = frozenset({"date", "number"})
# A candidate the reader finds no span in counts this far below the best one (in logits).
NO_SPAN = 20.0


def _asks_for_something(query: Query) -> bool:
    """Whether a question says what it wants: a kind of answer, or a word the documents hold.
    "Anything else?" or "Tell me more." want the next thing said; the reader, reading those
    words alone, would emphasise any name of it."""
    return query.answer_type != "other" or any(w.searched for w in query.question.words)


def _answers_as_asked(reading: Reading, candidate: Candidate, query: Query) -> bool:
    """Whether the reader's best span in ``candidate`` can answer the question as asked (:func:`fits_question`)."""
    if not np.isfinite(reading.score):
        return False
    start, end = whole_words(candidate.hit.passage.text, reading.start, reading.end)
    return fits_question(candidate.hit.passage.text[start:end], query.text, query.answer_type)


def _with_read_span(sentence: AnswerSentence, reading: Reading, text: str, query: Query) -> AnswerSentence | None:
    """``sentence`` with the reader's span as its exact answer; None when the reader found none."""
    if not np.isfinite(reading.score):
        return None
    start, end = whole_words(text, reading.start, reading.end)
    start, end = max(start, sentence.start), min(end, sentence.end)
    end = start + len(one_figure(text[start:end], query.answer_type))
    if not text[start:end].strip():
        return None
    if query.kind in TYPED_KINDS and not KIND_PATTERNS[query.kind].search(text[start:end]):
        return None  # a "when" answered without a date: no span rather than a wrong one
    if not fits_question(text[start:end], query.text, query.answer_type):
        return None  # "how many people?" answered with "$598,000", "in what year?" with "June 12": no span
    if not answers_yes_or_no(text[start:end], query.text, query.answer_type):
        return None  # the sentence answers "did Belarus recall its ambassador?"; "Yerevan" emphasised would not
    return replace(sentence, span=AnswerSpan(text[start:end], start, end, query.answer_type))


def with_span(sentence: AnswerSentence, query: Query, spans: SpanChooser | None = None) -> AnswerSentence:
    """``sentence`` with the exact answer of the asked-for type inside it, offsets in its passage:
    the rules' (:func:`spans.find_span`), else the learned chooser's when it is sure enough;
    unchanged when neither gives one (no span rather than a wrong one)."""
    found = find_span(sentence.text, query.text, query.answer_type)
    if found is None and spans is not None:
        found = spans.choose(sentence.text, query.text, query.answer_type)
        if found is not None and not fits_question(found.text, query.text, query.answer_type):
            found = None  # as for the rules' spans and the reader's
    if found is None:
        return sentence
    return replace(sentence, span=AnswerSpan(found.text, sentence.start + found.start, sentence.start + found.end,
                                             found.type))
