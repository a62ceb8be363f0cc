"""The learned span chooser: where the span rules find nothing, trees trained on SQuAD 2.0 pick
the phrase likeliest to be the answer, and give it only when sure enough."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa_service.errors import SettingsError
from qa_service.learned import SpanChooser, load_span_chooser
from qa_service.pipeline import SPAN_MODEL, span_chooser
from qa_service.read import with_span
from qa_service.spans import SPAN_FEATURES, Candidate, answer_type, find_span, span_candidates
from qa_service.values import AnswerSentence

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_span_model_matches_the_code_and_records_how_it_was_made() -> None:
    chooser = span_chooser()
    assert chooser.model.features == SPAN_FEATURES and 0 < chooser.threshold < 1
    data = json.loads(SPAN_MODEL.read_text())
    assert data["data"]["sha256"] == "b67e6491dca57109b5e3bea214db9c67e961c5d8eb4a3b4508756425c313f173"
    cv = data["cross_validated"]
    at = cv["by_threshold"][str(data["threshold"])]
    # out of fold, the spans it gives at its threshold beat the sentences they stand for, and the whole
    assert at["learned_f1_given"] >= data["gain"] * at["their_sentences_f1"]
    assert at["f1"] > cv["rules_then_sentence_f1"] and at["spans_given"] > cv["rules_given"]


@pytest.mark.parametrize(("sentence", "question", "expected"), [
    ("Most of the island is covered by dense tropical rainforest.", "What covers most of the island?",
     "dense tropical rainforest"),
    ("The glacier feeds a turquoise lake that attracts hikers every summer.", "What does the glacier feed?",
     "turquoise lake"),
    ("The committee approved a new budget for the harbour on Monday.", "What did the committee approve?", "budget"),
])
def test_where_the_rules_find_nothing_the_learned_span_answers(sentence: str, question: str, expected: str) -> None:
    kind = answer_type(question)
    assert find_span(sentence, question, kind) is None
    chosen = span_chooser().choose(sentence, question, kind)
    assert chosen is not None and expected in chosen.text and sentence[chosen.start : chosen.end] == chosen.text


def test_no_span_when_the_sentence_does_not_answer() -> None:
    sentence, question = "The bakery sells rye bread and poppy-seed rolls.", "How is the weather in Lisbon?"
    assert span_chooser().choose(sentence, question, answer_type(question)) is None


def test_candidates_never_restate_the_question_and_carry_every_feature() -> None:
    sentence = "The bridge over the Elbe was opened in 1936 by the mayor, Karl Weber, after four years of work."
    question = "Who opened the bridge over the Elbe?"
    found = span_candidates(sentence, question, answer_type(question))
    texts = [c.text for c, _ in found]
    assert "Karl Weber" in texts and "1936" in texts and not any("Elbe" in t or "bridge" in t for t in texts)
    assert all(len(f) == len(SPAN_FEATURES) and sentence[c.start : c.end] == c.text for c, f in found)


def test_the_rules_come_first_and_the_chooser_only_fills_their_gaps(monkeypatch: pytest.MonkeyPatch) -> None:
    from qa_service.values import Query

    class Never(SpanChooser):
        def choose(self, *args: object) -> Candidate | None:  # noqa: ARG002
            raise AssertionError("asked although the rules had a span")

    question = "When did the museum open?"
    text = "The museum opened in 1911 on the river bank."
    sentence = AnswerSentence(text, "d-p001", 1.0, 10, 10 + len(text))
    def query_of(text: str) -> Query:
        return Query(text=text, turns=(), weights={}, kind=None, coverage=1.0, missing=(), names=(),
                     answer_type=answer_type(text))

    query = query_of(question)
    given = with_span(sentence, query, Never(span_chooser().model, 0.0))
    assert given.span is not None and given.span.text == "1911" and (given.span.start, given.span.end) == (31, 35)
    unsure = SpanChooser(span_chooser().model, 1.0)  # never sure enough: no span rather than a guess
    open_question = "What does the glacier feed?"
    feeding = AnswerSentence("The glacier feeds a turquoise lake.", "d-p001", 1.0, 0, 35)
    assert with_span(feeding, query_of(open_question), unsure).span is None
    assert with_span(feeding, query_of(open_question), span_chooser()).span.text == "turquoise lake"


def test_the_choosers_span_must_fit_the_question_as_the_rules_and_the_readers_do() -> None:
    from qa_service.spans import Candidate as SpanCandidate
    from qa_service.values import Query

    class Always(SpanChooser):
        def __init__(self, text: str) -> None:
            self.text = text

        def choose(self, sentence: str, question: str, kind: str, rule: object = None) -> SpanCandidate | None:
            start = sentence.index(self.text)
            return SpanCandidate("other", start, start + len(self.text), self.text)

    question = "What does ESA stand for?"
    query = Query(text=question, turns=(), weights={}, kind=None, coverage=1.0, missing=(), names=(),
                  answer_type=answer_type(question))
    text = "It stands alone in sending crews beyond orbit."
    sentence = AnswerSentence(text, "d-p001", 1.0, 0, len(text))
    assert with_span(sentence, query, Always("alone in sending crews beyond orbit")).span is None
    spelled = "The European Space Agency sent crews beyond orbit."
    sentence = AnswerSentence(spelled, "d-p001", 1.0, 0, len(spelled))
    assert with_span(sentence, query, Always("European Space Agency")).span.text == "European Space Agency"


def test_a_broken_span_model_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "span-model.json"
    path.write_text(json.dumps({"model": {"kind": "trees"}, "threshold": 0.3}))
    with pytest.raises(SettingsError, match="not an answer model"):
        load_span_chooser(path)
    path.write_text(json.dumps({"threshold": 0.3}))
    with pytest.raises(SettingsError, match="not a span model"):
        load_span_chooser(path)
    data = json.loads(SPAN_MODEL.read_text())
    data["threshold"] = 2
    path.write_text(json.dumps(data))
    with pytest.raises(SettingsError, match="threshold"):
        load_span_chooser(path)


def test_the_training_script_writes_a_span_model_the_service_reads(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "span-model.json"
    done = subprocess.run([sys.executable, str(ROOT / "training" / "train_span_model.py"), "--articles", "2",
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    chooser, _ = load_span_chooser(out)
    data = json.loads(out.read_text())
    assert len(data["data"]["articles"]) == 2 and data["data"]["candidates"] > 1000
    assert chooser.model.features == SPAN_FEATURES and 0 <= chooser.threshold <= 1
    likely = chooser.model.probabilities(np.zeros((1, len(SPAN_FEATURES))))
    assert 0 <= likely[0] <= 1


@pytest.mark.parametrize("question", ["When did the ferry company close its office?", "How many ferries sail to Oban?",
                                      "How much did the new ferry cost?", "What percentage of trips were late?"])
def test_a_question_asking_for_a_figure_gets_no_phrase_in_place_of_one(question: str) -> None:
    """When the rules find no date, number, sum or share, no other phrase answers "when" or "how many"."""
    sentence = "The ferry company closed its office in Oban and moved the crews to the harbour at Mallaig."
    kind = answer_type(question)
    assert find_span(sentence, question, kind) is None
    assert span_candidates(sentence, question, kind) == []
    assert span_chooser().choose(sentence, question, kind) is None
