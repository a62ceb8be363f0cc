"""The cross-encoder re-ranker: a fine-tuned MiniLM reads the question together with each of the
best passages and says how likely that passage is to answer it.

Why a model: the stages before it score a passage by its words (BM25) and by the meaning of its
best sentence alone (cosine of two vectors made apart). A model that reads the question and the
passage together sees which words answer which ("who directed" meets "directed by"), as a
reader does. Trained on the SQuAD 2.0 subset (``training/train_reranker.py``): a question's
own paragraph against the paragraphs of its article that BM25 confuses with it.
How it is used (:class:`CrossReranker`): the top ``depth`` hits get ``weight`` x the model's
probability added to their score relative to the top one; the others keep their order below.
Why ONNX int8: the same torch-free runtime as the sentence encoder and the reader.
Why windows: a passage longer than ``max_tokens`` is read in overlapping windows, the best counts.
Why lazy imports: importing this module never loads onnxruntime or tokenizers.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .encode import TOKENIZER_PATH, TOKENIZER_SHA256, load_card
from .errors import SettingsError
from .values import Hit, Query

__all__ = ["RERANKER_MODEL", "CrossEncoder", "CrossReranker", "PassageScorer", "load_reranker_card", "pair_text"]

MODELS = Path(__file__).resolve().parent / "models" / "reranker"
RERANKER_MODEL = MODELS / "reranker.onnx"
RERANKER_CARD = MODELS / "reranker.json"  # its sha256, how it was trained, and its held-out figures
MAX_QUESTION_TOKENS = 64
BATCH_TOKENS = 4096  # padded tokens per onnxruntime call


def load_reranker_card(path: Path = RERANKER_CARD) -> dict[str, Any]:
    """The re-ranker's card: ``sha256`` of the model file, how it was trained, its held-out figures."""
    return load_card(path, "the re-ranker")


class PassageScorer(Protocol):
    def score(self, question: str, texts: Sequence[str]) -> list[float]:
        """A log-odds per text that it answers ``question``."""
        ...


class CrossEncoder:
    """The fine-tuned cross-encoder (int8 ONNX) run by onnxruntime on the CPU.

    Args:
        model_path: the reranker.onnx; None = the bundled one.
        sha256: what the file must hash to; None = the bundled card's.
        threads: onnxruntime intra-op threads.
        max_tokens: window size in tokens, question and [CLS]/[SEP] included (as trained: 256).
        stride: tokens two windows of one passage share.
    """

    def __init__(self, model_path: Path | None = None, *, sha256: str | None = None, threads: int = 2,
                 max_tokens: int = 256, stride: int = 64) -> None:
        if not isinstance(threads, int) or threads < 1:
            raise SettingsError(f"re-ranker threads must be a whole number >= 1, not {threads!r}")
        if not isinstance(max_tokens, int) or not MAX_QUESTION_TOKENS + 32 <= max_tokens <= 512:
            raise SettingsError(f"re-ranker max_tokens must be a whole number from {MAX_QUESTION_TOKENS + 32} to 512")
        if not isinstance(stride, int) or not 0 <= stride < max_tokens - MAX_QUESTION_TOKENS - 3:
            raise SettingsError("re-ranker stride must be a whole number below the window's room for the passage")
        self.model_path = RERANKER_MODEL if model_path is None else Path(model_path)
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

            want = self.sha256 or load_reranker_card()["sha256"]
            for path, digest in ((self.model_path, want), (TOKENIZER_PATH, TOKENIZER_SHA256)):
                try:
                    got = hashlib.sha256(path.read_bytes()).hexdigest()
                except OSError as exc:
                    raise SettingsError(f"the re-ranker cannot read {path.name}: {exc.strerror or exc}") from None
                if got != digest:
                    raise SettingsError(f"{path.name} is not the re-ranker's file (sha256 {got[:12]}..., "
                                        f"expected {digest[:12]}...)")
            plain = Tokenizer.from_file(str(TOKENIZER_PATH))
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

    def score(self, question: str, texts: Sequence[str]) -> list[float]:
        """The model's log-odds that each text answers ``question`` (the best of its windows)."""
        self.warm_up()
        if not texts:
            return []
        asked = self._plain.encode(question, add_special_tokens=False).ids[:MAX_QUESTION_TOKENS]
        room = self.max_tokens - len(asked) - 3  # [CLS] question [SEP] passage [SEP]
        step = max(1, room - self.stride)
        head = [self._cls, *asked, self._sep]
        windows: list[tuple[int, list[int], list[int]]] = []
        for n, encoding in enumerate(self._plain.encode_batch(list(texts), add_special_tokens=False)):
            ids = encoding.ids
            for first in range(0, max(1, len(ids) - room + step), step):
                chunk = ids[first : first + room]
                windows.append((n, head + chunk + [self._sep], [0] * len(head) + [1] * (len(chunk) + 1)))
                if first + room >= len(ids):
                    break
        best = [-math.inf] * len(texts)
        windows.sort(key=lambda w: len(w[1]))
        batch: list[tuple[int, list[int], list[int]]] = []
        for item in [*windows, None]:
            if item is not None and (not batch or (len(batch) + 1) * len(item[1]) <= BATCH_TOKENS):
                batch.append(item)
                continue
            for (n, _, _), logit in zip(batch, self._run([(ids, types) for _, ids, types in batch])):
                best[n] = max(best[n], float(logit))
            batch = [item] if item is not None else []
        return best

    def _run(self, windows: list[tuple[list[int], list[int]]]) -> np.ndarray:
        width = max(len(ids) for ids, _ in windows)
        ids = np.zeros((len(windows), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for i, (row, kinds) in enumerate(windows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
            types[i, : len(row)] = kinds
        with self._running:  # one call at a time: it uses every core it is given
            (logits,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        return logits.reshape(-1)


def pair_text(query: Query) -> str:
    """What the cross-encoder reads as the question: the question; for a follow-up, the earlier
    question it leans on first ("Who founded it?" after "What is the CSTO?")."""
    return " ".join([*reversed(query.context[:1]), query.text]) if query.follow_up else query.text


def _probability(logit: float) -> float:
    if logit == -math.inf:
        return 0.0
    return 1.0 / (1.0 + math.exp(-logit)) if logit >= 0 else math.exp(logit) / (1.0 + math.exp(logit))


@dataclass
class CrossReranker:
    """Adds ``weight`` x the cross-encoder's probability that a passage answers the question to
    each of the top ``depth`` hits' scores (relative to the top one); hits below ``depth`` keep
    their order under them. 0 = the order stays (the model is not run)."""

    model: PassageScorer
    _: KW_ONLY
    weight: float
    depth: int

    def warm_up(self) -> None:
        warm_up = getattr(self.model, "warm_up", None)
        if callable(warm_up):
            warm_up()

    def rerank(self, query: Query, hits: list[Hit]) -> list[Hit]:
        if not hits or self.weight <= 0 or self.depth < 1:
            return hits
        head = hits[: self.depth]
        logits = self.model.score(pair_text(query), [h.passage.text for h in head])
        chance = [_probability(x) for x in logits]
        top = hits[0].score if hits[0].score > 0 else 1.0
        mixed = [h.score / top + (self.weight * chance[i] if i < len(head) else 0.0) for i, h in enumerate(hits)]
        order = sorted(range(len(hits)), key=lambda i: (-mixed[i], i))
        return [Hit(hits[i].passage, hits[i].position, mixed[i], rank, hits[i].matched,
                    {**hits[i].scores, **({"cross": chance[i]} if i < len(head) else {})})
                for rank, i in enumerate(order, start=1)]
