"""Questions that are not about a fact: greetings, thanks, "what can you do?", and questions
about a whole document ("what is this about?", "summarise it"), recognised by rules on the
question's shape, for any corpus; plus starting points (example questions) for any corpus.

Searching such a question's words gives robotic refusals ("It does not mention 'hello'"), so
the pipeline asks :func:`intent` first. Nothing here knows a particular document.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from .text import sentence_spans
from .values import Corpus, Passage, Span

__all__ = ["INTENTS", "Intent", "intent", "lead", "salient_names", "starting_points"]

INTENTS = ("greeting", "thanks", "help", "overview")

# Words that only address the service or soften the request; they carry no topic.
_POLITE = r"(?:please|pls|kindly|could you|can you|would you|will you|just|quickly|briefly|now)"
_YOU = r"(?:there|all|everyone|everybody|again|friend|bot|qa[- ]?service)"
_GREETING = re.compile(
    rf"^(?:(?:hi|hello|hey|hiya|howdy|greetings|yo|good (?:morning|afternoon|evening|day))"
    rf"(?: {_YOU})?(?: how are you(?: doing)?(?: today)?)?|how are you(?: doing)?(?: today)?)$")
_THANKS = re.compile(
    rf"^(?:(?:ok|okay|great|perfect|nice|cool|awesome|good|brilliant)? ?"
    rf"(?:thanks|thank you|thank you very much|thanks a lot|many thanks|thx|ty|cheers|much appreciated)"
    rf"(?: {_YOU}| so much| a lot| for (?:that|this|the (?:help|answer)|your help))?)$")
_HELP = re.compile(
    rf"^(?:{_POLITE} )*(?:help|help me|what can (?:you|i) (?:do|ask)(?: here| you)?|what do you do|"
    rf"how does this work|how do i use (?:this|you)|who are you|what are you)$")
# The document, by any of the names people give it; "it"/"this" alone also point at it.
_DOC = r"(?:document|doc|article|text|page|story|paper|report|piece|file|book|post|essay|source|documents|articles)"
_THE = r"(?:the|this|that|these|your|its|their)"
_OVERVIEW = [
    re.compile(rf"^what(?: is|'s| are) (?:{_THE} )?(?:{_DOC}|it|this|that|these) (?:all )?(?:about|on)(?: (?P<rest>.+))?$"),
    re.compile(rf"^what(?: is|'s| are) (?:the )?(?:main )?(?:topic|subject|gist|point|idea|theme|summary)s?"
               rf"(?: (?:of|in)(?: {_THE})? {_DOC}(?: (?:about|on|of) (?P<rest>.+))?)?$"),
    re.compile(rf"^(?:{_POLITE} )*(?:summari[sz]e|sum up|give (?:me )?(?:a |an )?(?:summary|overview|gist)"
               rf"(?: of)?|(?:a |an )?(?:summary|overview|tl ?;? ?dr)(?: of)?|describe|outline)"
               rf"(?: (?:it|this|that|(?:{_THE} )?{_DOC}(?: (?:about|on|of) (?P<rest>.+?))?))?(?: for me)?$"),
    re.compile(rf"^(?:what does|what do) (?:{_THE} )?(?:{_DOC}|it) (?:say|cover|talk about|discuss)$"),
    re.compile(rf"^(?:tell me )?what (?:is )?(?:{_THE} )?(?:{_DOC}) (?:is )?about$"),
    re.compile(rf"^(?:tl ?;? ?dr|overview|summary|gist)$"),
]


@dataclass(frozen=True)
class Intent:
    """What a question asks for when it is not a fact: ``kind`` is one of :data:`INTENTS`;
    ``rest`` is the words left that may say which document (``"summarise the report on X"``)."""

    kind: str
    rest: str = ""


def _shape(question: str) -> str:
    """The question reduced to its words: lowercase, punctuation and emoji gone, spaces single."""
    text = question.lower().replace("’", "'")
    text = re.sub(r"[^\w\s';]", " ", text)
    return " ".join(text.split())


def intent(question: str) -> Intent | None:
    """The question's intent when it is small talk or about a whole document; None for a
    question to answer from the text. Only whole-question shapes match, so "hello, who built
    the tower?" is a question, not a greeting."""
    shape = _shape(question)
    if not shape or len(shape) > 120:
        return None
    bare = re.sub(rf"^(?:{_POLITE} )+|(?: (?:please|pls|thanks|thank you))+$", "", shape)
    for form in dict.fromkeys(f for f in (shape, bare) if f):  # as typed, then without "please"/"thanks"
        for kind, pattern in (("greeting", _GREETING), ("thanks", _THANKS), ("help", _HELP)):
            if pattern.match(form):
                return Intent(kind)
        for pattern in _OVERVIEW:
            m = pattern.match(form)
            if m:
                return Intent("overview", (m.groupdict().get("rest") or "").strip())
    return None


def lead(passage: Passage, title: str, *, words: int = 25, most: int = 3) -> Span | None:
    """The document's opening sentences in its first passage (the title line left out), as
    one span of the passage: whole sentences until about ``words`` words, at most ``most``."""
    spans = [s for s in sentence_spans(passage.text)
             if _shape(passage.text[s.start:s.end]) != _shape(title)]
    if not spans:
        return None
    taken = []
    for span in spans[:most]:
        taken.append(span)
        if len(passage.text[taken[0].start:span.end].split()) >= words:
            break
    return Span(taken[0].start, taken[-1].end)


# A run of capitalised words (with "of", "de", ... inside), possibly hyphenated: a name.
_NAME = re.compile(r"\b[A-Z][\w'’-]*[a-z0-9][\w'’-]*(?: (?:(?:of|de|da|del|der|van|von|the|al|bin|la|le) )?"
                   r"[A-Z][\w'’-]*[a-z0-9][\w'’-]*)*")
# Capitalised because English capitalises them, not because they name something in the text.
_CALENDAR = frozenset("january february march april may june july august september october november december "
                      "monday tuesday wednesday thursday friday saturday sunday".split())
_POSSESSIVE = re.compile(r"['’]s?$")


def salient_names(corpus: Corpus, limit: int = 3) -> list[str]:
    """The names the documents use most (capitalised runs not merely starting a sentence):
    most frequent first, the ones a title already shows last, ties to longer names, then by
    first use."""
    found: list[tuple[str, int, bool]] = []  # (name, where, starts a sentence)
    at = 0
    for passage in corpus.passages:
        text = passage.text
        starts = {sp.start for sp in sentence_spans(text)}
        for m in _NAME.finditer(text):
            found.append((_POSSESSIVE.sub("", m.group()), at + m.start(), m.start() in starts))
        at += len(text) + 1
    inside = {name for name, _, initial in found if not initial}  # capitalised mid-sentence: a name
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for name, where, initial in found:
        if initial and name not in inside:  # "The", "In" ...: drop the sentence's first word, keep the rest
            parts = name.split(None, 1)
            if len(parts) < 2:
                continue
            name = parts[1]
        if len(name) < 3 or name.lower() in _CALENDAR:
            continue
        counts[name] += 1
        first.setdefault(name, where)
    # "Armenian" beside "Armenia": a word made from another name is an adjective, not a new name
    counts = Counter({n: c for n, c in counts.items()
                      if not any(n != m and n.startswith(m) and len(n) - len(m) <= 3 and " " not in n for m in counts)})
    titles = {_shape(d.title) for d in corpus.documents}
    title_words = {w for t in titles for w in t.split()}
    # a single word that only ever appears inside longer names ("Nikol" of "Nikol Pashinyan") is not its own name
    multi = [n for n in counts if " " in n]
    # names the titles already show come last: a starting point should lead somewhere new
    ranked = sorted((n for n in counts if _shape(n) not in titles),
                    key=lambda n: (set(_shape(n).split()) <= title_words, -counts[n], " " not in n, first[n]))
    chosen: list[str] = []
    for name in ranked:
        if any(name in c.split() or c in name.split() for c in chosen):
            continue
        if " " not in name and any(name in m.split() for m in multi) and \
                counts[name] <= sum(counts[m] for m in multi if name in m.split()):
            continue
        chosen.append(name)
        if len(chosen) >= limit:
            break
    return chosen


def starting_points(corpus: Corpus, limit: int = 4) -> list[str]:
    """Example questions for any corpus, from its documents' titles and most salient names."""
    docs = corpus.documents
    questions: list[str] = []
    if len(docs) == 1:
        questions.append("What is this document about?")
    else:
        questions += [f"What is “{_short(d.title)}” about?" for d in docs[:2]]
    questions += [f"What about {name}?" for name in salient_names(corpus, limit)]
    return questions[:limit]


def _short(title: str, words: int = 8) -> str:
    parts = title.split()
    return title if len(parts) <= words else " ".join(parts[:words]) + "…"


def greeting_text(kind: str, titles: Sequence[str]) -> str:
    """A kind reply to small talk that says what the service can do, for these documents."""
    if len(titles) == 1:
        what = f"“{titles[0]}”"
    else:
        shown = ", ".join(f"“{_short(t)}”" for t in titles[:3])
        what = f"{len(titles)} documents ({shown}{', …' if len(titles) > 3 else ''})"
    can = (f"Ask me anything about {what}: I answer with a sentence quoted from it, with its source, "
           "and say so when it does not answer. You can also ask what it is about.")
    opening = {"greeting": "Hello!", "thanks": "You're welcome!", "help": "I answer questions about documents."}
    return f"{opening.get(kind, 'Hello!')} {can}"
