"""Evaluation: metric arithmetic against hand-computed values, question sets, and `qa-service eval`."""

from __future__ import annotations

import json
import math
import re
import threading
from pathlib import Path

import pytest
import waitress

from qa_service.cli import main
from qa_service.errors import CorpusError
from qa_service.evaluate import (
    contains_answer,
    evaluate,
    load_questions,
    load_squad,
    mrr_at,
    ndcg_at,
)
from qa_service.config import Settings
from qa_service.ingest import load_corpus
from qa_service.pipeline import Pipeline
from qa_service.web import create_app

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "corpus" / "questions.jsonl"
SQUAD = ROOT / "corpus" / "squad-expmrc" / "expmrc-squad-dev.json"


# ---------------------------------------------------------------- metric arithmetic


@pytest.mark.parametrize(
    ("ranks", "k", "expected"),
    [([1, 2, None, 4], 10, (1 + 1 / 2 + 0 + 1 / 4) / 4), ([11], 10, 0.0), ([3], 3, 1 / 3), ([3], 2, 0.0), ([], 10, 0.0)],
    ids=["mixed", "beyond-k", "at-k", "cut-off", "empty"],
)
def test_mrr_by_hand(ranks: list, k: int, expected: float) -> None:
    assert mrr_at(ranks, k) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("relevance", "totals", "expected"),
    [
        ([[True, False, True]], [2], (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))),
        ([[True]], [3], 1 / (1 + 1 / math.log2(3) + 1 / math.log2(4))),
        ([[False, True]], [1], 1 / math.log2(3)),
        ([[False, False]], [0], 0.0),
        ([[True], [False]], [1, 1], 0.5),
    ],
    ids=["two-of-two", "one-of-three-found", "second-place", "nothing-relevant", "mean-over-questions"],
)
def test_ndcg_by_hand(relevance: list, totals: list, expected: float) -> None:
    assert ndcg_at(relevance, totals, 10) == pytest.approx(expected)


def test_answer_matching_ignores_case_quotes_and_spacing() -> None:
    assert contains_answer('It was “free to  leave” the pact.', ['"free to leave"'])
    assert contains_answer("OWES $598,000", ["$598,000"])
    assert not contains_answer("owes $598", ["$598,000"])
    assert not contains_answer(None, ["x"])


# ---------------------------------------------------------------- the question set


def test_bundled_question_set_meets_the_brief() -> None:
    questions = load_questions(QUESTIONS)
    types = [q.type for q in questions]
    assert len(questions) >= 50
    assert types.count("paraphrase") >= 10 and types.count("unanswerable") >= 6 and types.count("followup") >= 8
    assert all(q.history for q in questions if q.type == "followup")
    text = load_corpus(ROOT / "corpus").documents[0].text
    for q in questions:
        for answer in q.answers:  # gold answers are strings of the article, whatever the passage split
            assert answer in text, (q.id, answer)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{oops", "invalid JSON"),
        ('{"id": "a", "question": "", "answers": ["x"]}', "'question'"),
        ('{"id": "a", "question": "Q?", "answers": "x"}', "'answers'"),
        ('{"id": "a", "question": "Q?", "answers": ["x"], "type": "riddle"}', "'type'"),
        ('{"id": "a", "question": "Q?", "answers": [], "type": "fact"}', "unanswerable"),
        ('{"question": "Q?", "answers": ["x"]}', "'id'"),
    ],
    ids=["bad-json", "empty-question", "answers-not-list", "unknown-type", "fact-without-answer", "no-id"],
)
def test_bad_question_lines_are_named(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "ok", "question": "Fine?", "answers": ["yes"]}\n' + line + "\n")
    with pytest.raises(CorpusError, match=message) as info:
        load_questions(path)
    assert f"{path}:2" in str(info.value)


# ---------------------------------------------------------------- SQuAD


def _squad_fixture(path: Path) -> Path:
    data = {"version": "v2.0", "data": [
        {"title": "Lighthouses", "paragraphs": [
            {"context": "The Vardø lighthouse was built in 1896. Its lamp burned whale oil.",
             "qas": [{"id": "a1", "question": "When was the Vardø lighthouse built?",
                      "answers": [{"text": "1896", "answer_start": 35}],
                      "evidences": ["The Vardø lighthouse was built in 1896."]},
                     {"id": "a2", "question": "Who designed the Eiffel Tower?", "answers": [], "is_impossible": True}]},
            {"context": "Keepers left the island in 1985 when the station was automated.",
             "qas": [{"id": "a3", "question": "When was the station automated?",
                      "answers": [{"text": "1985", "answer_start": 27}]}]},
        ]},
        {"title": "Bridges", "paragraphs": [
            {"context": "The old stone bridge over the river reopened in 2001 after repairs.",
             "qas": [{"id": "b1", "question": "When did the stone bridge reopen?",
                      "answers": [{"text": "2001", "answer_start": 48}]}]},
        ]},
    ]}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_squad_maps_articles_and_paragraphs(tmp_path: Path) -> None:
    corpus, questions = load_squad(_squad_fixture(tmp_path / "squad.json"))
    assert [d.id for d in corpus.documents] == ["lighthouses", "bridges"]
    assert [p.id for p in corpus.passages] == ["lighthouses-p001", "lighthouses-p002", "bridges-p001"]
    for p in corpus.passages:
        assert corpus.document(p.document).text[p.start : p.end] == p.text
    by_id = {q.id: q for q in questions}
    assert by_id["a3"].gold_passages == ("lighthouses-p002",) and by_id["a3"].pool == "lighthouses"
    assert not by_id["a2"].answerable


@pytest.mark.parametrize("pool", ["article", "global"])
def test_squad_eval_scores_gold_paragraphs_and_abstention(tmp_path: Path, pool: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    squad = _squad_fixture(tmp_path / "squad.json")
    assert main(["eval", "--squad", str(squad), "--pool", pool, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    m = report["metrics"]
    assert m["hit@1"] == 1.0 and m["short_answer"] == 1.0 and m["evidence"] == pytest.approx(1 / 3)
    assert m["abstain_recall"] == 1.0 and m["abstain_precision"] == 1.0
    assert m["false_abstention_rate"] == 0.0  # SQuAD 2.0: answerable questions refused, as a share
    assert report["counts"] == {"questions": 4, "answerable": 3, "unanswerable": 1, "followups": 0,
                                "documents": 2, "passages": 3}
    assert report["baseline"]["hit@1"] <= 1.0


def test_reliability_bins_answers_by_confidence_against_hand_computed_accuracy() -> None:
    from qa_service.evaluate import Outcome, reliability
    from qa_service.values import Question

    def outcome(confidence: float | None, right: bool, answered: bool = True, answerable: bool = True) -> Outcome:
        q = Question(id="x", question="q?", answers=("a",) if answerable else (), type="fact" if answerable
                     else "unanswerable")
        return Outcome(q, (), (), "a" if answered else None, None, 1.0, None, 0, right, False, confidence=confidence)

    rows = reliability([outcome(0.9, True), outcome(0.85, False), outcome(1.0, True), outcome(0.3, False),
                        outcome(0.1, False, answered=False),  # refused: not an answer given
                        outcome(None, True),  # no confidence: not counted
                        outcome(0.35, False, answerable=False)])  # answered an unanswerable one: wrong
    assert rows == [{"low": 0.2, "high": 0.4, "answers": 2, "confidence": pytest.approx(0.325), "accuracy": 0.0},
                    {"low": 0.8, "high": 1.0, "answers": 3, "confidence": pytest.approx(0.9167, abs=1e-4),
                     "accuracy": pytest.approx(2 / 3)}]
    assert reliability([outcome(None, True)]) == []


def test_squad_file_that_is_not_squad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"data": [{"title": "T"}]}')
    assert main(["eval", "--squad", str(bad)]) == 1
    assert "not SQuAD JSON" in capsys.readouterr().err


# ---------------------------------------------------------------- the command


def test_text_report_has_metrics_baseline_types_and_failures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval"]) == 0
    out = capsys.readouterr().out
    for needle in ("hit@1", "hit@10", "mrr@10", "ndcg@10", "short_answer", "abstain_precision", "abstain_recall",
                   "followup", "latency_p50_ms", "latency_p95_ms", "baseline", "by type", "failures:"):
        assert needle in out
    assert re.search(r"first relevant passage: (\d+|none in top 10)", out)


def test_json_report_and_floors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--json", "--k", "1,2", "--fail-under", "hit@1=0.0"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"hit@1", "hit@2", "mrr@10"} <= set(report["metrics"]) and report["failed_floors"] == []
    assert main(["eval", "--fail-under", "hit@1=1.01"]) == 1
    assert "below the floor: hit@1" in capsys.readouterr().err
    assert main(["eval", "--fail-under", "nonsense=1"]) == 1
    err = capsys.readouterr().err
    assert "unknown metric" in err and err.count("\n") == 1


def test_html_report_is_self_contained(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert main(["eval", "--html", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "<svg" in page and "baseline" in page and "Failures" in page
    assert not re.search(r"(src|href)=[\"']?https?:", page)
    assert "<script" not in page


def test_grid_prints_one_row_per_combination(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--grid", "scorer=okapi,plus", "passage_words=40,80"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0].startswith("settings") and len(rows) == 5
    assert main(["eval", "--grid", "k1=abc"]) == 1


def test_url_mode_gives_the_same_report_as_in_process(pipeline: Pipeline) -> None:
    server = waitress.create_server(create_app(pipeline), host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.effective_port}"
        questions = load_questions(QUESTIONS)
        remote = evaluate(questions, url=url, baseline=False)
        local = evaluate(questions, pipeline.corpus, Settings(corpus=ROOT / "corpus"), baseline=False)
        quality = {k: v for k, v in local.metrics.items() if not k.startswith("latency")}
        assert {k: remote.metrics[k] for k in quality} == quality
        assert remote.counts == local.counts
    finally:
        server.close()


def test_url_mode_with_no_server_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--url", "http://127.0.0.1:9"]) == 1
    assert "cannot reach the server" in capsys.readouterr().err


# ---------------------------------------------------------------- the quality gate (floors we reach)

# Floors just under what the defaults (words + meaning) reach; the words-only path keeps its own.
OWN_FLOORS = ["hit@1=0.85", "hit@3=0.95", "mrr@10=0.90", "ndcg@10=0.90", "short_answer=0.745", "followup=0.85",
              "abstain_recall=0.22", "span_f1=0.58"]
# (2026-12-01, a definite description in other words than the documents' whose nearest word in meaning
# an earlier question used ("the trip" after "Who did he travel with?") leans on the conversation:
# follow-ups .850 -> .900, short answer .746 -> .761, span F1 .582 -> .596, answerable refused 6 -> 5.
# The follow-up floor keeps one conversation of room: q077's middle turn sits at the decider's
# threshold and is answered on a VNNI CPU, refused on others; short answer and span F1 keep one question.)
# (2026-12-01, a demonstrative standing alone makes a question a follow-up ("Does Yerevan accept that?"):
# hit@1 .831 -> .845, hit@3 .944 -> .958; then the answer's passage listed first (answer_first, chosen on
# the SQuAD 2.0 subset: hit@1 .863 -> .870): hit@1 .845 -> .859, MRR .900 -> .911, nDCG .897 -> .906;
# words only, where it does not apply, hit@1 .746; ExpMRC hit@1 .886 -> .892, MRR .930 -> .934. Measured on an Intel Xeon
# (AVX-512, no VNNI), where ExpMRC's short answer is .814 (.816 on the AMD EPYC before, the same code:
# the float parts of the models round otherwise), so that floor fell to .81.)
# (2026-11-30, the reader weighing a sentence by its span's lead over "no answer", and no span that cannot
# answer as asked: hit@1 .817 -> .831, MRR .876 -> .885, nDCG .876 -> .883, short answer .718 -> .746,
# follow-ups .800 -> .850, span F1 .495 -> .509, on the AVX2 CPU CI runs on; then a follow-up read in its own
# words: span F1 .509 -> .578.)
# (2026-11-30, the models' weights made uint8 (training/unsigned_weights.py) and the figures measured on
# a CPU without VNNI (AMD EPYC, AVX2), the kind CI now runs on: hit@1 .831 -> .817, MRR .885 -> .876,
# nDCG .883 -> .876, short answer .732 -> .718, follow-ups .850 -> .800: one conversation (q077), whose
# middle turn sits at the decider's threshold, is answered on a VNNI CPU and refused on this one.
# With int8 weights this CPU had saturated the integer products: README, The same numbers on every CPU.)
# (2026-11-30, the decider retrained on what the service reads, with on-topic questions whose
# paragraph is withheld as negatives (training/train_decider.py): on ExpMRC with every gold paragraph
# withheld in turn, such questions answered 354 -> 311 of 501, answerable ones refused 18 -> 22; here
# short answer .746 -> .732 (one paraphrase refused), span F1 .509 -> .495; README, The decider.)
# (2026-11-30, low coverage judged by the decider when the answer sentence is close in meaning,
# coverage_by_meaning 0.4 calibrated on the SQuAD 2.0 subset: short answer .732 -> .746, span F1
# .493 -> .509, answerable questions refused 11 -> 8; README, Questions in other words.)
# (2026-11-30, a question in a conversation that the decider would refuse alone for low confidence
# is read once more as leaning on the last turn, kept when the decider takes it: follow-ups
# .80 -> .85, short answer .718 -> .732, hit@1 .817 -> .831; README, Follow-ups.)
# (2026-11-30, a follow-up's answer sentence compared with the new question's own meaning as much
# as with the conversation's: follow-ups .75 -> .80, short answer .704 -> .718; README, Follow-ups.)
# (2026-11-30, the fine-tuned sentence encoder and semantic_weight 1, both chosen on the SQuAD 2.0
# subset: hit@1 .775 -> .817, hit@3 .915 -> .944, short answer .662 -> .704, follow-ups .65 -> .75,
# span F1 .465 -> .493; the floors rose with them. On ExpMRC hit@1 fell .902 -> .886 (per article)
# and MRR .937 -> .930 while short answer rose .802 -> .818, so those two floors fell: README,
# The fine-tuned sentence encoder.)
# (2026-11-30, the reader retrained with why/how questions 4x and reading one sentence either side:
# span F1 .481 -> .465 here, ExpMRC 55.5 -> 56.5; the card's example answered with its reason.)
# (2026-11-29, the extractive reader: span F1 .410 -> .481, short answer .690 -> .662, two facts
# lost; on ExpMRC short answer .756 -> .804 and span F1 37.4 -> 55.5. README, The extractive reader.)
# (2026-11-29, words the documents lack searched by meaning: hit@1 .746 -> .775, false refusals
# 12 -> 9 of 71, and one unanswerable question fewer refused, 3 -> 2 of 9: "Putin" now searches
# "Russian". The settings were calibrated on the SQuAD 2.0 subset, not on this set.)
# (The set grew from 70 to 80 questions on 2026-11-29: ten follow-ups that move on, written blind;
# five of them are answered, so the follow-up floors fell from .90/.80 to .65.)
OWN_WORDS_ONLY_FLOORS = ["hit@1=0.74", "hit@3=0.84", "mrr@10=0.80", "ndcg@10=0.80", "short_answer=0.67",
                         "followup=0.70", "abstain_recall=0.33"]
# (2026-12-01, the other sentences of the excerpts the reader reads compete (extractive_neighbours, chosen on
# the SQuAD 2.0 subset: short answer .822 -> .829): ExpMRC short answer .814 -> .824, span F1 56.3 -> 57.2,
# so those floors rose, a few questions under, for CPUs that round the models otherwise.)
SQUAD_FLOORS = ["hit@1=0.885", "hit@3=0.96", "mrr@10=0.93", "short_answer=0.815", "span_f1=0.565"]


def test_quality_gate_on_the_bundled_question_set() -> None:
    assert main(["eval", "--no-baseline", "--fail-under", *OWN_FLOORS]) == 0


def test_quality_gate_on_the_bundled_question_set_with_words_only() -> None:
    assert main(["eval", "--no-baseline", "--semantic", "false", "--fail-under", *OWN_WORDS_ONLY_FLOORS]) == 0


def test_quality_gate_on_the_external_benchmark() -> None:
    assert main(["eval", "--no-baseline", "--squad", str(SQUAD), "--fail-under", *SQUAD_FLOORS]) == 0


@pytest.mark.parametrize(
    ("prediction", "gold", "em", "f1"),
    [("The Eiffel Tower", "eiffel tower", 1.0, 1.0), ("in 1889", "1889", 0.0, 2 / 3),
     ("Paris, France", "Lyon", 0.0, 0.0), ("a cat sat", "the cat sat down", 0.0, 0.8), ("", "x", 0.0, 0.0)],
    ids=["articles-and-case", "extra-word", "wrong", "partial", "empty"],
)
def test_span_metrics_are_squads(prediction: str, gold: str, em: float, f1: float) -> None:
    from qa_service.evaluate import exact_match, token_f1

    assert exact_match(prediction, gold) == em
    assert token_f1(prediction, gold) == pytest.approx(f1)


@pytest.mark.parametrize(
    ("content", "message"),
    [('{"data":[{"title":5,"paragraphs":"x"}]}', "'title' must be a string"),
     ('{"data":[{"title":"T","paragraphs":"x"}]}', "'paragraphs' must be a list"),
     ('{"data":[{"title":"T","paragraphs":[{"context":"c","qas":5}]}]}', "'qas' must be a list"),
     ('{"data": ' + "[" * 100_000 + "}", "nested too deeply")],
    ids=["title-not-string", "paragraphs-not-list", "qas-not-list", "deep"],
)
def test_a_squad_file_of_the_wrong_shape_is_one_line(tmp_path: Path, content: str, message: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    assert main(["eval", "--squad", str(path)]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
