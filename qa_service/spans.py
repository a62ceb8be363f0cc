"""Answer types and exact answer spans, by rules that hold for any English text.

:func:`answer_type` reads the kind of answer a question asks for from its question words;
:func:`find_span` looks in the chosen answer sentence for a candidate of that type that the
question does not already give, and returns nothing rather than a guess when there is none.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["ANSWER_TYPES", "Candidate", "MAX_SENTENCE", "acronym_pairs", "answer_type", "candidates", "find_span"]

# Longer "sentences" (a text without full stops) are not searched for spans: no rule is worth its cost there.
MAX_SENTENCE = 2000
ANSWER_TYPES = ("person", "organisation", "place", "date", "number", "money", "percentage", "definition",
                "reason", "manner", "yes_no", "other")

# ---------------------------------------------------------------- the question

_AUX = r"(?:is|are|was|were|do|does|did|can|could|has|have|had|will|would|should|shall|may|might|must)"
_QUESTION_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((t, re.compile(p, re.IGNORECASE)) for t, p in (
    ("definition", r"\bstand(?:s)? for\b|\bshort for\b|\babbreviat|\bacronym\b|\bfull (?:name|form)\b"
                   r"|\bwhat (?:does|did) (?:the )?\w+ mean\b"),
    ("percentage", r"\b(?:what|which) (?:percentage|percent|proportion|share)\b|\bhow many percent\b"),
    ("money", r"\bhow much (?:money|cash|funding|capital|revenue|income|profit|debt"
              r"|did \w+ (?:cost|pay|spend|owe|earn|raise)|does \w+ (?:cost|pay|owe|earn))"
              r"|\bhow much\b.*\b(?:cost|costs|pay|paid|owe|owes|owed|worth|price|spend|spent|earn|raise)\b"
              r"|\bwhat (?:was |is )?the (?:cost|price|fee|budget|salary|value)\b"),
    ("number", r"\bhow (?:many|much|long|old|far|tall|high|big|large|deep|wide|heavy|often)\b"
               r"|\bwhat (?:number|amount|quantity|size|population)\b"),
    ("date", r"\bwhen\b|\b(?:what|which) (?:year|date|day|month|century|decade|time|period|season)\b"
             r"|\bhow long ago\b|\bsince when\b"),
    ("reason", r"\bwhy\b|\bfor what reason\b|\bwhat (?:was |is )?the (?:reason|cause|motive)\b|\bwhat caused\b"
               r"|\bhow come\b"),
    ("person", r"\bwho\b|\bwhom\b|\bwhose\b|\b(?:what|which) (?:person|man|woman|leader|president|minister"
               r"|official|player|artist|author|singer|actor|king|queen)\b"),
    ("place", r"\bwhere\b|\b(?:what|which|in what|in which) (?:city|country|place|town|village|region|state"
              r"|continent|location|capital|province|island|area)\b"),
    ("organisation", r"\b(?:what|which) (?:company|organi[sz]ation|party|team|group|agency|firm|band|club"
                     r"|university|institution|alliance|bloc|union|ministry)\b"),
    ("manner", r"\bhow\b"),
    ("yes_no", rf"^\s*{_AUX}\b"),
    ("definition", r"^\s*what (?:is|are|was|were) (?:an? |the )?[\w-]+(?: [\w-]+)?\s*\??\s*$"),
))


def answer_type(question: str) -> str:
    """The kind of answer ``question`` asks for: one of :data:`ANSWER_TYPES`."""
    for kind, pattern in _QUESTION_RULES:
        if pattern.search(question):
            return kind
    return "other"


# ---------------------------------------------------------------- candidates in a sentence

_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
          r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?")
_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_NUMBER_WORD = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty"
                r"|hundred|thousand|million|billion|dozen|dozens|hundreds|thousands|millions)")
_NUM = r"\d+(?:[.,]\d+)*"
# Words that never name what a number counts ("250,000 into", "3 of"): not taken as its unit.
_FUNCTION_WORDS = (r"(?:of|and|the|in|on|at|to|into|onto|for|from|with|by|as|or|than|over|under|after|before"
                   r"|during|a|an|is|are|was|were|per|each|more|less|who|which|that|when|while|since|until)")
_SCALE = r"(?:\s(?:million|billion|trillion|thousand|hundred)|[kmb]n?\b)?"
_SPAN_RULES: dict[str, re.Pattern[str]] = {
    "date": re.compile(
        rf"\b(?:(?:{_DAY},?\s)?{_MONTH}\s\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s\d{{4}})?"
        rf"|\d{{1,2}}(?:st|nd|rd|th)?\s(?:of\s)?{_MONTH}(?:,?\s\d{{4}})?"
        rf"|{_MONTH}\s\d{{4}}|(?:1[0-9]|20)\d\d(?:\s?[-–]\s?(?:1[0-9]|20)?\d\d)?s?|{_DAY}|{_MONTH}"
        rf"|the\s(?:(?:1[0-9]|20)\d0s|\w+\scentury))\b"),
    "money": re.compile(rf"(?:\b(?:US|A|C|NZ|HK)?[$€£¥]\s?{_NUM}{_SCALE}|(?:\b(?:USD|EUR|GBP)\s)?\b{_NUM}{_SCALE}"
                        rf"\s(?:dollars|euros|pounds|yen|yuan|rubles|roubles|cents|USD|EUR|GBP)\b)"),
    "percentage": re.compile(rf"\b{_NUM}\s?(?:%|percent\b|per cent\b)"),
    "number": re.compile(rf"(?:[$€£¥]\s?)?\b(?:{_NUM}{_SCALE}|{_NUMBER_WORD}(?:[\s-]{_NUMBER_WORD})*)"
                         rf"(?:\s(?!{_FUNCTION_WORDS}\b)[a-z]+)?\b"),
    "reason": re.compile(r"\b(?:because(?:\sof)?|due\sto|owing\sto|as\sa\sresult\sof|thanks\sto|since|in\sresponse\sto"
                         r"|in\sprotest\sat|amid|over)\s[^.;:!?]+", re.IGNORECASE),
    "manner": re.compile(r"\b(?:by|through|using|via)\s[^.;:!?,]+", re.IGNORECASE),
}
# A run of capitalised words (with inner "of", "the", "de", hyphens and apostrophes): a name.
_NAME = re.compile(r"\b(?:[A-Z][\w'’-]*[\w])(?:\s(?:(?:of|the|de|van|von|al|del|la|and)\s)?[A-Z][\w'’-]*[\w])*")
_ORGANISATION_WORDS = re.compile(
    r"\b(?:Ministry|Organi[sz]ation|Company|Party|Union|Council|Committee|Agency|Bank|University|Corporation"
    r"|Inc|Ltd|Group|Association|Treaty|Alliance|Institute|Department|Office|Commission|Federation|League"
    r"|Society|Foundation|Parliament|Assembly|Court|Army|Navy|Police|Airlines|News|Times|Post)\b")
_ACRONYM_AFTER = re.compile(r"((?:[A-Z][\w'’-]*\s(?:(?:of|the|for|and|on|in)\s)*){1,8}[A-Z][\w'’-]*)\s\(([A-Z]{2,10})\)")
_ACRONYM_BEFORE = re.compile(r"\b([A-Z]{2,10})\s\(((?:[A-Z][\w'’-]*\s(?:(?:of|the|for|and|on|in)\s)*){1,8}"
                             r"[A-Z][\w'’-]*)\)")
_FIRST_WORDS = frozenset("a an the this that these those it its he she they we i in on at by for from as but and or so "
                         "if when while after before since during however meanwhile".split())


_CALENDAR = re.compile(rf"{_MONTH}|{_DAY}")
_YEAR = re.compile(r"(?:1[0-9]|20)\d\d")


class Candidate(NamedTuple):
    """A span of a sentence that could be the answer: its type and where it is."""

    type: str
    start: int
    end: int
    text: str


def _names(sentence: str) -> list[Candidate]:
    out = []
    for m in _NAME.finditer(sentence):
        start, text = m.start(), m.group()
        first, _, rest = text.partition(" ")
        if start == 0 and first.lower() in _FIRST_WORDS:  # "The Council" at the start: drop "The"
            if not rest:
                continue
            start, text = start + len(first) + 1, rest
        head, dash, tail = text.partition("-")
        if dash and tail[:1].islower():  # "Japan-exclusive", "Moscow-led": the name is the first part
            text = head
        text = re.sub(r"(?:['’]s|['’])$", "", text)  # "Chopin's" names Chopin
        if len(text) < 2 or _CALENDAR.fullmatch(text):  # a month or a day is a date, not a name
            continue
        kind = "organisation" if _ORGANISATION_WORDS.search(text) else "name"
        out.append(Candidate(kind, start, start + len(text), text))
    return out


def _definitions(sentence: str) -> list[Candidate]:
    """Long forms of acronyms defined in the sentence, trimmed to the words whose initials
    spell the acronym ("Moscow-led Collective Security Treaty Organization (CSTO)")."""
    out = []
    for m in _ACRONYM_AFTER.finditer(sentence):
        start, text = _trimmed(m.group(2), m.start(1), m.group(1))
        out.append(Candidate("definition", start, start + len(text), text))
    for m in _ACRONYM_BEFORE.finditer(sentence):
        out.append(Candidate("definition", m.start(2), m.end(2), m.group(2)))
    return out


def _trimmed(short: str, start: int, long: str) -> tuple[int, str]:
    """Drop leading words of ``long`` while its initials hold more than ``short`` asks for."""
    while " " in long and _initials(long).upper() != short.upper():
        first, _, rest = long.partition(" ")
        if not _initials_match(short, rest):
            break
        start, long = start + len(first) + 1, rest
    return start, long


def _initials(long: str) -> str:
    return "".join(w[0] for w in re.findall(r"[A-Z][\w'’-]*", long))


def _initials_match(short: str, long: str) -> bool:
    """Whether the capitals of ``long`` spell ``short`` (words like "of" may be skipped)."""
    initials = _initials(long)
    return bool(short) and (initials.upper() == short.upper() or short.upper() in initials.upper())


def candidates(sentence: str, kind: str) -> list[Candidate]:
    """Every span of ``sentence`` that could answer a question of type ``kind``, in reading order."""
    if kind in ("person", "place"):
        found = [c._replace(type=kind) for c in _names(sentence) if c.type == "name"]
    elif kind == "organisation":
        names = _names(sentence)
        found = [c for c in names if c.type == "organisation"] or [c._replace(type=kind) for c in names]
    elif kind == "definition":
        found = [c for c in _definitions(sentence)
                 if _initials_match(*_pair(sentence, c))]
    elif kind in _SPAN_RULES:
        found = [Candidate(kind, m.start(), m.end(), m.group().rstrip(" ,")) for m in _SPAN_RULES[kind].finditer(sentence)]
        if kind == "number":  # a bare year answers "when", not "how many"
            found = [c for c in found if not _YEAR.fullmatch(c.text.split()[0])]
        if kind == "money" and not found:  # "how much cash ...": an amount without its currency
            found = [c._replace(type=kind) for c in candidates(sentence, "number")]
    else:
        return []
    return sorted(found, key=lambda c: (c.start, -c.end))


def _pair(sentence: str, candidate: Candidate) -> tuple[str, str]:
    """(acronym, long form) of a definition candidate."""
    after = sentence[candidate.end :]
    m = re.match(r"\s\(([A-Z]{2,10})\)", after)
    if m:
        return m.group(1), candidate.text
    before = sentence[: candidate.start]
    m = re.search(r"\b([A-Z]{2,10})\s\($", before)
    return (m.group(1) if m else ""), candidate.text


def _digits(text: str) -> set[str]:
    """The numbers written in digits in ``text`` ("1,845 saw" -> {"1845"})."""
    return {n.replace(",", "") for n in re.findall(r"\d[\d,.]*\d|\d", text)}


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[\w$€£%]+", text.casefold()))


def find_span(sentence: str, question: str, kind: str) -> Candidate | None:
    """The candidate of type ``kind`` in ``sentence`` that the question does not already give
    (offsets in ``sentence``), the one nearest the words it shares with the question; None when
    there is no such candidate: no span is better than a wrong one."""
    if len(sentence) > MAX_SENTENCE:
        return None
    asked = _norm(question)
    words = set(asked.split())
    given = _digits(question)  # numbers the question already says
    found = [c for c in candidates(sentence, kind)
             if _norm(c.text) and _norm(c.text) not in asked and not set(_norm(c.text).split()) <= words
             and not (c.type in ("number", "money", "percentage") and _digits(c.text) & given)]
    if kind == "definition":
        acronym = [w for w in re.findall(r"\b[A-Z]{2,10}\b", question)]
        found = [c for c in found if _pair(sentence, c)[0] in acronym] if acronym else found
    if not found:
        return None
    anchors = [(m.start(), m.end()) for m in re.finditer(r"\w+", sentence)
               if m.group().casefold() in words and len(m.group()) > 3]
    if not anchors:
        return found[0]

    def gap(c: Candidate) -> int:  # characters between the candidate and the nearest question word
        return min(max(a_start - c.end, c.start - a_end, 0) for a_start, a_end in anchors)

    return min(found, key=lambda c: (gap(c), c.start))


def acronym_pairs(text: str) -> list[tuple[str, str]]:
    """Every acronym ``text`` defines, with its long form: "the World Health Organization (WHO)"
    and "WHO (World Health Organization)" both give ("WHO", "World Health Organization")."""
    if len(text) > MAX_SENTENCE * 50:
        return []
    pairs = []
    for c in candidates(text, "definition"):
        short, long = _pair(text, c)
        long = re.sub(r"^(?:(?:of|the|for|and|on|in)\s)+", "", long)  # "of the World Health Organization (WHO)"
        if short and long:
            pairs.append((short, long))
    return pairs
