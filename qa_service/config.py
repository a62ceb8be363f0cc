"""Every setting in one place: name, default, type and help.

CLI flags, ``QA_*`` environment variables and the README's table all come from
:data:`SETTINGS`; :func:`load_settings` is the one way settings enter the program.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping

__all__ = ["SETTINGS", "Setting", "Settings", "SettingsError", "default_corpus_dir", "load_settings"]


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the setting."""


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


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any]
    check: Callable[[Any], bool] = lambda v: True
    rule: str = ""

    @property
    def env(self) -> str:
        return "QA_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: tuple[Setting, ...] = (
    Setting("corpus", None, "Prepared corpus folder (from `qa-service index`); default: the bundled `corpus/`.", Path),
    Setting("scorer", "plus", "BM25 variant of rank-bm25: `plus` (BM25+), `l` (BM25L) or `okapi` (BM25Okapi).",
            str, lambda v: v in ("plus", "l", "okapi"), "one of plus, l, okapi"),
    Setting("k1", 1.5, "BM25 term-frequency saturation.", float, lambda v: 0 <= v <= 10, "between 0 and 10"),
    Setting("b", 0.75, "BM25 length normalisation (0 = none, 1 = full).", float, lambda v: 0 <= v <= 1,
            "between 0 and 1"),
    Setting("delta", 1.0, "BM25+ / BM25L lower bound added for a matching term.", float, lambda v: 0 <= v <= 10,
            "between 0 and 10"),
    Setting("lemmatize", True, "Map inflected words to their lemma before stemming (simplemma): said/say.", _bool),
    Setting("stem", True, "Snowball-stem terms (PyStemmer).", _bool),
    Setting("stopwords", True, "Drop English stopwords.", _bool),
    Setting("split_hyphens", True, "Index hyphenated words whole and by their parts.", _bool),
    Setting("fold_accents", True, "Match words with and without accents.", _bool),
    Setting("language", "english", "Snowball stemmer language.", str),
    Setting("passage_words", 60, "Target passage size in words when preparing a corpus (passages stay "
            "between half and one and a half times this).", int, lambda v: 10 <= v <= 1000, "between 10 and 1000"),
    Setting("top_k", 3, "Passages returned when a request does not say.", int, lambda v: 1 <= v <= 20,
            "between 1 and 20"),
    Setting("min_coverage", 0.5, "Abstain when the rarity-weighted share of the question's terms that the "
            "documents contain is below this.", float, lambda v: 0 <= v <= 1, "between 0 and 1"),
    Setting("sentence_weight", 1.0, "Re-rank the top 20 passages: add this x the top BM25 score x the share of the "
            "question found in a passage's best sentence (0 = plain BM25 order).", float, lambda v: 0 <= v <= 10,
            "between 0 and 10"),
    Setting("word_prior", 4.0, "Down-weight everyday words in a question: a word counts min(1, (8 - its "
            "Zipf frequency in English) / this), so \"go\" weighs about 0.35 and \"Lukashenko\" 1 "
            "(0 = all words count fully).",
            float, lambda v: 0 <= v <= 8, "between 0 and 8"),
    Setting("history_weight", 0.5, "Weight of the previous turn's scores for a follow-up question.", float,
            lambda v: 0 <= v <= 1, "between 0 and 1"),
    Setting("host", "127.0.0.1", "Address `serve` listens on.", str),
    Setting("port", 8000, "Port `serve` listens on (0 picks a free one).", int, lambda v: 0 <= v <= 65535,
            "between 0 and 65535"),
    Setting("threads", 4, "Waitress worker threads.", int, lambda v: 1 <= v <= 64, "between 1 and 64"),
)


@dataclass(frozen=True)
class Settings:
    corpus: Path | None = None
    scorer: str = "plus"
    k1: float = 1.5
    b: float = 0.75
    delta: float = 1.0
    lemmatize: bool = True
    stem: bool = True
    stopwords: bool = True
    split_hyphens: bool = True
    fold_accents: bool = True
    language: str = "english"
    passage_words: int = 60
    top_k: int = 3
    min_coverage: float = 0.5
    sentence_weight: float = 1.0
    word_prior: float = 4.0
    history_weight: float = 0.5
    host: str = "127.0.0.1"
    port: int = 8000
    threads: int = 4

    @property
    def corpus_dir(self) -> Path:
        return self.corpus if self.corpus is not None else default_corpus_dir()

    def replace(self, **changes: Any) -> "Settings":
        return load_settings(changes, env={}, base=self)


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    base: Settings | None = None,
) -> Settings:
    """Defaults, then ``QA_*`` environment variables, then explicit overrides (None = unset).

    String values are parsed; every value is checked. Raises :class:`SettingsError`.
    """
    env = os.environ if env is None else env
    by_name = {s.name: s for s in SETTINGS}
    values = {f.name: getattr(base or Settings(), f.name) for f in fields(Settings)}
    unknown = set(overrides or {}) - set(by_name)
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    for setting in SETTINGS:
        raw: Any = env.get(setting.env)
        source = setting.env
        if overrides and overrides.get(setting.name) is not None:
            raw, source = overrides[setting.name], setting.flag
        if raw is None:
            continue
        try:
            value = setting.parse(raw) if isinstance(raw, str) else raw
            if setting.parse is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
        except ValueError as exc:
            raise SettingsError(f"{source}: {exc}") from None
        if not setting.check(value):
            raise SettingsError(f"{source} must be {setting.rule}, got {raw!r}")
        values[setting.name] = value
    return Settings(**values)
