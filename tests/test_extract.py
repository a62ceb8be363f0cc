"""The extractive reader: the fine-tuned span model, its windows and offsets, and its decision."""

from __future__ import annotations

import hashlib
import re
import threading

import numpy as np
import pytest

from helpers import passages
from qa_service import extract
from qa_service.config import Settings
from qa_service.errors import SettingsError
from qa_service.extract import MAX_ANSWER_TOKENS, Reading, SpanModel, best_span, load_reader_card
from qa_service.pipeline import build_pipeline, build_span_model
from qa_service.values import Corpus, Document, Exchange

RAILWAY = ("The Harbour Line opened in 1911. It was built by the engineer Margaret Olsen, who later ran the "
           "company. Trains were withdrawn in 1962 because the tunnel under the river was flooding every winter. "
           "Today a cycle path follows the old track.")
CLINIC = ("The clinic on Elm Street opens at eight. Dr. Amira Haddad treats children there on Tuesdays. "
          "Patients are asked to bring their vaccination cards.")


@pytest.fixture(scope="module")
def model() -> SpanModel:
    loaded = build_span_model(Settings(extractive=True))
    assert loaded is not None, "the reader should load in the test environment"
    return loaded


def _span(model: SpanModel, question: str, text: str) -> str:
    reading = model.read(question, [text])[0]
    return text[reading.start:reading.end]


@pytest.mark.parametrize(("question", "text", "wanted"), [
    ("Who built the Harbour Line?", RAILWAY, "Margaret Olsen"),
    ("When did the Harbour Line open?", RAILWAY, "1911"),
    ("Why were the trains withdrawn?", RAILWAY, "tunnel"),  # a word of the reason: few why-questions in training
    ("Who treats children at the clinic?", CLINIC, "Amira Haddad"),
], ids=["who", "when", "why", "who-clinic"])
def test_the_reader_points_at_the_answer(model: SpanModel, question: str, text: str, wanted: str) -> None:
    assert wanted in _span(model, question, text)


def test_an_unrelated_question_gets_a_lower_margin_than_an_answerable_one(model: SpanModel) -> None:
    answerable = model.read("Who built the Harbour Line?", [RAILWAY])[0]
    unanswerable = model.read("What did the ticket cost in 1950?", [RAILWAY])[0]
    assert unanswerable.margin < answerable.margin


def test_a_long_text_is_read_in_windows_and_offsets_point_into_the_text(model: SpanModel) -> None:
    topics = ("The weather in spring was mild", "Bakers sold rye bread on Fridays", "The council met twice a year",
              "Fishing boats left before dawn", "A choir sang in the old church")
    filler = " ".join(f"{topics[n % 5]} in year {1900 + n}." for n in range(80))
    text = f"{filler} The last station, Kettle Cove, was designed by the architect Tomas Berg."
    assert len(text.split()) > 400  # far more than one 256-token window
    reading = model.read("Who designed Kettle Cove station?", [text])[0]
    assert reading.start > len(filler)  # found in a later window, offsets in the whole text
    assert "Tomas Berg" in text[reading.start:reading.end]


def test_a_very_long_question_and_odd_inputs_do_not_break_it(model: SpanModel) -> None:
    question = "Who built it? " + "really " * 300
    [reading] = model.read(question, [RAILWAY])
    assert 0 <= reading.start <= reading.end <= len(RAILWAY)
    assert model.read("Who?", []) == []
    [empty] = model.read("Who built it?", [""])
    assert empty.score == float("-inf") or empty.start == empty.end == 0


def test_the_same_answers_from_many_threads(model: SpanModel) -> None:
    want = model.read("Who built the Harbour Line?", [RAILWAY, CLINIC])
    got: list[list[Reading]] = []
    threads = [threading.Thread(target=lambda: got.append(model.read("Who built the Harbour Line?",
                                                                     [RAILWAY, CLINIC]))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for readings in got:
        for a, b in zip(readings, want):
            assert (a.start, a.end) == (b.start, b.end)
            assert a.score == pytest.approx(b.score, abs=1e-3)


def _tokens(n: int) -> np.ndarray:
    return np.array([(10 * i, 10 * i + 5) for i in range(n)], dtype=np.int64)


def test_best_span_keeps_end_after_start_and_the_length_bound() -> None:
    n = 60
    starts, ends = np.zeros(n), np.zeros(n)
    starts[40], ends[5] = 9.0, 9.0  # the best start comes after the best end: not a span (9 + 0 at most)
    starts[10], ends[12] = 5.0, 5.0
    start, end, score = best_span(_tokens(n), starts, ends)
    assert (start, end) == (100, 125) and score == 10.0
    starts[:], ends[:] = 0.0, 0.0
    starts[3], ends[3 + MAX_ANSWER_TOKENS] = 3.0, 100.0  # one token too far from the only good start
    start, end, _ = best_span(_tokens(n), starts, ends)
    assert (start, end) != (30, 10 * (3 + MAX_ANSWER_TOKENS) + 5)


def _best_span_everywhere(offsets, starts, ends, within):  # noqa: ANN001, ANN202
    """best_span as first written: every pair of the window's tokens looked at."""
    n = len(starts)
    ok_start = (offsets[:, 0] >= within[0]) & (offsets[:, 0] < within[1])
    ok_end = (offsets[:, 1] <= within[1]) & (offsets[:, 1] > within[0])
    band = np.triu(np.ones((n, n), dtype=bool)) & ~np.triu(np.ones((n, n), dtype=bool), MAX_ANSWER_TOKENS)
    band &= ok_start[:, None] & ok_end[None, :]
    if not band.any():
        return None
    scores = np.where(band, starts[:, None] + ends[None, :], -np.inf)
    i, j = divmod(int(np.argmax(scores)), n)
    return int(offsets[i, 0]), int(offsets[j, 1]), float(scores[i, j])


@pytest.mark.parametrize("seed", range(40))
def test_best_span_inside_a_sentence_looks_only_at_its_tokens_and_finds_the_same_span(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 120))
    offsets = _tokens(n)
    starts, ends = rng.integers(-3, 4, n).astype(float), rng.integers(-3, 4, n).astype(float)  # ties too
    low = int(rng.integers(-20, 10 * n + 20))
    within = (low, low + int(rng.integers(0, 400)))
    assert best_span(offsets, starts, ends, within) == _best_span_everywhere(offsets, starts, ends, within)


def test_best_span_stays_inside_the_range_asked_for() -> None:
    n = 10
    starts, ends = np.zeros(n), np.zeros(n)
    starts[2], ends[3] = 9.0, 9.0  # the best span: characters 20-35
    starts[7], ends[8] = 5.0, 5.0  # the runner-up: 70-85
    assert best_span(_tokens(n), starts, ends)[:2] == (20, 35)
    assert best_span(_tokens(n), starts, ends, (60, 90))[:2] == (70, 85)
    assert best_span(_tokens(n), starts, ends, (200, 300)) is None  # no token there
    assert best_span(_tokens(0), starts[:0], ends[:0]) is None


def test_a_model_file_that_is_not_the_readers_is_refused(tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "reader.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(SettingsError, match="not the reader's file"):
        SpanModel(bad).warm_up()
    with pytest.raises(SettingsError, match="cannot read"):
        SpanModel(tmp_path / "missing.onnx").warm_up()


def test_bad_settings_are_refused() -> None:
    for kwargs in ({"threads": 0}, {"max_tokens": 20}, {"stride": 500}):
        with pytest.raises(SettingsError):
            SpanModel(**kwargs)


def test_the_bundled_card_matches_the_bundled_model() -> None:
    card = load_reader_card()
    assert hashlib.sha256(extract.READER_MODEL.read_bytes()).hexdigest() == card["sha256"]
    assert card["training"]["holdout"]  # measured on an article the model never saw
    assert card["heldout"]["span_f1"] > 0.5


def test_a_pipeline_without_the_reader_falls_back_with_one_warning(monkeypatch, caplog, tmp_path) -> None:  # noqa: ANN001
    from qa_service import pipeline as pl

    monkeypatch.setattr(pl, "_SPAN_MODELS_LOADED", {})
    monkeypatch.setattr(pl, "SpanModel", lambda threads: SpanModel(tmp_path / "gone.onnx", threads=threads))
    with caplog.at_level("WARNING"):
        assert build_span_model(Settings()) is None
        pipe = _railway_pipeline()
    assert sum("extractive reader is off" in r.message for r in caplog.records) == 1
    assert pipe.reader.span_model is None
    assert pipe.ask("Who built the Harbour Line?").answer is not None  # the chooser answers alone
    from qa_service.web import create_app

    assert create_app(pipe).test_client().get("/api/health").get_json()["extractive"] is False


def _railway_pipeline(**settings):  # noqa: ANN003, ANN202
    doc = Document("d", "The Harbour Line", "rail.txt", "0" * 64, RAILWAY)
    return build_pipeline(Settings(**settings), Corpus((doc,), tuple(passages(*RAILWAY_PASSAGES))))


RAILWAY_PASSAGES = [RAILWAY[: RAILWAY.index(" Trains")], RAILWAY[RAILWAY.index("Trains"):]]


def test_the_span_is_the_readers_inside_the_chosen_sentence_with_offsets_in_the_passage() -> None:
    pipe = _railway_pipeline()
    answer = pipe.ask("Who built the Harbour Line?")
    assert answer.answer is not None and answer.answer.span is not None
    sentence, span = answer.answer, answer.answer.span
    passage = next(p for p in pipe.corpus.passages if p.id == sentence.passage_id)
    assert passage.text[sentence.start:sentence.end] == sentence.text
    assert passage.text[span.start:span.end] == span.text
    assert sentence.start <= span.start < span.end <= sentence.end
    assert "Margaret Olsen" in span.text
    assert answer.answer_type == span.type == "person"


def test_the_why_answer_is_the_reason_not_the_restatement() -> None:
    answer = _railway_pipeline().ask("Why were trains withdrawn from the Harbour Line?")
    assert answer.answer is not None and answer.answer.span is not None
    assert "flooding" in answer.answer.span.text


def test_off_the_chooser_and_the_rules_answer_alone() -> None:
    on = _railway_pipeline().ask("Who built the Harbour Line?")
    off = _railway_pipeline(extractive=False).ask("Who built the Harbour Line?")
    assert off.answer is not None and on.answer is not None
    assert _railway_pipeline(extractive=False).reader.span_model is None


class Scripted:
    """A stand-in reader: a start score per word (``starts``), an end score per word (``ends``),
    -10 for the rest, and "no answer" scored by the first word of ``nulls`` the text holds."""

    def __init__(self, starts: dict[str, float], ends: dict[str, float], nulls: dict[str, float]) -> None:
        self.starts, self.ends, self.nulls = starts, ends, nulls

    def warm_up(self) -> None:
        pass

    def logits(self, question, texts):  # noqa: ANN001, ANN201
        out = []
        for text in texts:
            words = list(re.finditer(r"\w+", text))
            offsets = np.array([(m.start(), m.end()) for m in words])
            starts = np.array([self.starts.get(m.group(), -10.0) for m in words])
            ends = np.array([self.ends.get(m.group(), -10.0) for m in words])
            null = next((v for k, v in self.nulls.items() if k in text), 0.0)
            out.append(extract.TextLogits(((offsets, starts, ends),), null))
        return out


def fixed(word: str) -> Scripted:
    """A stand-in reader that scores only the word ``word`` as an answer."""
    return Scripted({word: 10.0}, {word: 10.0}, {})


def test_the_reader_weighs_in_on_which_sentence_answers() -> None:
    """With the weight at 0 the reader only gives the span; with a large one its best span decides."""
    pipe = _railway_pipeline()
    query = pipe.analyse("When were trains on the Harbour Line withdrawn?")
    hits = pipe.retrieve(query)
    # A stand-in reader sure of the wrong year: only its weight can make it win over the chooser.
    pipe.reader.span_model, pipe.reader.span_weight, pipe.reader.span_candidates = fixed("1911"), 0.0, 100
    pipe.reader.span_lead = 0.0  # every candidate is read, however far the chooser's best leads
    chosen = pipe.reader.read(query, hits)
    assert chosen is not None and "1962" in chosen.text  # the chooser alone picks the right sentence
    pipe.reader.span_weight = 10.0
    forced = pipe.reader.read(query, hits)
    assert forced is not None and forced.span is not None and forced.span.text == "1911"
    pipe.reader.span_candidates = 1  # only the chooser's best sentence is weighed: the reader gives its span only
    assert pipe.reader.read(query, hits).text == chosen.text


def test_a_follow_up_is_read_with_its_own_words() -> None:
    """The reader, trained on single questions, reads "Q1 Q2" as Q1 (held-out SQuAD: span F1
    .718 alone, .497 after another question): a follow-up's sentence is read with its own words,
    its conversation having chosen the sentence."""
    seen: list[str] = []

    class Recording:
        def warm_up(self) -> None:
            pass

        def logits(self, question, texts):  # noqa: ANN001, ANN202
            seen.append(question)
            return [extract.TextLogits((), 0.0) for _ in texts]

    pipe = _railway_pipeline()
    first = pipe.ask("Who built the Harbour Line?")
    assert first.answer is not None
    pipe.reader.span_model = Recording()
    given = Exchange(first.question, first.answer.text, first.answer.passage_id, first.answer.start, True)
    after = pipe.ask("And when did it close?", [given])
    assert after.follow_up
    assert seen[-1] == "And when did it close?"
    assert after.answer is not None  # no span from the reader: the sentence stands, with the rules' span if any

    # a question read in its conversation only because it was not answered alone: its own words too
    leaning = pipe.analyser.analyse("Which company did the engineer run?", [given], lean=True)
    assert leaning.follow_up and leaning.leant
    pipe.reader.read(leaning, pipe.retrieve(leaning))
    assert seen[-1] == "Which company did the engineer run?"


def test_the_follow_up_measurement_reads_each_question_alone_and_after_another() -> None:
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "training" / "measure_follow_up_reading.py"
    spec = importlib.util.spec_from_file_location("measure_follow_up_reading", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = "The Harbour Line opened in 1911. It was built by Margaret Olsen. Trains stopped in 1962."
    data = {"data": [{"title": "t", "paragraphs": [{"context": text, "qas": [
        {"id": "1", "question": "When did the line open?", "is_impossible": False,
         "answers": [{"text": "1911", "answer_start": text.index("1911")}]},
        {"id": "2", "question": "Who built it?", "is_impossible": False,
         "answers": [{"text": "Margaret Olsen", "answer_start": text.index("Margaret")}]},
        {"id": "3", "question": "Who ran it?", "is_impossible": True, "answers": []}]}]}]}
    items = module.pairs(data, seed=1)
    assert [(earlier, question) for earlier, question, *_ in items] == [
        ("Who built it?", "When did the line open?"), ("When did the line open?", "Who built it?")]
    _, _, excerpt, (start, end), golds = items[1]
    assert excerpt == text and excerpt[start:end] == "It was built by Margaret Olsen." and golds == ["Margaret Olsen"]

    class FirstQuestionsYear:
        """Answers with a year when the text it is asked starts with "When", else with the name."""

        def logits(self, question, texts):  # noqa: ANN001, ANN202
            return [fixed("1911" if question.startswith("When") else "Olsen").logits(question, texts)[0]
                    for _ in texts]

    report = module.compare(FirstQuestionsYear(), items)
    # alone: "1911" and "Olsen" (F1 2/3); after the other question: each answered as the other one, in its sentence
    assert report["questions"] == 2 and report["alone"] == round((1 + 2 / 3) / 2, 3)
    assert report["after_another_question"] < report["alone"]


@pytest.mark.parametrize(("text", "cut", "whole"), [
    ("The fee was $598,000 in all.", "598,000", "$598,000"),
    ("It rose by 12% last year.", "12", "12%"),
    ("The fee was $598,000 in all.", "598", "$598,000"),
    ("A Moscow-led bloc and Russia's view.", "Moscow", "Moscow"),
    ("A Moscow-led bloc and Russia's view.", "Russia", "Russia"),
    ("Led by Tigran Ter-Margaryan, head of it.", "Tigran Ter-Marg", "Tigran Ter-Margaryan"),
    ("Led by Tigran Ter-Margaryan, head of it.", "Tigran Ter-Margaryan,", "Tigran Ter-Margaryan"),
    ("She said it was \"free to leave\" then.", "free to leave", "free to leave"),
    ("They moved to the U.S. in 1990.", "U.S", "U.S."),
    ("The winner was Oslo.", "Oslo", "Oslo"),
    ("Built by (Margaret Olsen) alone.", "Margaret", "Margaret"),
], ids=["currency", "percent", "number-cut", "hyphen-stays", "apostrophe-stays", "word-cut", "comma", "quotes",
        "abbreviation", "full-stop", "bracket"])
def test_a_span_grows_to_whole_words_without_the_punctuation_around_them(text: str, cut: str, whole: str) -> None:
    from qa_service.extract import whole_words

    start = text.index(cut)
    a, b = whole_words(text, start, start + len(cut))
    assert text[a:b] == whole


@pytest.mark.parametrize(("text", "first", "last", "whole"), [
    ('The mayor said the bridge was "unsafe to cross" at night.', "unsafe", "night", '"unsafe to cross" at night'),
    ("It joined the World Meteorological Organization (WMO) in 1951.", "World", "WMO",
     "World Meteorological Organization (WMO)"),
    ('Critics called it "a rushed job" before the vote.', "rushed", "job", "rushed job"),
    ('He wrote "we sail at dawn" in his log.', "we sail", "log", '"we sail at dawn" in his log'),
    ('She said "the harbour is closed." Then she left.', "said", "closed", 'said "the harbour is closed."'),
    ("The guild (founded in 1820 by weavers) grew.", "1820", "grew", "1820 by weavers"),
    ("The guild grew (slowly at first, then fast) after 1850.", "grew", "slowly", "slowly"),
    ("Its lamp (a paraffin burner) lit the bay.", "paraffin", "burner", "paraffin burner"),
], ids=["closing-quote-inside", "bracket-open-inside", "no-quote-inside", "opening-quote-taken", "quote-after-stop",
        "lone-closer-cut", "lone-opener-cut", "inside-brackets"])
def test_a_span_has_no_lone_quote_or_bracket(text: str, first: str, last: str, whole: str) -> None:
    from qa_service.extract import whole_words

    start, end = text.index(first), text.index(last) + len(last)
    a, b = whole_words(text, start, end)
    assert text[a:b] == whole


def test_whole_words_leaves_a_bad_range_alone() -> None:
    from qa_service.extract import whole_words

    assert whole_words("abc", 2, 1) == (2, 1)
    assert whole_words("abc", 0, 9) == (0, 9)


def test_a_defining_sentence_the_reader_did_not_weigh_still_answers_with_a_finite_score() -> None:
    import json

    from qa_service.contract import answer_to_json

    text = ("The Harbour Line Authority (HLA) ran the trains. The HLA sold tickets at the pier. "
            "Its office was by the pier.")
    doc = Document("d", "The HLA", "hla.txt", "0" * 64, text)
    pipe = build_pipeline(Settings(), Corpus((doc,), tuple(passages(text))))

    class Backwards:
        """Prefers the last candidates: the defining first sentence comes last."""

        def logits(self, matrix):  # noqa: ANN001, ANN202
            return np.arange(len(matrix), dtype=np.float64)

    pipe.reader.chooser, pipe.reader.span_candidates = Backwards(), 1
    answer = pipe.ask("What does HLA stand for?")
    assert answer.answer is not None and answer.answer.text.startswith("The Harbour Line Authority (HLA)")
    assert np.isfinite(answer.answer.score)
    json.dumps(answer_to_json(answer), allow_nan=False)  # valid JSON: no Infinity


def test_the_answers_passage_is_listed_even_when_fewer_passages_are_asked_for() -> None:
    pipe = _railway_pipeline()
    question = "When were trains on the Harbour Line withdrawn?"
    ranked = [h.passage for h in pipe.retrieve(pipe.analyse(question))]
    assert len(ranked) == 2
    second = ranked[1]
    word = next(w for w in re.findall(r"\d{4}", second.text))  # a year only the second passage holds
    pipe.reader.span_model, pipe.reader.span_weight, pipe.reader.span_candidates = fixed(word), 10.0, 100
    pipe.reader.span_lead = 0.0  # every candidate is read
    answer = pipe.ask(question, top_k=1)
    assert answer.answer is not None and answer.answer.passage_id == second.id
    assert [p.hit.passage.id for p in answer.passages] == [second.id]  # the quoted passage, not the better one


class Texts:
    """A stand-in reader that records the texts it is given and finds no span in them."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def warm_up(self) -> None:
        pass

    def logits(self, question, texts):  # noqa: ANN001, ANN201
        self.seen.extend(texts)
        return [extract.TextLogits((), 0.0) for _ in texts]


LIBRARY = ("The library was founded in 1850. Its first reading room held two hundred books. A fire destroyed it "
           "in 1901. The city rebuilt it in stone. The new building opened in 1905. It has a garden.")


def _library_candidates(context: int):  # noqa: ANN202
    doc = Document("lib", "The Library", "lib.txt", "0" * 64, LIBRARY)
    pipe = build_pipeline(Settings(extractive_context=context), Corpus((doc,), tuple(passages(LIBRARY))))
    query = pipe.analyse("When did the fire destroy the library?")
    hit = pipe.retrieve(query)[0]
    from qa_service.learned import Candidate

    sentences = [span for span, _ in pipe.index.sentences(hit.position)]
    make = lambda n: Candidate(hit, n, *sentences[n], LIBRARY[slice(*sentences[n])], False)  # noqa: E731
    return pipe.reader, hit, make


@pytest.mark.parametrize(("context", "numbers", "excerpts"), [
    (0, [2, 4], ["A fire destroyed it in 1901.", "The new building opened in 1905."]),
    (1, [2, 4], ["Its first reading room held two hundred books. A fire destroyed it in 1901. The city rebuilt it "
                 "in stone. The new building opened in 1905. It has a garden."] * 2),
    (1, [0, 5], ["The library was founded in 1850. Its first reading room held two hundred books.",
                 "The new building opened in 1905. It has a garden."]),
    (100, [2], [LIBRARY]),
], ids=["sentence-alone", "touching-excerpts-merge", "apart-and-at-the-ends", "whole-passage"])
def test_the_reader_reads_each_candidate_with_its_neighbours(context: int, numbers: list[int],
                                                               excerpts: list[str]) -> None:
    reader, hit, make = _library_candidates(context)
    candidates = [make(n) for n in numbers]
    got = reader.excerpts(candidates)
    assert [LIBRARY[start:end] for _, start, end in got] == excerpts
    assert len({n for n, _, _ in got}) == len(set(excerpts))  # one reading per distinct excerpt
    reader.span_model = Texts()
    reader._readings("When did the fire destroy the library?", candidates)
    assert sorted(reader.span_model.seen) == sorted(set(excerpts))


def test_a_span_read_in_an_excerpt_points_into_the_passage() -> None:
    reader, hit, make = _library_candidates(1)
    reader.span_model = fixed("1905")
    [reading] = reader._readings("When did the new building open?", [make(4)])
    assert LIBRARY[reading.start:reading.end] == "1905"
    first = make(0)  # 1905 is not in sentence 0: its best span stays inside it, and scores lower
    [outside] = reader._readings("When did the new building open?", [first])
    assert first.start <= outside.start < outside.end <= first.end and outside.score < reading.score


def test_a_sentence_inside_an_excerpt_already_read_gets_its_best_span_there_without_more_reading() -> None:
    reader, hit, make = _library_candidates(1)
    reader.span_model = Texts()
    readings = reader._readings("When did the new building open?", [make(2)], [make(3), make(1)])
    assert reader.span_model.seen == [LIBRARY[LIBRARY.index("Its first"):LIBRARY.index(" The new")]]  # one excerpt
    assert len(readings) == 3
    with pytest.raises(ValueError, match="sentence 5"):  # it lies outside the excerpt: it was not read
        reader._readings("When did the new building open?", [make(2)], [make(5)])
    reader.span_model = fixed("1905")
    [_, beside] = reader._readings("When did the new building open?", [make(3)], [make(4)])
    assert LIBRARY[beside.start:beside.end] == "1905"


def _restating_library(neighbours: bool):  # noqa: ANN202
    """The library pipeline whose chooser prefers the sentence that restates the question
    (sentence 3), a reader sure of "1905" (sentence 4, after it) and nothing else."""
    reader, hit, make = _library_candidates(1)
    logits = np.full(6, -6.0)
    logits[3], logits[0] = 2.0, 1.0
    reader.chooser = type("Chooser", (), {"logits": lambda self, matrix: logits})()
    reader.span_model, reader.span_weight, reader.span_neighbours = fixed("1905"), 0.5, neighbours
    return reader, hit


def test_the_sentence_after_a_restatement_competes_when_the_reader_has_read_it() -> None:
    """With ``extractive_neighbours`` the other sentences of the excerpts read for the chooser's
    two best compete, weighed the same way; the decider's signals do not move."""
    before, hit = _restating_library(False)
    after, _ = _restating_library(True)
    pipe = build_pipeline(Settings(), Corpus((Document("lib", "The Library", "lib.txt", "0" * 64, LIBRARY),),
                                             tuple(passages(LIBRARY))))
    query = pipe.analyse("When did the city rebuild the library?")
    kept = before.read(query, [hit])
    moved = after.read(query, [hit])
    assert kept is not None and kept.text == "The city rebuilt it in stone." and kept.span is None
    assert moved is not None and moved.text == "The new building opened in 1905."
    assert moved.span is not None and moved.span.text == "1905"
    assert moved.signals == kept.signals  # the decision to answer is made as it was trained


@pytest.mark.parametrize(("text", "read_as"), [
    ("Council shuts bridge\n\nThe bridge stays shut.", "Council shuts bridge.\nThe bridge stays shut."),
    ("A heading\r\nText.", "A heading.\nText."),
    ("Item 3  \nItem 4\n", "Item 3  .Item 4."),
    ("Done.\nNext", "Done.\nNext"),
    ('He said "no"\nThen left.', 'He said "no"\nThen left.'),
    ("No line breaks at all", "No line breaks at all"),
], ids=["headline", "crlf", "list", "stopped-already", "quote", "none"])
def test_a_line_without_punctuation_ends_a_sentence_for_the_reader(text: str, read_as: str) -> None:
    assert extract.stopped_lines(text) == read_as
    assert len(extract.stopped_lines(text)) == len(text)  # offsets into the text still hold


HEADLINES = [
    ("why did the council close the bridge?",
     "Council shuts Mill Bridge over rusted cables\n\nThe bridge will stay closed until spring, the mayor said.",
     "rusted cables"),
    ("why did the club cancel the festival?",
     "Club cancels summer festival after storm damage\n\nTickets will be refunded in full.", "storm damage"),
    ("why was the museum closed?", "Museum closed because of a burst water pipe\nVisitors were sent home on Monday.",
     "burst water pipe"),
]


@pytest.mark.parametrize(("question", "text", "reason"), HEADLINES, ids=["bridge", "festival", "museum"])
def test_a_headline_is_read_as_a_sentence_of_its_own(model: SpanModel, monkeypatch, question: str, text: str,
                                                     reason: str) -> None:  # noqa: ANN001
    headline = (0, text.index("\n"))
    stopped = model.logits(question, [text])[0].best(headline)
    assert text[stopped.start:stopped.end] == reason
    monkeypatch.setattr(extract, "stopped_lines", lambda t: t)  # read as one run-on line, the reader is less sure
    assert model.logits(question, [text])[0].best(headline).score < stopped.score


def test_the_refusal_measurement_reads_what_the_service_weighs(tmp_path, capsys) -> None:  # noqa: ANN001
    """training/measure_reader_refusal.py asks the service each question of a SQuAD 2.0 file and
    reports the AUC of the reader's scores, answerable against unanswerable, and with
    ``--withheld`` against answerable questions asked without their paragraph."""
    import importlib.util
    import json
    from pathlib import Path

    def qa(n: int, question: str, answer: str | None) -> dict:
        found = [{"text": answer, "answer_start": RAILWAY.index(answer)}] if answer else []
        return {"id": f"q{n}", "question": question, "answers": found, "is_impossible": answer is None}

    depot = "The Harbour Line's depot stood at Kelso Quay. Its trains were painted green."
    squad = {"version": "v2.0", "data": [{"title": "Harbour", "paragraphs": [{"context": RAILWAY, "qas": [
        qa(1, "Who built the Harbour Line?", "Margaret Olsen"), qa(2, "When did the Harbour Line open?", "1911"),
        qa(3, "Who designed the Harbour Line's tunnel?", None), qa(4, "How long is the Harbour Line?", None)]},
        {"context": depot, "qas": [{"id": "q5", "question": "Where was the Harbour Line's depot?", "is_impossible": False,
                                    "answers": [{"text": "Kelso Quay", "answer_start": depot.index("Kelso Quay")}]}]}]}]}
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(squad))
    script = Path(__file__).resolve().parent.parent / "training" / "measure_reader_refusal.py"
    spec = importlib.util.spec_from_file_location("measure_reader_refusal", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from qa_service import read

    readings = read.LearnedReader._readings
    assert module.main([str(path)]) == 0
    assert read.LearnedReader._readings is readings  # it recorded them by replacing the method, and put it back
    report = json.loads(capsys.readouterr().out)
    assert report["answerable/unanswerable"] == "3/2" and report["answerable/withheld"] == "3/0"
    assert all(0 <= report[f"unanswerable:{k}"] <= 1 for k in ("best_span", "minus_no_answer", "best_minus_no_answer"))
    assert not any(k.startswith("withheld:") for k in report)  # no withheld question: no figure
    assert module.main([str(path), "--withheld", "2"]) == 0  # both paragraphs withheld in turn
    report = json.loads(capsys.readouterr().out)
    answerable, withheld = map(int, report["answerable/withheld"].split("/"))
    assert answerable == 3 and 1 <= withheld <= 3  # each asked of the other paragraph, when it matches a word
    assert 0 <= report["withheld:best_minus_no_answer"] <= 1


def test_a_count_question_gets_no_span_from_a_reader_pointing_at_a_sum_of_money() -> None:
    """"How many ...?" is not answered by "$4.5 million", whatever the reader says; a count is kept."""
    from qa_service.read import _with_read_span
    from qa_service.values import AnswerSentence

    text = "The charity raised $4.5 million and helped 300 families in 2019."
    doc = Document("c", "Charity", "c.txt", "0" * 64, text)
    pipe = build_pipeline(Settings(), Corpus((doc,), tuple(passages(text))))
    query = pipe.analyse("How many families did the charity help?")
    sentence = AnswerSentence(text, pipe.corpus.passages[0].id, 1.0, 0, len(text))
    at = text.index("$4.5 million")
    assert _with_read_span(sentence, Reading(at, at + len("$4.5 million"), 5.0, 0.0), text, query) is None
    at = text.index("300")
    counted = _with_read_span(sentence, Reading(at, at + 3, 5.0, 0.0), text, query)
    assert counted is not None and counted.span is not None and counted.span.text == "300"
    money = pipe.analyse("How much money did the charity raise?")
    at = text.index("$4.5 million")
    kept = _with_read_span(sentence, Reading(at, at + len("$4.5 million"), 5.0, 0.0), text, money)
    assert kept is not None and kept.span is not None and kept.span.text == "$4.5 million"


def test_a_year_question_gets_no_span_from_a_reader_pointing_at_a_date_without_one() -> None:
    from qa_service.read import _with_read_span
    from qa_service.values import AnswerSentence

    text = "The ferry first sailed on 4 May, and in 1932 the line was extended."
    doc = Document("f", "Ferry", "f.txt", "0" * 64, text)
    pipe = build_pipeline(Settings(), Corpus((doc,), tuple(passages(text))))
    sentence = AnswerSentence(text, pipe.corpus.passages[0].id, 1.0, 0, len(text))
    year = pipe.analyse("In what year did the ferry first sail?")
    at = text.index("4 May")
    assert _with_read_span(sentence, Reading(at, at + 5, 5.0, 0.0), text, year) is None
    when = pipe.analyse("When did the ferry first sail?")
    kept = _with_read_span(sentence, Reading(at, at + 5, 5.0, 0.0), text, when)
    assert kept is not None and kept.span is not None and kept.span.text == "4 May"
    at = text.index("1932")
    dated = _with_read_span(sentence, Reading(at, at + 4, 5.0, 0.0), text, year)
    assert dated is not None and dated.span is not None and dated.span.text == "1932"


MILLS = ["The old mill at Brandt burned in 1911.", "The new mill at Brandt burned in 1962."]


def _mills_pipeline(*texts: str):  # noqa: ANN202
    doc = Document("m", "The mills of Brandt", "mills.txt", "0" * 64, " ".join(texts))
    pipe = build_pipeline(Settings(), Corpus((doc,), tuple(passages(*texts))))
    pipe.reader.span_weight, pipe.reader.span_candidates, pipe.reader.span_lead = 10.0, 100, 0.0  # all read
    return pipe


def test_the_reader_weighs_a_sentence_by_its_spans_lead_over_no_answer() -> None:
    """A span scored a little higher in an excerpt the reader thinks lacks the answer loses to one
    in an excerpt it is sure of: SQuAD 2.0's reading of the two scores."""
    pipe = _mills_pipeline(*MILLS)
    question = "When did the mill at Brandt burn?"
    query = pipe.analyse(question)
    hits = pipe.retrieve(query)
    pipe.reader.span_model = Scripted({"1911": 5.0, "1962": 4.5}, {"1911": 5.0, "1962": 4.5},
                                      {"old": 8.0, "new": -5.0})
    chosen = pipe.reader.read(query, hits)
    assert chosen is not None and chosen.span is not None and chosen.span.text == "1962"  # 9 - (-5) beats 10 - 8
    pipe.reader.span_model = Scripted({"1911": 5.0, "1962": 4.5}, {"1911": 5.0, "1962": 4.5}, {})
    chosen = pipe.reader.read(query, hits)  # the same "no answer" score everywhere: the higher span wins
    assert chosen is not None and chosen.span is not None and chosen.span.text == "1911"


def test_a_span_that_cannot_answer_as_asked_does_not_weigh_for_its_sentence() -> None:
    """"Why ...?" is not answered by a bare name: the sentence whose best span is one is weighed
    as a sentence without a span, and the one giving a reason wins."""
    pipe = _mills_pipeline("The old mill at Brandt closed, and its owner moved to Oslo.",
                           "The new mill at Brandt closed because the river dried up.")
    query = pipe.analyse("Why did the mill at Brandt close?")
    hits = pipe.retrieve(query)
    pipe.reader.span_model = Scripted({"Oslo": 9.0, "because": 5.0}, {"Oslo": 9.0, "up": 5.0}, {})
    chosen = pipe.reader.read(query, hits)
    assert chosen is not None and "river" in chosen.text
    assert chosen.span is not None and chosen.span.text == "because the river dried up"


def test_a_yes_no_question_gets_no_name_emphasised_as_its_answer() -> None:
    """"Did the mill at Brandt close?" is answered by the sentence; its best span "Oslo" is no
    answer to it. A question offering a choice ("... in Oslo or in Bergen?") is answered by the choice."""
    pipe = _mills_pipeline("The old mill at Brandt closed in the spring, and its owner moved to Oslo.",
                           "The new mill at Brandt still runs.")
    pipe.reader.span_model = Scripted({"Oslo": 9.0}, {"Oslo": 9.0}, {})
    answer = pipe.ask("Did the old mill at Brandt close?")
    assert answer.answer_type == "yes_no"
    assert answer.answer is not None and "closed" in answer.answer.text
    assert answer.answer.span is None or "Oslo" not in answer.answer.span.text
    chosen = pipe.ask("Did the owner of the old mill at Brandt move to Oslo or to Bergen?")
    assert chosen.answer is not None and chosen.answer.span is not None and chosen.answer.span.text == "Oslo"


@pytest.mark.parametrize(("lead", "behind", "read"), [
    (0.0, 3.0, ["The library was founded in 1850.", "A fire destroyed it in 1901."]),  # off: both are read
    (2.0, 2.0, ["The library was founded in 1850."]),  # the best leads by 2: only it is read
    (2.0, 1.5, ["The library was founded in 1850.", "A fire destroyed it in 1901."]),  # by 1.5: both
], ids=["off", "lead-reached", "lead-not-reached"])
def test_a_chooser_sure_enough_has_only_its_best_sentence_read(lead: float, behind: float, read: list[str]) -> None:
    """``extractive_lead``: when the chooser's best sentence leads the next by at least this, only
    the best one's excerpt is read (its span still comes from the reader)."""
    reader, hit, _ = _library_candidates(0)
    logits = np.full(6, -6.0)
    logits[0], logits[2] = 3.0, 3.0 - behind
    reader.chooser = type("Chooser", (), {"logits": lambda self, matrix: logits})()
    reader.span_model, reader.span_weight, reader.span_lead = Texts(), 0.5, lead
    pipe = build_pipeline(Settings(), Corpus((Document("lib", "The Library", "lib.txt", "0" * 64, LIBRARY),),
                                             tuple(passages(LIBRARY))))
    chosen = reader.read(pipe.analyse("When was the library founded?"), [hit])
    assert sorted(reader.span_model.seen) == sorted(read)
    assert chosen is not None and chosen.text == "The library was founded in 1850."


def test_the_lead_is_a_setting() -> None:
    assert build_pipeline(Settings()).reader.span_lead == Settings().extractive_lead == 3.0
    assert build_pipeline(Settings(extractive_lead=0)).reader.span_lead == 0.0
