"""The reader: picks the sentence of the best passages that answers the question."""

from __future__ import annotations

import re

from .query import KIND_PATTERNS
from .values import AnswerSentence, Exchange, Hit, Query, SentenceSource

__all__ = ["SentenceReader"]

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
    she describe the visit?" may be answered by the sentence that named her).
    """

    def __init__(self, index: SentenceSource, *, passages: int, repeat_weight: float) -> None:
        self.index = index
        self.passages = passages
        self.repeat_weight = repeat_weight

    def read(self, query: Query, hits: list[Hit]) -> AnswerSentence | None:
        if not hits:
            return None
        wanted = KIND_PATTERNS.get(query.kind) if query.kind else None
        top_score = hits[0].score or 1.0
        previous = query.previous
        best: tuple[float, int, int, AnswerSentence] | None = None
        for hit in hits[: self.passages]:
            text = hit.passage.text
            for n, (span, terms) in enumerate(self.index.sentences(hit.position)):
                start, end = span
                sentence = text[start:end]
                score = query.mass_in(terms)
                if score <= 0:
                    continue
                score += PASSAGE_SHARE * hit.score / top_score
                if wanted is not None and gives_new(wanted, sentence, query.text):
                    score *= KIND_BONUS
                if previous is not None and _is_previous(previous, hit.passage.id, start, sentence) \
                        and not (query.own & terms):
                    score *= self.repeat_weight
                key = (score, -hit.rank, -n)
                if best is None or key > best[:3]:
                    best = (score, -hit.rank, -n, AnswerSentence(sentence, hit.passage.id, round(score, 4), start, end))
        if best is None:  # the hits matched only through hyphenated wholes; fall back to the top passage
            p = hits[0].passage
            (start, end), _ = self.index.sentences(hits[0].position)[0]
            return AnswerSentence(p.text[start:end], p.id, 0.0, start, end)
        return best[3]


def _is_previous(previous: Exchange, passage_id: str, start: int, sentence: str) -> bool:
    """Whether a sentence is the answer just given: by its place when it is known, else by its
    text (white space aside: clients may send it back re-flowed)."""
    if previous.passage_id is not None and previous.start is not None:
        return (previous.passage_id, previous.start) == (passage_id, start)
    return previous.answer is not None and previous.answer.split() == sentence.split()


def gives_new(kind: re.Pattern[str], sentence: str, question: str) -> bool:
    """Whether ``sentence`` holds something of the ``kind`` asked for that the question does not
    already say ("June 12" does not answer "how many were hurt on June 12?")."""
    said = {m.group().casefold().replace(",", "") for m in kind.finditer(question)}
    return any(m.group().casefold().replace(",", "") not in said for m in kind.finditer(sentence))
