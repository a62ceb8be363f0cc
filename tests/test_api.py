"""The JSON API and the chat page, through Flask's test client.

Everything here is what a client of the service sees: status codes, body shapes,
the answers themselves and the headers the browser relies on.
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from qa_service.config import Settings
from qa_service.pipeline import Pipeline, build_pipeline
from qa_service.ingest import ingest_paths, write_corpus
from qa_service.web import create_app

ROOT = Path(__file__).resolve().parent.parent
JSON = "application/json"
BUILT_QUESTION = "When was the lighthouse built?"

# ---------------------------------------------------------------- helpers


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^\w]+", text.lower()) if w]


def _shares_stem(fragment: str, question: str) -> bool:
    """Whether some word of ``fragment`` and some word of ``question`` share a stem, judged
    without the app's tokenizer: a common prefix of 4+ letters, or the whole of a shorter word."""
    for a in _words(fragment):
        for b in _words(question):
            shared = len(os.path.commonprefix([a, b]))
            if shared >= min(4, len(a), len(b)):
                return True
    return False


def assert_success_shape(body: Any) -> None:
    """The contract's success body: every field there, with the right type."""
    assert isinstance(body, dict), body
    assert isinstance(body["question"], str) and body["question"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["took_ms"], float) and body["took_ms"] >= 0
    passages = body["passages"]
    assert isinstance(passages, list)
    for p in passages:
        assert isinstance(p["id"], str) and p["id"]
        assert isinstance(p["document"], str) and p["document"]
        assert isinstance(p["text"], str) and p["text"]
        assert isinstance(p["score"], float)
        assert isinstance(p["highlights"], list)
        if not p["highlights"] and body.get("intent") != "overview":
            # found by meaning alone: said so, and never at the end of the list (an overview quotes
            # its document's opening passage by position, not by a match)
            assert p["matched_terms"] == [] and "semantic" in p["scores"], f"passage {p['id']} matches nothing"
            assert passages[-1]["matched_terms"], "a passage found by meaning alone pads the list"
        previous_end = 0
        for span in p["highlights"]:
            assert isinstance(span, list) and len(span) == 2
            start, end = span
            assert isinstance(start, int) and isinstance(end, int)
            assert previous_end <= start < end <= len(p["text"]), (span, len(p["text"]))
            previous_end = end
    scores = [p["score"] for p in passages]
    assert scores[1:] == sorted(scores[1:], reverse=True), "passages are not best first"
    if scores and scores[0] < max(scores):  # only the passage the answer is quoted from goes before better ones
        assert body["answer"] is not None and body["answer"]["passage_id"] == passages[0]["id"], \
            "passages are not best first"
    assert len({p["id"] for p in passages}) == len(passages), "a passage is listed twice"
    answer = body["answer"]
    if answer is not None:
        assert isinstance(answer, dict)
        assert isinstance(answer["text"], str) and answer["text"]
        assert isinstance(answer["passage_id"], str)
        assert isinstance(answer["score"], float)
        source = {p["id"]: p["text"] for p in passages}
        assert answer["passage_id"] in source, "the answer's passage is not among the passages"
        assert answer["text"] in source[answer["passage_id"]], "the answer is not quoted from its passage"


def assert_error_shape(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == JSON, response.content_type
    body = json.loads(response.get_data(as_text=True))
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"code", "message"}, body
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in error["message"]
    return error


def ask(client, question: str, **fields: Any):
    return client.post("/api/ask", json={"question": question, **fields})


def ask_ok(client, question: str, **fields: Any) -> dict[str, Any]:
    response = ask(client, question, **fields)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == JSON
    body = response.get_json()
    assert_success_shape(body)
    return body


def _without_timing(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "took_ms"}


# ---------------------------------------------------------------- fixtures

MANY_DOCS = 25


@pytest.fixture(scope="module")
def many_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """25 one-passage documents that all mention lighthouses, so top_k=20 has 20 to give."""
    src = tmp_path_factory.mktemp("many-src")
    for n in range(1, MANY_DOCS + 1):
        (src / f"light{n:02d}.txt").write_text(
            f"Lighthouse number {n}\n\nThe lighthouse number {n} stands on a rocky island "
            f"and its keeper painted it red in the year {1900 + n}.\n",
            encoding="utf-8",
        )
    out = tmp_path_factory.mktemp("many-corpus")
    write_corpus(ingest_paths([src], target_words=60), out, 60)
    return build_pipeline(Settings(corpus=out))


@pytest.fixture()
def many_client(many_pipeline: Pipeline):
    return create_app(many_pipeline).test_client()


@pytest.fixture(scope="module")
def module_client(tiny_pipeline: Pipeline):
    """A client that outlives one test, for hypothesis's many examples."""
    return create_app(tiny_pipeline).test_client()


def _corpus_passages(corpus_dir: Path) -> list[dict[str, Any]]:
    lines = (corpus_dir / "passages.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


# ---------------------------------------------------------------- success shapes


def test_ask_post_success_shape_and_answer(client) -> None:
    body = ask_ok(client, BUILT_QUESTION)
    assert body["question"] == BUILT_QUESTION
    assert body["answer"] is not None
    assert "1896" in body["answer"]["text"]
    assert body["passages"][0]["id"] == body["answer"]["passage_id"]


def test_ask_get_success_shape_and_answer(client) -> None:
    response = client.get("/api/ask?" + urlencode({"q": BUILT_QUESTION, "top_k": 2}))
    assert response.status_code == 200
    assert response.mimetype == JSON
    body = response.get_json()
    assert_success_shape(body)
    assert body["question"] == BUILT_QUESTION
    assert "1896" in body["answer"]["text"]
    assert len(body["passages"]) <= 2


@pytest.mark.parametrize(
    "question, top_k",
    [
        (BUILT_QUESTION, None),
        ("Who ran the station?", 3),
        ("What does the museum cost to visit?", 1),
        ("Storms at the island in winter", 20),
    ],
    ids=["built-default-top-k", "station-keeper", "museum-top-k-1", "storms-top-k-20"],
)
def test_get_and_post_give_the_same_answer(client, question: str, top_k: int | None) -> None:
    post = ask_ok(client, question, **({} if top_k is None else {"top_k": top_k}))
    params = {"q": question, **({} if top_k is None else {"top_k": str(top_k)})}
    response = client.get("/api/ask?" + urlencode(params))
    assert response.status_code == 200
    get = response.get_json()
    assert_success_shape(get)
    assert _without_timing(get) == _without_timing(post)


def test_health_shape(client, tiny_corpus_dir: Path) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.mimetype == JSON
    body = response.get_json()
    assert body == {"status": "ok", "documents": 1, "passages": len(_corpus_passages(tiny_corpus_dir)),
                    "semantic": True, "extractive": True}
    assert body["passages"] == 3


def test_documents_lists_the_corpus(client, tiny_corpus_dir: Path) -> None:
    response = client.get("/api/documents")
    assert response.status_code == 200
    assert response.mimetype == JSON
    docs = response.get_json()["documents"]
    assert isinstance(docs, list) and len(docs) == 1
    doc = docs[0]
    assert doc["id"] == "lighthouse"
    assert isinstance(doc["title"], str) and "Lighthouse" in doc["title"]
    assert doc["passages"] == len(_corpus_passages(tiny_corpus_dir))


def test_every_passage_can_be_fetched_by_id(client, tiny_corpus_dir: Path) -> None:
    for stored in _corpus_passages(tiny_corpus_dir):
        response = client.get(f"/api/passages/{quote(stored['id'])}")
        assert response.status_code == 200, stored["id"]
        assert response.mimetype == JSON
        body = response.get_json()
        assert body["id"] == stored["id"]
        assert body["document"] == stored["document"]
        assert body["text"] == stored["text"]


def test_passages_returned_by_ask_match_the_passage_endpoint(client) -> None:
    body = ask_ok(client, "When was the station automated?", top_k=20)
    assert body["passages"]
    for p in body["passages"]:
        fetched = client.get(f"/api/passages/{quote(p['id'])}").get_json()
        assert fetched["text"] == p["text"]
        assert fetched["document"] == p["document"]


# ---------------------------------------------------------------- highlights and relevance


@pytest.mark.parametrize(
    "question, expected_highlights",
    [
        (BUILT_QUESTION, {"lighthouse", "built"}),
        ("When was the station automated?", {"station", "automated"}),
        ("What did the lamp burn?", {"lamp", "burned"}),
        ("Who was keeper Ingrid Solberg?", {"keeper", "ingrid", "solberg"}),
    ],
    ids=["built", "automated", "lamp", "keeper"],
)
def test_highlights_mark_question_words_in_the_passage(client, question: str, expected_highlights: set[str]) -> None:
    body = ask_ok(client, question, top_k=20)
    seen: set[str] = set()
    for p in body["passages"]:
        for start, end in p["highlights"]:
            fragment = p["text"][start:end]
            assert _shares_stem(fragment, question), (fragment, question)
            seen.add(fragment.lower())
    assert expected_highlights <= seen, seen


@pytest.mark.parametrize(
    "fixture, question",
    [
        ("client", BUILT_QUESTION),
        ("client", "Kirkenes boat supplies"),
        ("bundled_client", "why did Armenia recall its envoy?"),
        ("bundled_client", "What did Pashinyan declare about Lukashenko?"),
    ],
    ids=["tiny-built", "tiny-kirkenes", "bundled-envoy", "bundled-lukashenko"],
)
def test_every_passage_shares_a_word_with_the_question_or_was_found_by_meaning(request, fixture: str,
                                                                               question: str) -> None:
    client = request.getfixturevalue(fixture)
    body = ask_ok(client, question, top_k=20)
    assert body["passages"]
    by_words = [p for p in body["passages"] if p["matched_terms"]]
    assert by_words
    for p in by_words:
        assert any(_shares_stem(p["text"][s:e], question) for s, e in p["highlights"]), p["id"]
        assert _shares_stem(p["text"], question), f"{p['id']} shares no word with the question"
    by_meaning = [p for p in body["passages"] if not p["matched_terms"]]
    assert len(by_meaning) <= Settings().semantic_candidates
    assert all(not p["highlights"] and -1 <= p["scores"]["semantic"] <= 1 for p in by_meaning)


def test_passages_without_any_question_word_are_left_out(bundled_client) -> None:
    # BM25+ gives every passage a positive score, so only the term filter keeps these out.
    question = "What did Pashinyan declare about Lukashenko?"
    stored = _corpus_passages(ROOT / "corpus")
    unrelated = {p["id"] for p in stored if not _shares_stem(p["text"], "Pashinyan declare Lukashenko")}
    assert len(unrelated) >= 5, "the bundled corpus changed: most passages should not mention the question"
    body = ask_ok(bundled_client, question, top_k=20)
    returned = {p["id"] for p in body["passages"] if p["matched_terms"]}
    assert returned and not (returned & unrelated)
    by_meaning = [p for p in body["passages"] if not p["matched_terms"]]  # flagged, and few
    assert len(by_meaning) <= Settings().semantic_candidates and all(not p["highlights"] for p in by_meaning)
    lexical = create_app(build_pipeline(Settings(corpus=ROOT / "corpus", semantic=False))).test_client()
    assert {p["id"] for p in ask_ok(lexical, question, top_k=20)["passages"]} == returned


# ---------------------------------------------------------------- top_k


@pytest.mark.parametrize(
    "fields, expected",
    [({"top_k": 1}, 1), ({}, 3), ({"top_k": 7}, 7), ({"top_k": 20}, 20)],
    ids=["top-k-1", "default-3", "top-k-7", "top-k-20"],
)
def test_top_k_is_the_number_of_passages_when_enough_match(many_client, fields: dict, expected: int) -> None:
    body = ask_ok(many_client, "Which lighthouse was painted red?", **fields)
    assert len(body["passages"]) == expected
    get = many_client.get("/api/ask?" + urlencode({"q": "Which lighthouse was painted red?",
                                                   **{k: str(v) for k, v in fields.items()}}))
    assert len(get.get_json()["passages"]) == expected


def test_top_k_beyond_the_matches_returns_only_matching_passages(client) -> None:
    body = ask_ok(client, "Who ran the station?", top_k=20)
    # "station" is in two of the three passages; the whale-oil passage must not pad the list as a
    # match (meaning may still list it, flagged: no matched terms, no highlights).
    assert sorted(p["id"] for p in body["passages"] if p["matched_terms"]) == ["lighthouse-p002", "lighthouse-p003"]
    assert all(not p["highlights"] for p in body["passages"] if not p["matched_terms"])


def test_top_k_1_keeps_the_best_passage(client) -> None:
    best = ask_ok(client, "When was the station automated?", top_k=20)["passages"][0]
    only = ask_ok(client, "When was the station automated?", top_k=1)["passages"]
    assert [p["id"] for p in only] == [best["id"]]


# ---------------------------------------------------------------- input cleaning


def test_unknown_fields_are_ignored(client) -> None:
    plain = ask_ok(client, BUILT_QUESTION)
    extra = ask_ok(client, BUILT_QUESTION, language="fr", stream=True, top_p=0.3, nested={"a": [1, 2]})
    assert _without_timing(extra) == _without_timing(plain)


def test_unknown_query_parameters_are_ignored(client) -> None:
    plain = client.get("/api/ask?" + urlencode({"q": BUILT_QUESTION})).get_json()
    extra = client.get("/api/ask?" + urlencode({"q": BUILT_QUESTION, "lang": "fr", "x": "1"}))
    assert extra.status_code == 200
    assert _without_timing(extra.get_json()) == _without_timing(plain)


@pytest.mark.parametrize(
    "question",
    ["\x00When\x07 was the lighthouse built?", "When\x1b was\x7f the\x0b lighthouse\x9f built?\x08"],
    ids=["nul-and-bell", "escape-del-c1"],
)
def test_control_characters_are_stripped(client, question: str) -> None:
    body = ask_ok(client, question)
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", body["question"]), repr(body["question"])
    assert body["question"] == BUILT_QUESTION
    assert "1896" in body["answer"]["text"]


@pytest.mark.parametrize(
    "question",
    [
        "<script>alert('x')</script> When was the lighthouse built?",
        '<img src=x onerror="alert(1)"> lighthouse & "keepers"',
        "</textarea><b>bold</b> &amp; station",
    ],
    ids=["script-tag", "img-onerror", "entities"],
)
def test_html_in_the_question_is_echoed_verbatim_as_json(client, question: str) -> None:
    response = ask(client, question)
    assert response.status_code == 200
    assert response.mimetype == JSON
    body = response.get_json()
    assert_success_shape(body)
    assert body["question"] == question
    raw = response.get_data(as_text=True)
    assert "&lt;" not in raw and "&#" not in raw


def test_question_of_1000_characters_is_accepted(client) -> None:
    question = ("lighthouse " * 100)[:999] + "?"
    assert len(question) == 1000
    body = ask_ok(client, question)
    assert body["question"] == question
    assert body["passages"][0]["id"] == "lighthouse-p001"


def test_whitespace_around_a_long_question_does_not_count(client) -> None:
    question = "x" * 1000
    body = ask_ok(client, "   " + question + "\n\t ")
    assert body["question"] == question


# ---------------------------------------------------------------- history


@pytest.mark.parametrize(
    "method", ["post", "get"], ids=["post", "get"],
)
def test_history_answers_a_follow_up(client, method: str) -> None:
    question, history = "And when was that?", ["When was the station automated?"]
    if method == "post":
        response = client.post("/api/ask", json={"question": question, "history": history})
    else:
        response = client.get("/api/ask?" + urlencode([("q", question)] + [("history", h) for h in history]))
    assert response.status_code == 200
    body = response.get_json()
    assert_success_shape(body)
    assert body["answer"] is not None
    assert "1985" in body["answer"]["text"]


def test_the_follow_up_alone_is_not_answered(client) -> None:
    body = ask_ok(client, "And when was that?")
    assert body["answer"] is None
    assert body["message"]


def test_history_does_not_change_a_question_that_stands_alone(client) -> None:
    alone = ask_ok(client, BUILT_QUESTION)
    with_history = ask_ok(client, BUILT_QUESTION, history=["When was the station automated?"])
    assert "1896" in with_history["answer"]["text"]
    assert with_history["answer"]["passage_id"] == alone["answer"]["passage_id"]


# ---------------------------------------------------------------- the bundled corpus


def test_bundled_corpus_why_did_armenia_recall_its_envoy(bundled_client) -> None:
    body = ask_ok(bundled_client, "why did Armenia recall its envoy?")
    first = body["passages"][0]["text"]
    assert "ambassador in Minsk" in first or ("Belarus" in first and "Azerbaijan" in first and "weapon" in first)
    assert body["answer"] is not None
    assert body["answer"]["passage_id"] in {p["id"] for p in body["passages"]}


@pytest.mark.parametrize(
    "question",
    ["Who painted the Mona Lisa?", "What is the weather in Paris?"],
    ids=["mona-lisa", "paris-weather"],
)
def test_bundled_corpus_unanswerable_question(bundled_client, question: str) -> None:
    response = ask(bundled_client, question)
    assert response.status_code == 200
    body = response.get_json()
    assert_success_shape(body)
    assert body["answer"] is None
    assert body["message"].strip()


# ---------------------------------------------------------------- every error path


def _post_json(body: Any) -> dict[str, Any]:
    return {"method": "POST", "path": "/api/ask", "data": json.dumps(body), "content_type": JSON}


ERROR_CASES = [
    ({"method": "POST", "path": "/api/ask", "data": '{"question": "lighthouse"', "content_type": JSON}, 400),
    ({"method": "POST", "path": "/api/ask", "data": "", "content_type": JSON}, 400),
    (_post_json(["When was the lighthouse built?"]), 400),
    (_post_json("When was the lighthouse built?"), 400),
    ({"method": "POST", "path": "/api/ask", "data": "[" * 20000 + "]" * 20000, "content_type": JSON}, 400),
    (_post_json({}), 400),
    (_post_json({"q": "When was the lighthouse built?"}), 400),
    (_post_json({"question": 42}), 400),
    (_post_json({"question": None}), 400),
    (_post_json({"question": ["lighthouse"]}), 400),
    (_post_json({"question": ""}), 400),
    (_post_json({"question": " \t\n "}), 400),
    (_post_json({"question": "\x00\x07"}), 400),
    (_post_json({"question": "a" * 1001}), 400),
    (_post_json({"question": "lighthouse", "top_k": 0}), 400),
    (_post_json({"question": "lighthouse", "top_k": 21}), 400),
    (_post_json({"question": "lighthouse", "top_k": -1}), 400),
    (_post_json({"question": "lighthouse", "top_k": "abc"}), 400),
    (_post_json({"question": "lighthouse", "top_k": True}), 400),
    (_post_json({"question": "lighthouse", "top_k": 2.5}), 400),
    (_post_json({"question": "lighthouse", "history": "When was the station automated?"}), 400),
    (_post_json({"question": "lighthouse", "history": {"0": "station"}}), 400),
    (_post_json({"question": "lighthouse", "history": ["station", 3]}), 400),
    ({"method": "POST", "path": "/api/ask", "content_type": JSON,
      "data": json.dumps({"question": "lighthouse", "padding": "x" * (64 * 1024)})}, 413),
    ({"method": "POST", "path": "/api/ask", "data": "When was the lighthouse built?", "content_type": "text/plain"},
     415),
    ({"method": "POST", "path": "/api/ask", "data": {"question": "When was the lighthouse built?"}}, 415),
    ({"method": "POST", "path": "/api/ask", "data": json.dumps({"question": "lighthouse"})}, 415),
    ({"method": "GET", "path": "/api/ask"}, 400),
    ({"method": "GET", "path": "/api/ask?top_k=3"}, 400),
    ({"method": "GET", "path": "/api/ask?q="}, 400),
    ({"method": "GET", "path": "/api/ask?q=lighthouse&top_k=abc"}, 400),
    ({"method": "GET", "path": "/api/ask?q=lighthouse&top_k=0"}, 400),
    ({"method": "GET", "path": "/api/ask?" + urlencode({"q": "a" * 1001})}, 400),
    ({"method": "GET", "path": "/api/nope"}, 404),
    ({"method": "POST", "path": "/api/nope", "json": {"question": "lighthouse"}}, 404),
    ({"method": "DELETE", "path": "/api/ask"}, 405),
    ({"method": "PUT", "path": "/api/ask", "json": {"question": "lighthouse"}}, 405),
    ({"method": "POST", "path": "/api/health", "json": {}}, 405),
    ({"method": "GET", "path": "/api/passages/no-such-passage"}, 404),
    ({"method": "GET", "path": "/api/passages/lighthouse-p999"}, 404),
]
ERROR_IDS = [
    "invalid-json", "empty-json-body", "json-array-body", "json-string-body", "deeply-nested-json",
    "missing-question", "question-under-another-name", "question-number", "question-null", "question-list",
    "question-empty", "question-whitespace", "question-only-control-chars", "question-1001-chars",
    "top-k-0", "top-k-21", "top-k-negative", "top-k-abc", "top-k-true", "top-k-2.5",
    "history-string", "history-object", "history-non-string-item",
    "body-over-64-kib", "text-plain-body", "form-body", "json-without-content-type",
    "get-without-q", "get-top-k-without-q", "get-empty-q", "get-top-k-abc", "get-top-k-0", "get-q-1001-chars",
    "unknown-endpoint", "post-unknown-endpoint", "delete-ask", "put-ask", "post-health",
    "unknown-passage", "unknown-passage-like-id",
]


@pytest.mark.parametrize("request_kwargs, status", ERROR_CASES, ids=ERROR_IDS)
def test_every_error_is_json_with_the_right_status(client, request_kwargs: dict[str, Any], status: int) -> None:
    kwargs = dict(request_kwargs)
    response = client.open(kwargs.pop("path"), method=kwargs.pop("method"), **kwargs)
    assert_error_shape(response, status)
    raw = response.get_data(as_text=True)
    assert "<html" not in raw.lower() and "Traceback" not in raw
    if status == 405:
        assert "GET" in response.headers.get("Allow", "")


# ---------------------------------------------------------------- anything a client may send

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
_bodies = st.one_of(
    _json_values,
    st.fixed_dictionaries(
        {"question": st.text(max_size=1100)},
        optional={
            "top_k": st.one_of(st.integers(-5, 30), st.text(max_size=5), _json_values),
            "history": st.one_of(st.lists(st.text(max_size=60), max_size=6), _json_values),
        },
    ),
    st.fixed_dictionaries(
        {"question": st.sampled_from([BUILT_QUESTION, "And when was that?", "keeper", "Vardø lamp oil"])},
        optional={
            "top_k": st.integers(1, 20),
            "history": st.lists(st.sampled_from(["When was the station automated?", "Who ran it?", "x"]), max_size=4),
        },
    ),
)


def _check_any_response(response) -> None:
    assert response.status_code != 500, response.get_data(as_text=True)
    assert response.mimetype == JSON, (response.status_code, response.content_type)
    body = json.loads(response.get_data(as_text=True))
    if response.status_code == 200:
        assert_success_shape(body)
    else:
        assert response.status_code in (400, 413, 415), response.status_code
        assert_error_shape(response, response.status_code)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_bodies)
def test_any_json_body_gets_a_json_answer_or_a_json_error(module_client, body: Any) -> None:
    response = module_client.post("/api/ask", data=json.dumps(body), content_type=JSON)
    _check_any_response(response)
    if response.status_code == 200:
        echoed = response.get_json()["question"]
        assert not re.search(r"[\x00-\x1f\x7f-\x9f]", echoed), repr(echoed)
        assert echoed == echoed.strip() and 1 <= len(echoed) <= 1000


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(q=st.text(max_size=1100), top_k=st.none() | st.text(max_size=4) | st.integers(-3, 25).map(str),
       history=st.lists(st.text(max_size=30), max_size=3))
def test_any_query_string_gets_a_json_answer_or_a_json_error(module_client, q: str, top_k: str | None,
                                                             history: list[str]) -> None:
    params: list[tuple[str, str]] = [("q", q)] + [("history", h) for h in history]
    if top_k is not None:
        params.append(("top_k", top_k))
    response = module_client.get("/api/ask?" + urlencode(params))
    _check_any_response(response)


@pytest.mark.parametrize("q", ["SUMMARY", "tl;dr", "Summarise the article, please"])
def test_an_overview_has_the_success_shape_with_its_opening_passage_cited(module_client, q: str) -> None:
    """Found by hypothesis ("SUMMARY"): an overview cites its document's first passage by
    position, with no highlights and no scores, and that is the contract's success shape."""
    response = module_client.get("/api/ask?" + urlencode({"q": q}))
    assert response.status_code == 200
    body = response.get_json()
    assert body["intent"] == "overview"
    assert_success_shape(body)
    assert body["answer"]["passage_id"] == body["passages"][0]["id"]


# ---------------------------------------------------------------- the chat page


class _PageScan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[dict[str, str | None]] = []
        self.inline_script_text: list[str] = []
        self.style_attributes: list[str] = []
        self.style_elements = 0
        self.event_handlers: list[str] = []
        self.urls: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            self.scripts.append(a)
            self._in_script = True
        if tag == "style":
            self.style_elements += 1
        for name, value in attrs:
            if name == "style":
                self.style_attributes.append(f"<{tag} style={value!r}>")
            if name.startswith("on"):
                self.event_handlers.append(f"<{tag} {name}=...>")
            if name in ("src", "href") and value:
                self.urls.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script_text.append(data.strip())


@pytest.fixture()
def page(client):
    response = client.get("/")
    assert response.status_code == 200
    scan = _PageScan()
    scan.feed(response.get_data(as_text=True))
    scan.close()
    return response, scan


@pytest.mark.parametrize("path", ["/", "/api/health"], ids=["page", "api"])
def test_security_headers(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {d.strip().split()[0]: d.strip().split()[1:] for d in csp.split(";") if d.strip()}
    assert directives.get("default-src") == ["'self'"], csp
    for directive in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in directives.get(directive, []), csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff"


def test_page_is_html_naming_the_document(page) -> None:
    response, _ = page
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "<title>" in html and "Vardø" in html
    # starting points built from the corpus: its overview and a name it uses
    assert "What is this document about?" in html and "Ingrid Solberg" in html


def test_page_has_no_inline_script(page) -> None:
    _, scan = page
    assert scan.scripts, "the page loads no script at all"
    assert all(s.get("src") for s in scan.scripts), scan.scripts
    assert scan.inline_script_text == []
    assert scan.event_handlers == [], scan.event_handlers


def test_page_has_no_inline_style(page) -> None:
    response, scan = page
    assert scan.style_attributes == [], scan.style_attributes
    assert scan.style_elements == 0
    assert not re.search(r"\sstyle\s*=", response.get_data(as_text=True), re.IGNORECASE)


def test_page_loads_only_same_origin_assets(client, page) -> None:
    response, scan = page
    html = response.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    assert scan.urls
    for url in scan.urls:
        assert not url.startswith("//"), url
        assert not re.match(r"^[a-z][a-z0-9+.-]*:", url, re.IGNORECASE) or url.startswith("data:"), url
    assets = [u for u in scan.urls if u.startswith("/")]
    assert any(u.endswith(".js") for u in assets) and any(u.endswith(".css") for u in assets), assets
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200, url
        expected = "text/css" if url.endswith(".css") else "text/javascript"
        if url.endswith((".css", ".js")):
            assert asset.mimetype == expected, (url, asset.content_type)
        asset.close()


def test_options_head_and_doubled_slashes_get_json_never_html_or_a_redirect(client) -> None:
    """Once defects: OPTIONS gave 200 text/html, HEAD /api/ask?q= a 415, and /api//health a
    permanent redirect to an address built from the Host header."""
    response = client.open("/api/ask", method="OPTIONS")
    assert response.status_code == 200 and response.mimetype == JSON
    assert set(response.get_json()["methods"]) >= {"GET", "POST"} and "POST" in response.headers["Allow"]
    assert client.open("/api/nowhere", method="OPTIONS").status_code == 404
    head = client.head("/api/ask?q=When+was+the+lighthouse+built%3F")
    assert head.status_code == 200 and head.mimetype == JSON
    forged = client.get("/api//health", headers={"Host": "evil.example"})
    assert forged.status_code == 404 and forged.mimetype == JSON and "Location" not in forged.headers


@pytest.mark.parametrize("value", ["3", " 3 ", "1_0", "٣", 3.5, True],
                         ids=["string", "spaced", "underscore", "arabic-digit", "fraction", "bool"])
def test_top_k_in_a_json_body_is_a_json_integer(client, value: object) -> None:
    response = client.post("/api/ask", json={"question": BUILT_QUESTION, "top_k": value})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_field"


@pytest.mark.parametrize("value", [" 3 ", "1_0", "٣", "+3", "3.0"], ids=["spaced", "underscore", "arabic", "plus", "dot"])
def test_top_k_in_a_query_string_is_ascii_digits(client, value: str) -> None:
    response = client.get("/api/ask", query_string={"q": BUILT_QUESTION, "top_k": value})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_field"
    assert client.get("/api/ask", query_string={"q": BUILT_QUESTION, "top_k": "2"}).status_code == 200


def test_one_access_line_per_request_without_the_question(client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="qa_service.access"):
        response = client.get("/api/ask", query_string={"q": "When was the secret lighthouse built?"})
        client.post("/api/ask", json={"question": "Who ran the secret station?"})
    lines = [r.getMessage() for r in caplog.records if r.name == "qa_service.access"]
    assert len(lines) == 2
    assert lines[0].startswith("GET /api/ask 200 ") and lines[1].startswith("POST /api/ask 200 ")
    assert f"id={response.headers['X-Request-Id']}" in lines[0]
    assert not any("secret" in line for line in lines)


@pytest.mark.parametrize("digits", ["9" * 5000, "-" + "9" * 5000], ids=["5000-digits", "minus-5000-digits"])
def test_a_top_k_too_long_for_python_is_out_of_range_not_invalid_json(client, digits: str) -> None:
    """Once a defect: Python's int() refuses more than 4300 digits, so the body was "not valid JSON"."""
    response = client.post("/api/ask", data=f'{{"question": "{BUILT_QUESTION}", "top_k": {digits}}}',
                           content_type=JSON)
    assert response.status_code == 400
    assert response.get_json()["error"] == {"code": "invalid_field",
                                            "message": "'top_k' must be a whole number from 1 to 20"}


def test_an_integral_float_offset_in_an_earlier_answer_is_an_integer(client) -> None:
    """Found by Schemathesis: JSON Schema counts 7.0 as an integer, so the contract takes it."""
    history = [{"question": "When was the station automated?",
                "answer": {"text": "The station was automated in 1985 and the keepers left.", "passage_id": "x",
                           "start": 7.0}}]
    assert client.post("/api/ask", json={"question": "And then?", "history": history}).status_code == 200
