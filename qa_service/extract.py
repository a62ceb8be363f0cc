"""The extractive reader: a fine-tuned MiniLM reads the question with a passage and scores every
token as the answer's first and last; the best span inside a sentence is that sentence's answer.

Why a model: the answer of a why-question is a clause, of a who-question a name; the sentence
that shares the most words with the question often only restates it. A reader trained on
SQuAD 2.0 questions (``training/train_reader.py``) sees the question and the passage together.
How it is used (``read.LearnedReader``): its best span inside each candidate sentence adds to
the trained chooser's score, and the chosen sentence's best span is the exact answer. Its scores
are not comparable across passages on their own, nor does its "no answer here" score ([CLS])
tell SQuAD 2.0's unanswerable questions apart (ROC AUC .49 on a held-out article): the
decision to answer stays with the trained decider (``decide.LearnedAbstainer``).
Why ONNX int8: the same torch-free runtime as the sentence encoder (``encode.py``).
Why windows: a passage longer than ``max_tokens`` is read in overlapping windows, as trained.
Why onnxruntime's memory arena on, and one call at a time (unlike the encoder): its batches are
small (one or two passages) and the arena reuses their buffers. Under 16 clients for 30 s
(``benchmarks/load.py``) the server's RSS went 452 -> 559 MiB with the arena off and calls
concurrent, 429 -> 503 with calls one at a time, 327 -> 337 with both.
Why lazy imports: importing this module never loads onnxruntime or tokenizers.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .encode import TOKENIZER_PATH, TOKENIZER_SHA256, load_card
from .errors import SettingsError

__all__ = ["READER_MODEL", "Reading", "SpanModel", "TextLogits", "best_span", "load_reader_card", "whole_words"]

MODELS = Path(__file__).resolve().parent / "models" / "reader"
READER_MODEL = MODELS / "reader.onnx"
READER_CARD = MODELS / "reader.json"  # its sha256, how it was trained, and its held-out figures
MAX_ANSWER_TOKENS = 30  # as trained
MAX_QUESTION_TOKENS = 64  # a longer question is cut, so the passage keeps most of the window
BATCH_TOKENS = 4096  # padded tokens per onnxruntime call


@dataclass(frozen=True)
class Reading:
    """The reader's best span in one text (character offsets), its score (start + end logit),
    and the score of "no answer here" ([CLS]'s, the lowest over the text's windows)."""

    start: int
    end: int
    score: float
    null: float

    @property
    def margin(self) -> float:
        return self.score - self.null


def load_reader_card(path: Path = READER_CARD) -> dict[str, Any]:
    """The reader's card: ``sha256`` of the model file, how it was trained, and its held-out figures."""
    return load_card(path, "the reader")


class SpanModel:
    """The fine-tuned reader (int8 ONNX) run by onnxruntime on the CPU.

    Args:
        model_path: the reader.onnx; None = the bundled one.
        sha256: what the file must hash to; None = the bundled card's.
        threads: onnxruntime intra-op threads.
        max_tokens: window size in tokens, question and [CLS]/[SEP] included (as trained: 256).
        stride: tokens two windows of one text share (as trained: 96).
    """

    def __init__(self, model_path: Path | None = None, *, sha256: str | None = None, threads: int = 2,
                 max_tokens: int = 256, stride: int = 96) -> None:
        if not isinstance(threads, int) or threads < 1:
            raise SettingsError(f"reader threads must be a whole number >= 1, not {threads!r}")
        if not isinstance(max_tokens, int) or not MAX_QUESTION_TOKENS + 32 <= max_tokens <= 512:
            raise SettingsError(f"reader max_tokens must be a whole number from {MAX_QUESTION_TOKENS + 32} to 512")
        if not isinstance(stride, int) or not 0 <= stride < max_tokens - MAX_QUESTION_TOKENS - 3:
            raise SettingsError("reader stride must be a whole number below the window's room for the passage")
        self.model_path = READER_MODEL if model_path is None else Path(model_path)
        self.sha256 = sha256
        self.threads = threads
        self.max_tokens = max_tokens
        self.stride = stride
        self._session: Any = None
        self._plain: Any = None
        self._cls = self._sep = 0
        self._lock = threading.Lock()
        self._running = threading.Lock()

    def warm_up(self) -> None:
        """Check both files' sha256 and load them (once)."""
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            want = self.sha256 or load_reader_card()["sha256"]
            for path, digest in ((self.model_path, want), (TOKENIZER_PATH, TOKENIZER_SHA256)):
                try:
                    got = hashlib.sha256(path.read_bytes()).hexdigest()
                except OSError as exc:
                    raise SettingsError(f"the reader cannot read {path.name}: {exc.strerror or exc}") from None
                if got != digest:
                    raise SettingsError(f"{path.name} is not the reader's file (sha256 {got[:12]}..., "
                                        f"expected {digest[:12]}...)")
            plain = Tokenizer.from_file(str(TOKENIZER_PATH))  # windows are cut here: the library's own
            # overflowing windows of a question-passage pair lost the end of a long passage
            plain.no_padding()
            plain.no_truncation()
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.enable_cpu_mem_arena = True
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = ort.InferenceSession(str(self.model_path), options, providers=["CPUExecutionProvider"])
            self._plain = plain
            self._cls, self._sep = plain.token_to_id("[CLS]"), plain.token_to_id("[SEP]")

    def read(self, question: str, texts: Sequence[str]) -> list[Reading]:
        """The best span of each text for ``question``."""
        return [found.best() for found in self.logits(question, texts)]

    def logits(self, question: str, texts: Sequence[str]) -> list[TextLogits]:
        """The reader's start and end scores over each text's tokens (one onnxruntime call per
        BATCH_TOKENS), to find the best span anywhere or inside a sentence."""
        self.warm_up()
        if not texts:
            return []
        texts = [stopped_lines(text) for text in texts]
        asked = self._plain.encode(question, add_special_tokens=False).ids[:MAX_QUESTION_TOKENS]
        room = self.max_tokens - len(asked) - 3  # [CLS] question [SEP] passage [SEP]
        step = max(1, room - self.stride)
        head = [self._cls, *asked, self._sep]
        windows: list[tuple[int, list[int], list[int], np.ndarray]] = []  # (text number, ids, type ids, offsets)
        for n, encoding in enumerate(self._plain.encode_batch(list(texts), add_special_tokens=False)):
            ids, offsets = encoding.ids, encoding.offsets
            for first in range(0, max(1, len(ids) - room + step), step):
                chunk = ids[first : first + room]
                if not chunk:
                    break
                windows.append((n, head + chunk + [self._sep], [0] * len(head) + [1] * (len(chunk) + 1),
                                np.array(offsets[first : first + room], dtype=np.int64).reshape(-1, 2)))
                if first + room >= len(ids):
                    break
        parts: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [[] for _ in texts]
        nulls = [float("inf")] * len(texts)
        windows.sort(key=lambda w: len(w[1]))
        batch: list[tuple[int, list[int], list[int], np.ndarray]] = []
        for item in [*windows, None]:
            if item is not None and (not batch or (len(batch) + 1) * len(item[1]) <= BATCH_TOKENS):
                batch.append(item)
                continue
            if not batch:  # every text was empty
                break
            starts, ends = self._run([(ids, types) for _, ids, types, _ in batch])
            for (n, _, _, offsets), s, e in zip(batch, starts, ends):
                nulls[n] = min(nulls[n], float(s[0] + e[0]))
                context = slice(len(head), len(head) + len(offsets))
                parts[n].append((offsets, s[context].astype(np.float64), e[context].astype(np.float64)))
            batch = [item] if item is not None else []
        return [TextLogits(tuple(p), nulls[n]) for n, p in enumerate(parts)]

    def _run(self, windows: list[tuple[list[int], list[int]]]) -> tuple[np.ndarray, np.ndarray]:
        width = max(len(ids) for ids, _ in windows)
        ids = np.zeros((len(windows), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for i, (row, kinds) in enumerate(windows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
            types[i, : len(row)] = kinds
        with self._running:  # one call at a time: it uses every core it is given, and concurrent calls grew memory
            starts, ends = self._session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        return starts, ends


@dataclass(frozen=True)
class TextLogits:
    """The reader's scores over one text: per window, its passage tokens' character offsets
    (n, 2) and start and end scores (n,); and the lowest "no answer here" score of its windows."""

    windows: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]
    null: float

    def shifted(self, by: int) -> TextLogits:
        """The same scores with every offset moved by ``by`` characters (a text read as an excerpt)."""
        if not by:
            return self
        return TextLogits(tuple((offsets + by, s, e) for offsets, s, e in self.windows), self.null)

    def best(self, within: tuple[int, int] | None = None) -> Reading:
        """The best span (start + end score, end not before start, at most MAX_ANSWER_TOKENS
        tokens) lying inside ``within`` (a character range, e.g. a sentence); a score of -inf
        when there is none."""
        found = Reading(0, 0, float("-inf"), self.null)
        for offsets, starts, ends in self.windows:
            span = best_span(offsets, starts, ends, within)
            if span is not None and span[2] > found.score:
                found = Reading(span[0], span[1], span[2], self.null)
        return found


def best_span(offsets: np.ndarray, starts: np.ndarray, ends: np.ndarray,
              within: tuple[int, int] | None = None) -> tuple[int, int, float] | None:
    """The highest start + end score over tokens (character ``offsets`` (n, 2)) with end >= start,
    at most MAX_ANSWER_TOKENS tokens, inside ``within``; None when no span is left."""
    n = len(starts)
    if n == 0:
        return None
    allowed_start = np.ones(n, dtype=bool)
    allowed_end = np.ones(n, dtype=bool)
    first, last = 0, n
    if within is not None:
        allowed_start &= (offsets[:, 0] >= within[0]) & (offsets[:, 0] < within[1])
        allowed_end &= (offsets[:, 1] <= within[1]) & (offsets[:, 1] > within[0])
        inside = np.flatnonzero(allowed_start | allowed_end)  # the tokens of a sentence: a short run of the window
        if not inside.size:
            return None
        first, last = int(inside[0]), int(inside[-1]) + 1
    m = last - first  # only the tokens that can start or end a span: the same best span, found in m x m, not n x n
    band = np.triu(np.ones((m, m), dtype=bool)) & ~np.triu(np.ones((m, m), dtype=bool), MAX_ANSWER_TOKENS)
    band &= allowed_start[first:last, None] & allowed_end[None, first:last]
    if not band.any():
        return None
    scores = np.where(band, starts[first:last, None] + ends[None, first:last], -np.inf)
    i, j = divmod(int(np.argmax(scores)), m)
    return int(offsets[first + i, 0]), int(offsets[first + j, 1]), float(scores[i, j])


_LINE_END = re.compile(r"(?<=[^\W_])[ \t]*(\r?\n)")  # a line ending in a letter or digit


def stopped_lines(text: str) -> str:
    """``text`` with a full stop for the line break after a line that ends without punctuation
    (a headline, a heading, a list item), so that the reader, trained on paragraphs of full
    sentences, does not read it as running on into the next line. Same length, so offsets hold."""
    return _LINE_END.sub(lambda m: m.group()[: m.start(1) - m.start()] + "." + m.group(1)[1:], text)


_OPENERS = "\"'“‘([{«,;:"
_CLOSERS = "\"'”’)]}»,;:!?"
_CURRENCY = "$€£¥"


def whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """A span grown to the whole words and numbers it cuts into ("598" in "$598,000" is
    "$598,000", "12" in "12%" is "12%"), without the punctuation around it: a closing comma or
    quote, an opening quote or bracket, a sentence's full stop (not one of an abbreviation, as in
    "U.S."). It does not grow across a hyphen or an apostrophe: "Moscow" of "Moscow-led" and
    "Russia" of "Russia's" stay as they are."""
    if not 0 <= start < end <= len(text):
        return start, end

    def inside_number(i: int) -> bool:  # a "," or "." between two digits
        return text[i] in ",." and 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()

    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in _CURRENCY or inside_number(start - 1)):
        start -= 1
    while end < len(text) and (text[end].isalnum() or text[end] == "%" or inside_number(end)):
        end += 1
    if end < len(text) and text[end] == "." and "." in text[start:end]:  # an abbreviation's last full stop
        end += 1
    while start < end and text[start] in _OPENERS:
        start += 1
    while end > start and (text[end - 1] in _CLOSERS or (text[end - 1] == "." and "." not in text[start:end - 1])):
        end -= 1
    return balanced(text, start, end)


_BRACKETS = (("(", ")"), ("[", "]"), ("{", "}"), ("“", "”"), ("«", "»"))


def balanced(text: str, start: int, end: int) -> tuple[int, int]:
    """A span without a lone quote or bracket: one whose partner is just outside the span takes
    it in (`free to leave" the pact` is `"free to leave" the pact`, `the Treaty Organization (CSTO`
    is `the Treaty Organization (CSTO)`); otherwise the span is cut at it and keeps its longer
    side. Unchanged when that would leave nothing."""
    original = start, end

    def cut(at: int) -> None:  # keep the longer side of the character at ``at``
        nonlocal start, end
        if at - start >= end - at - 1:
            end = at
        else:
            start = at + 1

    for opener, closer in _BRACKETS:
        opens: list[int] = []
        lone_close = None
        for i in range(start, end):
            if text[i] == opener:
                opens.append(i)
            elif text[i] == closer:
                if opens:
                    opens.pop()
                elif lone_close is None:
                    lone_close = i
        if lone_close is not None:
            if start > 0 and text[start - 1] == opener:
                start -= 1
            else:
                cut(lone_close)
        if opens and opens[0] < end:
            if end < len(text) and text[end] == closer and len(opens) == 1:
                end += 1
            else:
                cut(opens[0])
    quotes = [i for i in range(start, end) if text[i] == '"']
    if len(quotes) % 2:
        q = quotes[0]
        closing = len(quotes) == 1 and q > start and not text[q - 1].isspace()
        if closing and start > 0 and text[start - 1] == '"':
            start -= 1
        elif not closing and end < len(text) and text[end] == '"':
            end += 1
        elif not closing and text[end:end + 2] in ('."', ',"', '!"', '?"'):
            end += 2
        else:
            cut(q if closing else quotes[-1])
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else original
