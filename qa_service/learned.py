"""Learned answer choice: the signals every stage already computed, as named features of each
candidate sentence and of the question, and small logistic models over them.

The models are plain data (JSON: feature names, standardisation, weights), trained by
``training/train_answer_model.py`` on SQuAD 2.0 and read here with numpy alone: no training
stack at run time. A model whose feature names differ from the code's is refused, so a stale
file cannot be read with the wrong columns.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

from .errors import SettingsError
from .query import KIND_PATTERNS
from .spans import ANSWER_TYPES, SPAN_FEATURES, Candidate as SpanCandidate, find_span, span_candidates
from .values import Exchange, Hit, Query, SentenceSource

__all__ = ["CANDIDATE_FEATURES", "NO_CANDIDATE", "QUESTION_FEATURES", "SPAN_TYPES", "Candidate", "LogisticModel",
           "SpanChooser", "TreeModel", "candidate_features", "gives_new", "is_previous", "load_models", "load_span_chooser", "question_basics",
           "question_features"]

# Answer types that spans.find_span looks for: a sentence holding one counts as holding the answer's kind.
SPAN_TYPES = frozenset({"person", "organisation", "place", "date", "number", "money", "percentage", "definition",
                        "reason", "manner"})

CANDIDATE_FEATURES = (
    "lexical",        # share of the question's rarity mass the sentence holds
    "lexical_gap",    # that share minus the best candidate's
    "lexical_best",   # 1 for the candidate(s) with the most
    "passage",        # its passage's score relative to the top passage
    "top_passage",    # 1 when its passage ranks first
    "cosine",         # cosine of the sentence with the question (0 without an encoder)
    "cosine_gap",     # minus the best candidate's cosine
    "cosine_best",    # 1 for the closest sentence
    "typed_span",     # holds a span of the asked-for type that the question does not give
    "kind_new",       # holds a date/number/name, as asked, that the question does not give
    "first",          # first sentence of its passage
    "repeat",         # the answer just given in this conversation
    "length",         # log of its length in characters, over 5
    "novelty",        # share of its terms the conversation's questions do not hold
    "no_words",       # shares no term with the question (a candidate by meaning only)
    "lexical_rank",   # its place by lexical share among the candidates (0 = first), over their number
    "cosine_rank",    # the same by cosine
    "answer_type",    # the question's answer type, as its place in spans.ANSWER_TYPES (trees split on it)
    "missing_max",    # the largest share of the question's rarity mass one of its terms holds that the sentence lacks
    "passage_missing_max",  # the same for the sentence's passage
)

QUESTION_FEATURES = (
    "best_logit",     # the chooser's score of the chosen sentence
    "margin",         # its lead over the runner-up (capped)
    "coverage",       # share of the question's information the documents hold
    "names_missing",  # 1 when the question names something no document mentions
    "missing_words",  # how many of its words no document holds (capped)
    "best_cosine",
    "best_lexical",
    "best_typed_span",
    "typed",          # the question asks for a kind of answer spans.find_span looks for
    "follow_up",
    "top_passage_share",  # share of the question's rarity mass the top passage holds
    "best_missing_max",   # the chosen sentence's missing_max
    "best_passage_missing_max",
)

_Model = TypeVar("_Model", "LogisticModel", "TreeModel")
_MARGIN_CAP = 5.0
_MISSING_CAP = 3.0


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage that could be the answer."""

    hit: Hit
    number: int  # its place among the passage's sentences
    start: int  # offsets in the passage
    end: int
    text: str
    repeat: bool


def is_previous(previous: Exchange, passage_id: str, start: int, sentence: str) -> bool:
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


def candidate_features(query: Query, hits: Sequence[Hit], index: SentenceSource, vectors: Any,
                       passages: int) -> tuple[list[Candidate], np.ndarray]:
    """Every sentence of the first ``passages`` hits, and its features (CANDIDATE_FEATURES order).

    ``vectors`` (a semantic.SentenceVectors or None) gives the cosines when the query has a vector.
    """
    with_meaning = vectors is not None and query.vector is not None
    mass = sum(query.mass.values()) or 1.0
    top_score = (hits[0].score if hits and hits[0].score > 0 else 1.0)
    wanted = KIND_PATTERNS.get(query.kind) if query.kind else None
    typed = query.answer_type in SPAN_TYPES
    answer_code = float(ANSWER_TYPES.index(query.answer_type)) if query.answer_type in ANSWER_TYPES else -1.0
    previous = query.previous
    own_mass = [(t, query.mass.get(t, 0.0) / mass) for t in query.own]
    found: list[Candidate] = []
    rows: list[list[float]] = []
    for hit in hits[:passages]:
        text = hit.passage.text
        cosines = vectors.cosines(query.vector, hit.position) if with_meaning else None
        for n, (span, terms) in enumerate(index.sentences(hit.position)):
            start, end = span
            sentence = text[start:end]
            repeat = previous is not None and is_previous(previous, hit.passage.id, start, sentence) \
                and not (query.own & terms)
            lexical = query.mass_in(terms) / mass
            novel = len(terms - query.asked) / len(terms) if terms else 0.0
            found.append(Candidate(hit, n, start, end, sentence, repeat))
            rows.append([
                lexical, 0.0, 0.0, hit.score / top_score, float(hit.rank == 1),
                float(cosines[n]) if cosines is not None else 0.0, 0.0, 0.0,
                float(typed and find_span(sentence, query.text, query.answer_type) is not None),
                float(wanted is not None and gives_new(wanted, sentence, query.text)),
                float(n == 0), float(repeat), math.log1p(len(sentence)) / 5.0, novel, float(lexical <= 0.0),
                0.0, 0.0, answer_code,
                max((m for t, m in own_mass if t not in terms), default=0.0),
                max((m for t, m in own_mass if t not in hit.matched), default=0.0),
            ])
    matrix = np.array(rows, dtype=np.float64).reshape(len(rows), len(CANDIDATE_FEATURES))
    if len(rows):
        best_lexical, best_cosine = matrix[:, 0].max(), matrix[:, 5].max()
        matrix[:, 1] = matrix[:, 0] - best_lexical
        matrix[:, 2] = matrix[:, 0] >= best_lexical
        matrix[:, 6] = matrix[:, 5] - best_cosine
        matrix[:, 7] = (matrix[:, 5] >= best_cosine) & with_meaning
        for column, rank in ((0, 15), (5, 16)):  # ties share the better place
            values = matrix[:, column]
            matrix[:, rank] = (values[None, :] > values[:, None]).sum(axis=1) / len(rows)
    return found, matrix


def question_basics(query: Query, hits: Sequence[Hit]) -> tuple[float, ...]:
    """What the decider reads of the question and its hits, before any sentence is chosen."""
    mass = sum(query.mass.values()) or 1.0
    top_share = sum(query.mass.get(t, 0.0) for t in hits[0].matched) / mass if hits else 0.0
    return (query.coverage, float(bool(query.names)), min(_MISSING_CAP, float(len(query.missing))),
            float(query.answer_type in SPAN_TYPES), float(query.follow_up), min(1.0, top_share))


def question_features(basics: Sequence[float], matrix: np.ndarray, logits: np.ndarray,
                      best: int) -> tuple[float, ...]:
    """The question-level features (QUESTION_FEATURES order) once the chooser has picked ``best``
    (``basics`` from :func:`question_basics`)."""
    others = np.delete(logits, best)
    margin = min(_MARGIN_CAP, float(logits[best] - others.max())) if len(others) else _MARGIN_CAP
    coverage, names, missing, typed, follow_up, top_share = basics
    row = matrix[best]
    return (float(logits[best]), margin, coverage, names, missing, float(row[5]), float(row[0]), float(row[8]),
            typed, follow_up, top_share, float(row[18]), float(row[19]))


NO_CANDIDATE = -10.0  # the chooser's score when there is no sentence to choose


class LogisticModel:
    """A logistic model read from plain JSON: ``features`` (names), ``mean`` and ``scale`` (to
    standardise), ``coef`` and ``intercept``; plus anything else the trainer recorded (its
    data, cross-validated figures, a calibrated ``threshold``)."""

    def __init__(self, features: Sequence[str], mean: Sequence[float], scale: Sequence[float],
                 coef: Sequence[float], intercept: float, meta: dict[str, Any] | None = None) -> None:
        n = len(features)
        if not (len(mean) == len(scale) == len(coef) == n):
            raise ValueError("a model needs one mean, scale and weight per feature")
        self.features = tuple(features)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.where(np.asarray(scale, dtype=np.float64) > 0, np.asarray(scale, dtype=np.float64), 1.0)
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = float(intercept)
        self.meta = dict(meta or {})

    def logits(self, matrix: np.ndarray) -> np.ndarray:
        return ((np.asarray(matrix, dtype=np.float64) - self.mean) / self.scale) @ self.coef + self.intercept

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.logits(matrix), -30, 30)))

    def to_json(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept, **self.meta}

    @classmethod
    def from_json(cls, data: dict[str, Any], expected: Sequence[str]) -> "LogisticModel":
        """The model in ``data``; SettingsError when it is not one, or was trained on other features."""
        keys = ("features", "mean", "scale", "coef", "intercept")
        return _checked(lambda: cls(data["features"], data["mean"], data["scale"], data["coef"], data["intercept"],
                                    {k: v for k, v in data.items() if k not in keys}), expected)


class TreeModel:
    """Gradient-boosted trees read from plain JSON: every tree's nodes in flat arrays (a leaf
    points to itself and holds its value), walked for all trees and rows at once with numpy.
    Its scores are scikit-learn's ``decision_function`` for the model it was exported from."""

    def __init__(self, features: Sequence[str], baseline: float, feature: Sequence[int], threshold: Sequence[float],
                 left: Sequence[int], right: Sequence[int], value: Sequence[float], roots: Sequence[int], depth: int,
                 meta: dict[str, Any] | None = None) -> None:
        self.features = tuple(features)
        self.baseline = float(baseline)
        self.feature = np.asarray(feature, dtype=np.int64)
        self.threshold = np.asarray(threshold, dtype=np.float64)
        self.left = np.asarray(left, dtype=np.int64)
        self.right = np.asarray(right, dtype=np.int64)
        self.value = np.asarray(value, dtype=np.float64)
        self.roots = np.asarray(roots, dtype=np.int64)
        self.depth = int(depth)
        n = len(self.feature)
        if not (len(self.threshold) == len(self.left) == len(self.right) == len(self.value) == n):
            raise ValueError("every node needs a feature, threshold, left, right and value")
        if n and (self.feature.min() < 0 or self.feature.max() >= len(self.features)
                  or min(self.left.min(), self.right.min(), self.roots.min(initial=0)) < 0
                  or max(self.left.max(), self.right.max(), self.roots.max(initial=0)) >= n):
            raise ValueError("a node points outside the model")
        self.meta = dict(meta or {})

    def logits(self, matrix: np.ndarray) -> np.ndarray:
        x = np.asarray(matrix, dtype=np.float64)
        rows = np.arange(len(x))[None, :]
        node = np.repeat(self.roots[:, None], len(x), axis=1)
        for _ in range(self.depth):
            go_left = x[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        return self.baseline + self.value[node].sum(axis=0)

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.logits(matrix), -30, 30)))

    @classmethod
    def from_sklearn(cls, model: Any, features: Sequence[str], meta: dict[str, Any] | None = None) -> "TreeModel":
        """Export a fitted binary ``HistGradientBoostingClassifier`` (numeric features, no missing values)."""
        feature, threshold, left, right, value, roots, depth = [], [], [], [], [], [], 0
        for (tree,) in model._predictors:
            nodes, base = tree.nodes, len(feature)
            roots.append(base)
            depth = max(depth, int(nodes["depth"].max()))
            for i, node in enumerate(nodes):
                leaf = bool(node["is_leaf"])
                feature.append(0 if leaf else int(node["feature_idx"]))
                threshold.append(float("inf") if leaf else float(node["num_threshold"]))
                left.append(base + i if leaf else base + int(node["left"]))
                right.append(base + i if leaf else base + int(node["right"]))
                value.append(float(node["value"]) if leaf else 0.0)
        return cls(features, float(np.ravel(model._baseline_prediction)[0]), feature, threshold, left, right, value,
                   roots, depth, meta)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "trees", "features": list(self.features), "baseline": self.baseline,
                "depth": self.depth, "roots": self.roots.tolist(), "feature": self.feature.tolist(),
                "threshold": [t if math.isfinite(t) else None for t in self.threshold.tolist()],
                "left": self.left.tolist(), "right": self.right.tolist(), "value": self.value.tolist(), **self.meta}

    @classmethod
    def from_json(cls, data: dict[str, Any], expected: Sequence[str],
                  script: str = "train_answer_model.py") -> "TreeModel":
        """The model in ``data``; SettingsError when it is not one, or was trained on other features."""
        keys = ("kind", "features", "baseline", "feature", "threshold", "left", "right", "value", "roots", "depth")

        def build() -> "TreeModel":
            if data["kind"] != "trees":
                raise ValueError(f"kind {data['kind']!r}")
            return cls(data["features"], data["baseline"], data["feature"],
                       [math.inf if t is None else t for t in data["threshold"]], data["left"], data["right"],
                       data["value"], data["roots"], data["depth"], {k: v for k, v in data.items() if k not in keys})

        return _checked(build, expected, script)


def _checked(build: Callable[[], _Model], expected: Sequence[str], script: str = "train_answer_model.py") -> _Model:
    """``build()``'s model; SettingsError when the data is not a model, or was trained on other features."""
    try:
        model = build()
    except (KeyError, TypeError, ValueError) as exc:
        raise SettingsError(f"not an answer model ({type(exc).__name__}: {exc})") from None
    if model.features != tuple(expected):
        raise SettingsError(f"the model was trained on other features: retrain it (python3 training/{script})")
    return model


def _model_file(path: Path, what: str) -> tuple[bytes, Any]:
    """A model file's bytes and its JSON; SettingsError naming the ``what`` model when unreadable."""
    try:
        raw = path.read_bytes()
        return raw, json.loads(raw)
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read the {what} model ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise SettingsError(f"{path}: the {what} model is not JSON ({exc})") from None


def load_models(path: Path) -> tuple[TreeModel, LogisticModel, float, str]:
    """(chooser, decider, refusal threshold, sha256 of the file) from a trained model file."""
    raw, data = _model_file(path, "answer")
    if not isinstance(data, dict) or not isinstance(data.get("chooser"), dict) or not isinstance(data.get("decider"), dict):
        raise SettingsError(f"{path}: not an answer model (no 'chooser' and 'decider')")
    chooser = TreeModel.from_json(data["chooser"], CANDIDATE_FEATURES)
    decider = LogisticModel.from_json(data["decider"], QUESTION_FEATURES)
    threshold = data.get("threshold")
    if not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise SettingsError(f"{path}: the answer model has no threshold in [0, 1]")
    return chooser, decider, float(threshold), hashlib.sha256(raw).hexdigest()


class SpanChooser:
    """The exact span where the rules of :func:`spans.find_span` find none: the candidate phrase
    (:func:`spans.span_candidates`) that trees trained on SQuAD 2.0 (``training/train_span_model.py``)
    find likeliest to be the answer, when that likelihood reaches ``threshold``; else None, and the
    sentence stands alone (no span rather than a wrong one)."""

    def __init__(self, model: TreeModel, threshold: float) -> None:
        self.model = model
        self.threshold = threshold

    def choose(self, sentence: str, question: str, kind: str, rule: SpanCandidate | None = None) -> SpanCandidate | None:
        found = span_candidates(sentence, question, kind, rule)
        if not found:
            return None
        likely = self.model.probabilities(np.array([features for _, features in found], dtype=np.float64))
        best = int(np.argmax(likely))  # the first of equals: candidates come in a fixed order
        return found[best][0] if likely[best] >= self.threshold else None


def load_span_chooser(path: Path) -> tuple[SpanChooser, str]:
    """The span chooser in a trained model file, and the file's sha256; SettingsError when it is not one."""
    raw, data = _model_file(path, "span")
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise SettingsError(f"{path}: not a span model (no 'model')")
    model = TreeModel.from_json(data["model"], SPAN_FEATURES, "train_span_model.py")
    threshold = data.get("threshold")
    if not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise SettingsError(f"{path}: the span model has no threshold in [0, 1]")
    return SpanChooser(model, float(threshold)), hashlib.sha256(raw).hexdigest()
