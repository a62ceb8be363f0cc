"""Answer types and exact answer spans, by rules that hold for any English text.

:func:`answer_type` reads the kind of answer a question asks for from its question words;
:func:`find_span` looks in the chosen answer sentence for a candidate of that type that the
question does not already give, and returns nothing rather than a guess when there is none.

Candidates are placed by aligning the question's content words with the sentence's (accents and
inflections aside): the one nearest them wins, with a few general preferences (a full name for
"who", a name after the question's own preposition or after "at/in/to" for "where", the number
of the thing counted). Open "what/which" questions get the phrase right next to the word naming
what is asked ("which magazine ...?" -> "Forbes magazine"), and nothing otherwise.
``training/measure_spans.py`` measures every rule on oracle sentences of the SQuAD 2.0 subset.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

import wordfreq

__all__ = ["ANSWER_TYPES", "Candidate", "FIGURE_TYPES", "MAX_SENTENCE", "SPAN_FEATURES", "acronym_pairs", "answer_type", "candidates",
           "answers_yes_or_no", "asks_year", "counts_things", "find_span", "fits_question", "has_year", "is_sum", "one_figure", "span_candidates"]

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
    ("reason", r"\bwhy\b|\bfor what reason\b|\bwhat (?:was |is )?the (?:reason|cause|motive)\b"
               r"|\bwhat (?:caused|prompted|triggered|sparked|led to)\b|\bhow come\b"),
    ("person", r"\bwho\b|\bwhom\b|\bwhose\b|\b(?:what|which) (?:person|man|woman|leader|president|minister"
               r"|official|player|artist|author|singer|actor|king|queen)\b"),
    ("place", r"\bwhere\b|\b(?:what|which|in what|in which) (?:city|country|place|town|village|region|state"
              r"|continent|location|capital|province|island|area)\b"),
    ("organisation", r"\b(?:what|which) (?:company|organi[sz]ation|party|team|group|agency|firm|band|club"
                     r"|university|institution|alliance|bloc|union|ministry)\b"),
    ("manner", r"\bhow\b"),
    ("yes_no", rf"^\s*(?:(?:and|but|so|then|also|well)\b[,\s]*)?{_AUX}\b"),
    ("definition", r"^\s*what (?:is|are|was|were) (?:an? |the )?[\w-]+(?: [\w-]+)?\s*\??\s*$"),
))


def answer_type(question: str) -> str:
    """The kind of answer ``question`` asks for: one of :data:`ANSWER_TYPES`."""
    for kind, pattern in _QUESTION_RULES:
        m = pattern.search(question)
        if m and not (kind == "date" and m.group().casefold() == "when" and _SUBORDINATE_WHEN.search(question)):
            return kind
    return "other"


# "What did she study when she lived in Paris?": a "when" after another question word opens a clause.
_SUBORDINATE_WHEN = re.compile(r"\b(?:what|which|who|whom|whose|where|why|how)\b.*\bwhen\b", re.IGNORECASE)


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
        rf"\b(?:(?:the\s)?(?:early|late|mid|middle)[\s-](?:(?:1[0-9]|20)\d\d)s?"
        rf"|(?:spring|summer|autumn|fall|winter)\s(?:of\s)?(?:1[0-9]|20)\d\d"
        rf"|(?:{_DAY},?\s)?{_MONTH}\s\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s\d{{4}})?"
        rf"|\d{{1,2}}(?:st|nd|rd|th)?\s(?:of\s)?{_MONTH}(?:,?\s\d{{4}})?"
        rf"|{_MONTH}\s\d{{4}}|(?:1[0-9]|20)\d\d(?:\s?[-–]\s?(?:1[0-9]|20)?\d\d)?s?|{_DAY}|{_MONTH}"
        rf"|the\s(?:(?:1[0-9]|20)\d0s|\w+\scentury))\b"),
    "money": re.compile(rf"(?:(?:\b(?:US|A|C|NZ|HK))?[$€£¥]\s?{_NUM}{_SCALE}|(?:\b(?:USD|EUR|GBP)\s)?\b{_NUM}{_SCALE}"
                        rf"\s(?:dollars|euros|pounds|yen|yuan|rubles|roubles|cents|USD|EUR|GBP)\b)"),
    "percentage": re.compile(rf"\b{_NUM}\s?(?:%|percent\b|per cent\b)"),
    "number": re.compile(rf"(?:[$€£¥]\s?)?\b(?:{_NUM}{_SCALE}|(?i:{_NUMBER_WORD})(?:[\s-]{_NUMBER_WORD})*)"
                         rf"(?:\s(?!{_FUNCTION_WORDS}\b)[a-z]+)?\b"),
    "reason": re.compile(rf"\b(?:because(?:\sof)?|due\sto|owing\sto|as\sa\sresult\sof|thanks\sto|since|in\sresponse\sto"
                         rf"|in\sprotest\sat|amid|over|in\sorder\sto|so\sas\sto|so\sthat|for\sfear\sof|in\san\seffort\sto"
                         rf"|(?:after|following)(?!\s(?:the\s)?(?:\d|{_MONTH}|{_DAY})))\s[^.,;:!?()]+", re.IGNORECASE),
    # "by digging a tunnel", "by means of", "using a ladder": not "by" an agent ("written by Smith")
    "manner": re.compile(r"\b(?:by\s(?=\w+ing\b|means\sof\b)|through\s|using\s|via\s|with\sthe\shelp\sof\s)[^.;:!?,()]+",
                         re.IGNORECASE),
}
# A run of capitalised words (with inner "of", "the", "de", hyphens and apostrophes): a name.
_UPPER = "[" + "".join(c for c in map(chr, range(0x41, 0x250)) if c.isupper()) + "]"  # A-Z, À, Ł, Ż, ...
_NAME = re.compile(rf"\b(?:{_UPPER}[\w'’-]*[\w])"
                   rf"(?:\s(?:(?:of|the|de|van|von|al|del|la|and)\s)?{_UPPER}(?:[\w'’-]*[\w])?)*")
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


@lru_cache(maxsize=1024)
def _names(sentence: str) -> tuple[Candidate, ...]:
    """Capitalised name sequences of ``sentence`` (cached: every answer type of a sentence asks)."""
    out = []
    quotes = _quotes(sentence)
    for m in _NAME.finditer(sentence):
        start, text = m.start(), m.group()
        first, _, rest = text.partition(" ")
        if _opens(sentence, start) and (first.lower() in _FIRST_WORDS or common_word(first)):
            # "The Council", "According", "Despite Smith" at the start: the first word is no name
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
        if any(a < start < b for a, b in quotes):  # "Crazy in Love" is a title, not a person or a place
            kind = "title"
        out.append(Candidate(kind, start, start + len(text), text))
    return tuple(out)


def _opens(sentence: str, start: int) -> bool:
    """Whether ``start`` begins the sentence (opening quotes and brackets aside)."""
    return start <= 3 and not sentence[:start].strip(" \"'“‘([")


# Languages whose word frequencies tell a common English word ("According", "Despite", "Her")
# from a name ("London", "Paris", "Google"): names are about as frequent in all of them. Their
# small word lists (words of Zipf >= 3) are enough and cost 11 MB and 0.1 s to load, not 195 MB.
_OTHER_LANGUAGES = ("de", "fr", "es", "it", "nl")


@lru_cache(maxsize=8192)
def common_word(word: str) -> bool:
    """Whether ``word`` is a common English word rather than a name: frequent in English
    (wordfreq's Zipf >= 3.5) and far rarer (1.5 Zipf, about 30x) in most other European languages."""
    w = word.casefold()
    english = wordfreq.zipf_frequency(w, "en")
    if english < 3.5:
        return False
    # a word missing from a small list is rarer than Zipf 3 there: counted as 2.5 ("Lisbon" is "Lissabon" in German)
    others = sorted(max(2.5, wordfreq.zipf_frequency(w, language, wordlist="small")) for language in _OTHER_LANGUAGES)
    return english - others[len(others) // 2] >= 1.5


def _quotes(sentence: str) -> list[tuple[int, int]]:
    """Where the quoted passages of ``sentence`` are (between paired double quotes)."""
    return [(m.start(), m.end()) for m in re.finditer(r"[\"“][^\"“”]{1,200}[\"”]", sentence)]


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
        found = [c for c in names if c.type == "organisation"] or [c._replace(type=kind) for c in names
                                                                    if c.type == "name"]
    elif kind == "definition":
        found = [c for c in _definitions(sentence)
                 if _initials_match(*_pair(sentence, c))]
    elif kind in _SPAN_RULES:
        found = [Candidate(kind, m.start(), m.end(), m.group().rstrip(" ,")) for m in _SPAN_RULES[kind].finditer(sentence)]
        if kind == "number":  # a bare year answers "when", not "how many"; nor does "12" in "June 12"
            dates = [(m.start(), m.end()) for m in _SPAN_RULES["date"].finditer(sentence)
                     if not _YEAR.fullmatch(m.group())]
            found = [c for c in found if not _YEAR.fullmatch(c.text.split()[0])
                     and not any(a < c.end and c.start < b for a, b in dates)]
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


_ASKED_ACRONYM = re.compile(r"\b(?:[A-Z]\.){2,10}|\b[A-Z]{2,10}\b")


def _spelled_out(sentence: str, question: str) -> Candidate | None:
    """The words an acronym of the question stands for, when the formal pattern is not there:
    "the artificial intelligence (AI)", "the New York City Police Department (NYPD)" (its letters in
    order among the initials, the first one first), or a name whose initials spell it ("Blue Ivy
    Carter" for "B.I.C.")."""
    for raw in _ASKED_ACRONYM.findall(question):
        short = raw.replace(".", "")
        if len(short) < 2:
            continue
        for m in re.finditer(rf"\(\s*{re.escape(raw)}\b", sentence):
            words = list(_WORD.finditer(sentence[: m.start()]))[-(len(short) + 3):]
            for k in range(len(short), len(words) + 1):  # the fewest words that spell it
                window = words[-k:]
                initials = "".join(w.group()[0].upper() for w in window)
                if initials[0] == short[0] and _in_order(short, initials) and window[0].group().casefold() not in _STOP:
                    start, end = window[0].start(), window[-1].end()
                    return Candidate("definition", start, end, sentence[start:end])
        for name in _names(sentence):
            if "".join(w[0] for w in name.text.split() if w[0].isupper()) == short:
                return name
    return None


def _in_order(short: str, initials: str) -> bool:
    """Whether the letters of ``short`` appear in ``initials`` in order."""
    rest = iter(initials)
    return all(letter in rest for letter in short)


def _digits(text: str) -> set[str]:
    """The numbers written in digits in ``text`` ("1,845 saw" -> {"1845"})."""
    return {n.replace(",", "") for n in re.findall(r"\d[\d,.]*\d|\d", text)}


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[\w$€£%]+", _fold(text)))


@lru_cache(maxsize=65536)
def _fold(text: str) -> str:
    """Lower case without accents ("Beyoncé" and "Beyonce" are one word)."""
    if text.isascii():
        return text.lower()
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


# ---------------------------------------------------------------- where the question's words are

_WORD = re.compile(r"\w+(?:(?:['’&.-]|,(?=\d\d\d\b))\w+)*")
# Function words and question words: they say nothing about where in a sentence the answer is.
_STOP = frozenset("""a an the of in on at to into onto for from with by as or and but nor than then so if
    is are was were be been being am do does did done doing has have had having will would shall should can could
    may might must what which who whom whose when where why how whatever whichever that this these those there
    it its it's he him his she her hers they them their theirs we us our you your i me my mine one ones
    not no yes also very more most much many some any all each other another such only just about over under
    after before during since until while between among against through upon within without up down out off
    s name named called kind type sort""".split())


def _same(a: str, b: str) -> bool:
    """Whether two folded words are one word, inflections aside ("married" ~ "marry", "sold" !~ "sell")."""
    if a == b:
        return True
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n >= 4 and n >= max(len(a), len(b)) - 3


class _Aligned(NamedTuple):
    """The words of a sentence (offsets) and which of them the question also says."""

    words: list[tuple[int, int, str]]  # start, end, folded text
    anchors: list[int]  # numbers of the words the question shares (content words only)
    asked: list[str]  # the question's content words, folded
    found: int  # how many of them the sentence holds
    names: frozenset[str]  # the question's words written with a capital (not its first word)


@lru_cache(maxsize=256)
def _question_words(question: str) -> tuple[list[str], dict[str, list[str]], frozenset[str]]:
    """The question's content words (folded), the same by their first four letters, and those
    written with a capital (not its first word). Read-only: cached for the sentences of one question."""
    asked = list(dict.fromkeys(w for w in (_fold(m.group()) for m in _WORD.finditer(question)) if w not in _STOP))
    by_start: dict[str, list[str]] = {}  # words that can be one word start alike
    for q in asked:
        by_start.setdefault(q[:4], []).append(q)
    names = frozenset(_fold(m.group()) for m in _WORD.finditer(question) if m.start() > 0 and m.group()[0].isupper())
    return asked, by_start, names


def _align(sentence: str, question: str) -> _Aligned:
    asked, by_start, names = _question_words(question)
    words = [(m.start(), m.end(), _fold(m.group())) for m in _WORD.finditer(sentence)]
    anchors, hit = [], set()
    for i, (_, _, w) in enumerate(words):
        if w in _STOP:
            continue
        for q in by_start.get(w[:4], ()):
            if _same(w, q):
                anchors.append(i)
                hit.add(q)
                break
    return _Aligned(words, anchors, asked, len(hit), names)


def _word_range(aligned: _Aligned, start: int, end: int) -> tuple[int, int]:
    """The numbers of the first and last words inside [start, end)."""
    inside = [i for i, (s, e, _) in enumerate(aligned.words) if s >= start and e <= end]
    return (inside[0], inside[-1]) if inside else (-1, -1)


def _distance(aligned: _Aligned, c: Candidate) -> int:
    """Words between the candidate and the nearest word the question shares (outside it)."""
    first, last = _word_range(aligned, c.start, c.end)
    if first < 0:
        return 1000
    gaps = [first - a - 1 if a < first else a - last - 1 for a in aligned.anchors if a < first or a > last]
    return min(gaps, default=1000)


def _overlaps_question(aligned: _Aligned, c: Candidate) -> bool:
    """Whether the candidate mostly restates the question: more than half of its content words
    are the question's, or half with one of them a name the question writes with a capital
    ("Jan Novak" restates "where was Novak born?"; "University of Washington" does not restate
    "which university")."""
    words = [w for w in (_fold(m.group()) for m in _WORD.finditer(c.text)) if w not in _STOP]
    if not words:
        return True
    said = [any(_same(w, q) for q in aligned.asked) for w in words]
    named = any(s and any(_same(w, q) for q in aligned.names) for w, s in zip(words, said))
    return sum(said) * 2 > len(said) or (named and sum(said) * 2 == len(said))


# "How many ...?" counts things; a sum of money does not answer it unless the things are money
# ("how many dollars"). On the SQuAD 2.0 subset, 1 of 431 answerable "how many" questions has a sum
# as its answer.
_COUNTS = re.compile(r"\bhow\s+many\b(?!\s+(?:\w+\s+){0,2}(?:dollars|euros|pounds|yen|yuan|rubles|roubles|cents|francs"
                     r"|rupees|pesos|marks|crowns|shillings|currency)\b)", re.IGNORECASE)
_SUM = re.compile(r"[$€£¥]|\b(?:dollars|euros|pounds|yen|yuan|rubles|roubles|cents|USD|EUR|GBP)\b")


def counts_things(question: str) -> bool:
    """Whether ``question`` asks how many of something that is not money there are."""
    return _COUNTS.search(question) is not None


def is_sum(text: str) -> bool:
    """Whether ``text`` is (or holds) a sum of money: a currency sign or a currency's name."""
    return _SUM.search(text) is not None


# A reason says something: it holds a lowercase word (so do all 45 of SQuAD 2.0's answers to reason questions).
_REASON_WORD = re.compile(r"\b[a-z]{2,}\b")
_CHOICE = re.compile(r"\bor\b", re.IGNORECASE)


def answers_yes_or_no(text: str, question: str, kind: str) -> bool:
    """Whether ``text`` can stand as the answer to a yes/no question: when the question offers a
    choice ("active or passive?") the chosen word does; otherwise only words that say something
    ("not", "no consensus", SQuAD 2.0's answers), never a bare name ("Did the council approve
    it?" is not answered by "Oslo"). True for every other kind of question."""
    return kind != "yes_no" or bool(_CHOICE.search(question)) or bool(_REASON_WORD.search(text))


def fits_question(text: str, question: str, kind: str) -> bool:
    """Whether ``text``, a span of type ``kind``, can answer ``question`` as asked: not a sum of
    money for "how many ...?" (:func:`counts_things`), not a date without a year for "in what year
    ...?" (:func:`asks_year`), not a bare name or number for "why ...?", not a phrase holding a
    number standing alone for "who ...?", not words whose initials
    lack a letter of the acronym "what does X stand for?" asks about (:func:`spells_asked_acronym`). Checked for the rules'
    spans and the reader's alike, and for the reader's when it weighs a sentence."""
    if kind == "number" and counts_things(question) and (is_sum(text) or _NUMBERED_NAME.fullmatch(text.strip())):
        return False  # "how many missions landed?" is not answered by "$5" nor by "Apollo 20"
    if kind == "reason" and not _REASON_WORD.search(text):
        return False  # "why ...?" is not answered by a bare name or number ("Minsk", "2019")
    if kind == "person" and _CARDINAL.search(text):
        return False  # "who was on it?" is not answered by "Apollo 8" (no answer to the subset's 692 "who" questions is)
    if kind == "definition" and not spells_asked_acronym(text, question):
        return False  # "what does NASA stand for?" is not answered by "alone in sending missions"
    return not (kind == "date" and asks_year(question) and not has_year(text))


# A name with its number ("Apollo 20", "Boeing 747", "Windows 10"): not how many of something there are. A
# capitalised quantifier before a number counts ("Over 3,000", "Between 64 and 104": the subset's gold answers).
_QUANTIFIERS = (r"(?:over|under|about|around|nearly|almost|approximately|roughly|some|more|fewer|less|at|up|between"
                r"|only|just|exactly|no|all|circa|ca|estimated|an|a|the|another|well|barely|close|top|total|by)")
_NUMBERED_NAME = re.compile(rf"(?!(?i:{_QUANTIFIERS})\b)[A-Z][\w'’-]*(?:\s[A-Z][\w'’-]*)*\s\d+[A-Za-z]?")


# A number standing alone ("Apollo 8", "in 1990"), not an ordinal ("the 5th Dalai Lama") or part of a name ("G7").
_CARDINAL = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?![\w.,]*\w)")


# ", 12.83" closing a span that already holds a figure: the start of the next one ("11.42 feet tall, 12.83 feet
# wide" read as "11.42 feet tall, 12.83"). A date's ", 2008" is its year: dates are left as they are.
_NEXT_FIGURE = re.compile(r",\s+(?:and\s+)?[$€£¥]?\d[\d.,]*\s*$")


def one_figure(text: str, kind: str) -> str:
    """``text`` (a span answering a question of type ``kind``) without the start of a next figure
    after a comma, for a number, sum or percentage: "11.42 feet (3.48 m) tall, 12.83" is "11.42 feet
    (3.48 m) tall". No gold answer to the subset's or ExpMRC's number questions ends so."""
    if kind not in ("number", "money", "percentage"):
        return text
    m = _NEXT_FIGURE.search(text)
    return text[: m.start()] if m and re.search(r"\d", text[: m.start()]) else text


def spells_asked_acronym(text: str, question: str) -> bool:
    """Whether ``text`` could be what the acronym a question asks about stands for: every letter of
    it begins a word of ``text`` (in any order: "New York City Fire Department" for FDNY; a word
    in capitals gives each of its leading capitals: "SPecial" gives S and P). True when the
    question names no acronym ("what is a solar chimney?")."""
    asked = [raw.replace(".", "") for raw in _ASKED_ACRONYM.findall(question)]
    asked = [a for a in asked if len(a) >= 2]
    if not asked:
        return True
    initials: set[str] = set()
    for word in re.findall(r"[^\W\d_]+", text):
        initials.add(word[0].upper())
        initials.update(re.match(r"[A-Z]*", word).group())  # type: ignore[union-attr]
    return any(set(a.upper()) <= initials for a in asked)


def find_span(sentence: str, question: str, kind: str) -> Candidate | None:
    """The candidate of type ``kind`` in ``sentence`` that the question does not already give
    (offsets in ``sentence``), the one nearest the words it shares with the question; None when
    there is no such candidate: no span is better than a wrong one."""
    if len(sentence) > MAX_SENTENCE:
        return None
    if kind == "other":
        return _other(sentence, question)
    if kind == "manner" and _ASKS_WORDS.search(question):  # "how did the critic describe it?": the words quoted
        aligned = _align(sentence, question)
        quoted = [c for c in _quoted_titles(sentence, 12) if not _overlaps_question(aligned, c)]
        if quoted and aligned.anchors:
            c = min(quoted, key=lambda c: _distance(aligned, c))
            return c._replace(type="manner")
    asked = _norm(question)
    words = set(asked.split())
    given = _digits(question)  # numbers the question already says
    found = [c for c in candidates(sentence, kind)
             if _norm(c.text) and _norm(c.text) not in asked and not set(_norm(c.text).split()) <= words
             and not (c.type in ("number", "money", "percentage") and _digits(c.text) & given)
             and fits_question(c.text, question, kind)]  # "how many people?" is not answered by "$598,000"
    if kind == "definition":
        acronym = [w for w in re.findall(r"\b[A-Z]{2,10}\b", question)]
        found = [c for c in found if _pair(sentence, c)[0] in acronym] if acronym else found
        if not found:
            spelled = _spelled_out(sentence, question)
            return spelled._replace(type="definition") if spelled else None
    if not found:
        return None
    if kind == "date" and asks_year(question):  # "in what year ...?": "2010" of "January 2010"
        found = [_year_only(c) for c in found]
    aligned = _align(sentence, question)
    if kind in ("person", "place", "organisation"):
        found = [c for c in found if not _overlaps_question(aligned, c)]
    if kind in ("number", "money"):
        counted = [_without_asked_unit(c, aligned) for c in found]
        units = {c.start for c, whole in zip(counted, found) if c != whole}  # "541,000 copies" for "how many copies"
        found = counted
    else:
        units = set()
    if not found:
        return None
    if not aligned.anchors:
        return found[0]
    dated = kind == "date" and re.search(r"\bdate\b", question, re.IGNORECASE) is not None
    cue = _cue_words(question)

    def rank(c: Candidate) -> tuple[int, ...]:
        before = _LAST_WORD.search(sentence[max(0, c.start - 40) : c.start])
        prior = _fold(before.group(1)) if before is not None else ""
        cued = (kind == "person" and prior in cue) or (kind == "place" and prior in _LOCATIVE)  # "toured with X", "at X"
        single = kind == "person" and " " not in c.text  # people are mostly named in full
        specific = dated and bool(re.search(r"\d", c.text))  # "on what date": a day, not "Sunday"
        return (-int(specific), -int(cued), -int(c.start in units), _distance(aligned, c) + PERSON_SINGLE * single,
                c.start)

    return min(found, key=rank)


_ASKS_YEAR = re.compile(r"\b(?:what|which)\s+year\b|\byear\s+(?:did|was|were|is|does)\b", re.IGNORECASE)
_HAS_YEAR = re.compile(r"\b(?:1[0-9]|20)\d\d\b")


def asks_year(question: str) -> bool:
    """Whether ``question`` asks for a year ("in what year ...?", "which year was ...?"). On the
    SQuAD 2.0 subset every answerable question asking so has a year in its gold answer (200 of 200)."""
    return _ASKS_YEAR.search(question) is not None


def has_year(text: str) -> bool:
    """Whether ``text`` names a year written in digits (1000-2099)."""
    return _HAS_YEAR.search(text) is not None


def _year_only(c: Candidate) -> Candidate:
    m = re.search(r"\b(?:1[0-9]|20)\d\d\b", c.text)
    if m is None or m.group() == c.text:
        return c
    return c._replace(start=c.start + m.start(), end=c.start + m.end(), text=m.group())


_LAST_WORD = re.compile(r"(\w+)\W*$")
# A one-word name is this many words further from the question's words, for "who" questions.
PERSON_SINGLE = 3
_CUES = frozenset("with to by from for against at in".split())
# Words before a place: "at Lenox Hill Hospital", "moved to Lisbon".
_LOCATIVE = frozenset("in at to from near into outside inside on across throughout".split())


def _cue_words(question: str) -> frozenset[str]:
    """Prepositions the question ends a verb with ("who did she tour with?"): the answer follows the same one."""
    return frozenset(w for w in (_fold(m.group()) for m in _WORD.finditer(question)) if w in _CUES)


def _without_asked_unit(c: Candidate, aligned: _Aligned) -> Candidate:
    """"118 million records" answers "how many records ...?" as "118 million"."""
    head, _, unit = c.text.rpartition(" ")
    if head and re.search(r"\d|" + _NUMBER_WORD, head, re.IGNORECASE) and unit[:1].islower() \
            and any(_same(_fold(unit), q) for q in aligned.asked):
        return c._replace(end=c.start + len(head), text=head)
    return c


# Between two words, any of these ends a phrase.
_BREAK = re.compile(r"[,;:()\[\]\"“”—–!?]|\s-\s")
# Words that open a new clause: a phrase that answers stops before them.
_CLAUSE = frozenset("""which who whom whose that where when while because although though whereas if unless
    and but or so as after before since until is are was were be been has have had will would can could
    do does did""".split())
# At most this many words in an answer phrase to an open question.
MAX_PHRASE = 6


def _phrases(sentence: str, aligned: _Aligned) -> list[tuple[int, int]]:
    """Runs of words the question does not say, cut at punctuation and at words opening a
    clause, without function words at either end: (first word, last word)."""
    words, anchored = aligned.words, set(aligned.anchors)
    out: list[tuple[int, int]] = []
    run: list[int] = []

    def close() -> None:
        while run and run[0] < len(words) and words[run[0]][2] in _STOP:
            run.pop(0)
        while run and words[run[-1]][2] in _STOP:
            run.pop()
        if run:
            out.append((run[0], run[-1]))
        run.clear()

    for i, (start, _, w) in enumerate(words):
        between = sentence[words[i - 1][1] : start] if i else " "
        if between != " " and _BREAK.search(between):
            close()
        if i in anchored or w in _CLAUSE:
            close()
            continue
        run.append(i)
    close()
    return out


_HEAD = re.compile(r"\b(?:what|which)\s+(?P<copula>(?:is|was|are|were)\s+(?:the|an?|\w+['’]s)\s+"
                   r"(?:(?:first|last|main|only|new|old|full|official|original|current|second|third|largest|biggest"
                   r"|most|best)\s+)?)?"
                   r"(?:(?:kind|type|sort|form|part|name)s?\s+of\s+(?:the\s+|a\s+|an\s+)?)?"
                   r"([\w&'’-]+)(?:\s+([\w&'’-]+))?", re.IGNORECASE)


def _heads(question: str) -> tuple[list[str], bool]:
    """The words naming what an open question asks for ("which Acadian leader" -> acadian, leader),
    and whether they follow a copula ("what is the largest park ...?")."""
    m = _HEAD.search(question)
    if not m:
        return [], False
    out = []
    for w in m.groups()[1:]:
        if w is None or _fold(w) in _STOP or _fold(w) in _CLAUSE:
            break
        if not re.search(r"['’]s?$", w):  # "Chopin's" is whose, not what
            out.append(_fold(w))
    return out, m.group("copula") is not None


# "known as X", "called X": the name something goes by.
_CALLED = re.compile(r"\b(?:called|named|titled|entitled|dubbed|known\s+as|nicknamed)\s+(?:the\s+)?[\"“]?")
_ASKS_NAME = re.compile(r"\b(?:name[ds]?|call(?:ed)?|known|title[ds]?|nickname[ds]?|dubbed|refer(?:red)? to as)\b",
                        re.IGNORECASE)


def _called(sentence: str, question: str, aligned: _Aligned) -> Candidate | None:
    """"What is the fan base called?" -> the name after "called"/"known as"/"titled" in a sentence
    that says the question's words, when that name is not the question's."""
    if not _ASKS_NAME.search(question):
        return None
    for m in _CALLED.finditer(sentence):
        for c in [*_names(sentence), *_quoted_titles(sentence)]:
            if c.start in (m.end(), m.end() - 1) and not _overlaps_question(aligned, c):
                return Candidate("other", c.start, c.end, c.text)
    return None


def _quoted_titles(sentence: str, words: int = 0) -> list[Candidate]:
    """Quoted passages of at most ``words`` (:data:`MAX_PHRASE`) words, without their quotes."""
    return [Candidate("title", a + 1, b - 1, sentence[a + 1 : b - 1]) for a, b in _quotes(sentence)
            if len(sentence[a + 1 : b - 1].split()) <= (words or MAX_PHRASE)]


# A question asking for someone's words: "how did she describe it?", "how did they respond?"
_ASKS_WORDS = re.compile(r"\b(?:describ|call|say|said|respond|react|view|characteri[sz]|refer|label|dub)\w*",
                         re.IGNORECASE)


def _qualifiers(sentence: str, words: list[tuple[int, int, str]], first: int, last: int) -> int:
    """The first word of the run right before the asked-for word that qualifies it: after the
    last function word of the phrase ("written for the concert" -> "concert"), except one inside
    a name ("Day of the Dead") or an "and" ("patron and priest")."""
    for i in range(last, first, -1):
        w = words[i - 1][2]
        if w in _STOP and w != "and":
            inside_name = sentence[words[i - 1][0]].islower() and sentence[words[i][0]].isupper() \
                and i - 2 >= first and sentence[words[i - 2][0]].isupper()
            if not inside_name:
                return i
    return first


def _other(sentence: str, question: str) -> Candidate | None:
    """For an open question ("what did she study?", "which album ...?"): the phrase the question
    leaves open, when the sentence says most of the question and one phrase sits right next to
    its words; None otherwise. A phrase next to the word naming what is asked ("album" in
    "which album ...") wins, a name over a common phrase."""
    aligned = _align(sentence, question)
    if not aligned.asked or aligned.found * 3 < len(aligned.asked):
        return None
    words = aligned.words
    heads, copula = _heads(question)
    at_head = {a for a in aligned.anchors if any(_same(words[a][2], h) for h in heads)}
    best: tuple[tuple[int, ...], tuple[int, int]] | None = None
    for first, last in _phrases(sentence, aligned):
        if last - first + 1 > MAX_PHRASE:
            continue
        left = [first - a - 1 for a in aligned.anchors if a < first]
        right = [a - last - 1 for a in aligned.anchors if a > last]
        gap = min(left + right, default=1000)
        if gap > 1:
            continue
        by_head = (first - 1 in at_head) or (last + 1 in at_head)
        start = words[first][0]
        capital = sentence[start].isupper() and start > 0 or sentence[start].isdigit()
        if copula and by_head and not capital:  # measured: "what is the X ...?" is answered by a name or a figure
            continue
        near = sum(1 for a in aligned.anchors if first - 6 <= a <= last + 6)
        key = (int(by_head), int(by_head and capital), near, -gap, -first)
        if best is None or key > best[0]:
            best = (key, (first, last))
    if best is None or not best[0][0]:  # measured: away from the asked-for word, phrases are mostly wrong
        return _called(sentence, question, aligned)
    first, last = best[1]
    if last + 1 in at_head:  # "... display a martial rhythm": the words that qualify the asked-for word
        first = _qualifiers(sentence, words, first, last)
        if sentence[words[last + 1][0]].islower() and sentence[words[last][1]: words[last + 1][0]].isspace() \
                and sentence[words[last][0]].islower():
            last += 1  # and the word itself after common words ("the horse trade"), not after a name
            # ("Forbes magazine")
    start, end = words[first][0], words[last][1]
    names = [n for n in _names(sentence) if n.start < end and start < n.end and n.type != "title"
             and not _overlaps_question(aligned, n)]
    if len(names) == 1:  # one name in the phrase, or the phrase in a name: the name, whole
        start, end = names[0].start, names[0].end  # ("adjacent Hudson County", "Henry Hudson re-discovered")
    return Candidate("other", start, end, sentence[start:end])


# ---------------------------------------------------------------- candidates for the learned span chooser

_TYPED = ("person", "organisation", "place", "date", "number", "money", "percentage")
# What the learned span chooser (``learned.SpanChooser``) knows of each candidate, in this order.
SPAN_FEATURES = (
    "words", "gap", "anchors_near", "by_head", "capital", "digit", "typed", "type_asked", "position",
    "anchors_before", "coverage", "asked_words", "after_locative", "after_cue", "is_rule", "overlaps_rule",
    "rule_given", "copula", "heads",
    *(f"asks_{k}" for k in ANSWER_TYPES), *(f"is_{k}" for k in ("phrase", *_TYPED)),
)
MAX_CANDIDATE_WORDS = 10
# Kinds only a figure answers: when the rules find no date, number, sum or share the question does
# not give, no other phrase is the answer ("when ...?" is not answered by a place).
FIGURE_TYPES = frozenset({"date", "number", "money", "percentage"})


def span_candidates(sentence: str, question: str, kind: str,
                    rule: Candidate | None = None) -> list[tuple[Candidate, tuple[float, ...]]]:
    """Every phrase of ``sentence`` that could answer ``question`` with what the learned chooser
    reads of it (:data:`SPAN_FEATURES`): runs of words the question does not say (cut at
    punctuation and clause openers, at most :data:`MAX_CANDIDATE_WORDS` words), and names,
    dates and figures of every type that do not restate it. ``rule`` is what :func:`find_span`
    gave (None when nothing). None for a question asking for a figure (:data:`FIGURE_TYPES`)."""
    if len(sentence) > MAX_SENTENCE or kind in FIGURE_TYPES:
        return []
    aligned = _align(sentence, question)
    words = aligned.words
    found: dict[tuple[int, int], tuple[str, int, int]] = {}
    for first, last in _phrases(sentence, aligned):
        if last - first + 1 <= MAX_CANDIDATE_WORDS:
            found[(words[first][0], words[last][1])] = ("phrase", first, last)
    for typed in _TYPED:
        for c in candidates(sentence, typed):
            if not _overlaps_question(aligned, c):
                first, last = _word_range(aligned, c.start, c.end)
                if first >= 0:
                    found.setdefault((c.start, c.end), (typed, first, last))
    if rule is not None:
        first, last = _word_range(aligned, rule.start, rule.end)
        if first >= 0:
            found.setdefault((rule.start, rule.end), ("rule", first, last))
    heads, copula = _heads(question)
    anchors = aligned.anchors
    at_head = {a for a in anchors if any(_same(words[a][2], h) for h in heads)}
    asked = [float(kind == k) for k in ANSWER_TYPES]
    out = []
    for (start, end), (typed, first, last) in found.items():
        before = [first - a - 1 for a in anchors if a < first]
        gap = min(before + [a - last - 1 for a in anchors if a > last], default=30)
        prior = words[first - 1][2] if first > 0 else ""
        text = sentence[start:end]
        features = (
            float(last - first + 1), float(min(gap, 30)), float(sum(1 for a in anchors if first - 6 <= a <= last + 6)),
            float(first - 1 in at_head or last + 1 in at_head), float(sentence[start].isupper() and start > 0),
            float(any(ch.isdigit() for ch in text)), float(typed != "phrase"), float(typed == kind),
            first / max(len(words), 1), len(before) / max(len(anchors), 1),
            aligned.found / max(len(aligned.asked), 1), float(len(aligned.asked)), float(prior in _LOCATIVE),
            float(prior in _CUES), float(rule is not None and (rule.start, rule.end) == (start, end)),
            float(rule is not None and rule.start < end and start < rule.end), float(rule is not None),
            float(copula), float(len(heads)),
            *asked, *(float(typed == k) for k in ("phrase", *_TYPED)),
        )
        out.append((Candidate(typed if typed in _TYPED else "other", start, end, text), features))
    return out


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
