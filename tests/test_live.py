"""Reloading the corpus, the loading state, the API key and the rate limit, through the app."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from pathlib import Path

import pytest

from qa_service.config import Settings, load_settings
from qa_service.errors import RateLimited, SettingsError
from qa_service.ingest import ingest_paths, write_corpus
from qa_service.limits import RateLimiter
from qa_service.live import PipelineHolder, builder
from qa_service.web import create_app

BUILT = "When was the lighthouse built?"
KEY = "a-key-of-at-least-16-characters"
ELSEWHERE = {"REMOTE_ADDR": "203.0.113.5"}


@pytest.fixture()
def corpus_copy(tiny_corpus_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(tiny_corpus_dir, folder)
    return folder


@pytest.fixture()
def reloadable(corpus_copy: Path):  # noqa: ANN201
    settings = Settings(corpus=corpus_copy)
    holder = PipelineHolder(build=builder(settings), source=str(corpus_copy))
    holder.reload()
    return holder, create_app(holder, settings).test_client()


def _second_document(folder: Path, tmp_path: Path) -> None:
    """Index the lighthouse text plus a second document into ``folder``, as `qa-service index` would."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "harbour.txt").write_text("The Harbour of Kirkenes\n\nThe harbour of Kirkenes froze in the winter "
                                     "of 1966, and the supply boats stayed in port for nine days.\n", encoding="utf-8")
    (src / "lighthouse.txt").write_text(json.loads((folder / "documents.jsonl").read_text().splitlines()[0])["text"],
                                        encoding="utf-8")
    write_corpus(ingest_paths([src], target_words=30), folder, 30)


def test_reload_serves_the_corpus_now_on_disk(reloadable, corpus_copy: Path, tmp_path: Path) -> None:
    holder, client = reloadable
    assert client.get("/api/health").get_json()["documents"] == 1
    _second_document(corpus_copy, tmp_path)
    assert client.get("/api/health").get_json()["documents"] == 1  # nothing changes before the reload
    response = client.post("/api/admin/reload")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "reloaded" and body["documents"] == 2 and body["passages"] >= 4
    health = client.get("/api/health").get_json()
    assert (health["documents"], health["passages"]) == (2, body["passages"])
    answer = client.post("/api/ask", json={"question": "When did the harbour of Kirkenes freeze?"}).get_json()
    assert "1966" in answer["answer"]["text"]


@pytest.mark.parametrize("garbage", ["not json at all\n", '{"id": 3}\n', ""], ids=["not-json", "wrong-shape", "empty"])
def test_a_broken_corpus_keeps_the_old_one_serving_and_says_why_once(reloadable, corpus_copy: Path, garbage: str,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    holder, client = reloadable
    before = holder.current()
    (corpus_copy / "passages.jsonl").write_text(garbage, encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="qa_service.reload"):
        response = client.post("/api/admin/reload")
    assert response.status_code == 409 and response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == "reload_failed" and "still serving 1 document(s), 3 passages" in error["message"]
    lines = [r.getMessage() for r in caplog.records if r.name == "qa_service.reload"]
    assert len(lines) == 1 and "failed" in lines[0] and "passages.jsonl" in lines[0] and "\n" not in lines[0]
    assert holder.current() is before
    assert "1896" in client.post("/api/ask", json={"question": BUILT}).get_json()["answer"]["text"]


def test_a_reload_logs_one_line_with_the_counts(reloadable, caplog: pytest.LogCaptureFixture) -> None:
    holder, client = reloadable
    with caplog.at_level(logging.INFO, logger="qa_service.reload"):
        assert client.post("/api/admin/reload").status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "qa_service.reload"]
    assert len(lines) == 1 and "reloaded 1 document(s), 3 passages" in lines[0]


def test_reload_is_refused_to_clients_elsewhere(reloadable) -> None:
    holder, client = reloadable
    before = holder.current()
    response = client.post("/api/admin/reload", environ_base=ELSEWHERE)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert holder.current() is before
    assert client.post("/api/admin/reload", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_an_app_around_a_given_pipeline_says_it_cannot_reload(client) -> None:
    response = client.post("/api/admin/reload")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "reload_failed"


def test_each_request_uses_one_pipeline_while_reloads_swap_it(reloadable) -> None:
    """Requests racing reloads: every answer is whole (status 200, the answer found), none fails."""
    holder, client = reloadable
    app = client.application
    failures: list[str] = []
    done = threading.Event()
    count = 0

    def hammer() -> None:
        nonlocal count
        local = app.test_client()
        while not done.is_set():
            response = local.post("/api/ask", json={"question": BUILT})
            count += 1
            if response.status_code != 200 or "1896" not in response.get_json()["answer"]["text"]:
                failures.append(response.get_data(as_text=True)[:200])

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        for _ in range(3):
            assert client.post("/api/admin/reload").status_code == 200
    finally:
        done.set()
        thread.join(30)
    assert count > 0 and failures == []


# ---------------------------------------------------------------- loading


def test_while_loading_health_says_so_and_questions_get_a_503_with_retry_after(tiny_pipeline) -> None:
    holder = PipelineHolder()
    client = create_app(holder).test_client()
    health = client.get("/api/health")
    assert health.status_code == 503 and health.get_json() == {"status": "loading"}
    assert health.headers["Retry-After"].isdigit()
    for response in (client.post("/api/ask", json={"question": BUILT}), client.get("/api/documents"),
                     client.get("/api/passages")):
        assert response.status_code == 503 and response.mimetype == "application/json"
        assert response.get_json()["error"]["code"] == "loading" and response.headers["Retry-After"].isdigit()
    assert client.post("/api/ask", json={"question": ""}).status_code == 400  # bad input is still said at once
    holder.swap(tiny_pipeline)
    assert client.get("/api/health").get_json()["status"] == "ok"
    assert client.post("/api/ask", json={"question": BUILT}).status_code == 200


# ---------------------------------------------------------------- API key


@pytest.fixture()
def keyed(tiny_pipeline):  # noqa: ANN201
    return create_app(tiny_pipeline, Settings(api_key=KEY)).test_client()


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong-key-of-enough-length"}, {"Authorization": f"Basic {KEY}"},
                                     {"Authorization": "Bearer"}, {"X-API-Key": KEY[:-1]}],
                         ids=["none", "wrong", "basic-scheme", "bearer-without-key", "prefix"])
def test_with_a_key_set_requests_without_it_get_a_json_401(keyed, headers: dict[str, str]) -> None:
    for response in (keyed.post("/api/ask", json={"question": BUILT}, headers=headers),
                     keyed.get("/api/documents", headers=headers), keyed.get("/api/nope", headers=headers)):
        assert response.status_code == 401 and response.mimetype == "application/json"
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("headers", [{"Authorization": f"Bearer {KEY}"}, {"Authorization": f"bearer  {KEY} "},
                                     {"X-API-Key": KEY}], ids=["bearer", "bearer-lowercase-spaced", "x-api-key"])
def test_with_a_key_set_requests_carrying_it_are_answered(keyed, headers: dict[str, str]) -> None:
    response = keyed.post("/api/ask", json={"question": BUILT}, headers=headers)
    assert response.status_code == 200 and "1896" in response.get_json()["answer"]["text"]


def test_with_a_key_set_health_and_the_page_need_none(keyed) -> None:
    assert keyed.get("/api/health").status_code == 200
    assert keyed.get("/").status_code == 200


def test_without_a_key_the_page_and_the_api_need_none(client) -> None:
    assert client.get("/").status_code == 200
    assert client.post("/api/ask", json={"question": BUILT}).status_code == 200


@pytest.mark.parametrize("key", ["", "   ", "short-key"], ids=["empty", "blank", "short"])
def test_a_key_too_short_is_refused_at_start(key: str) -> None:
    with pytest.raises(SettingsError, match="QA_API_KEY"):
        load_settings(env={"QA_API_KEY": key})


# ---------------------------------------------------------------- rate limit


def test_over_the_rate_limit_a_client_gets_a_json_429_with_retry_after(tiny_pipeline) -> None:
    client = create_app(tiny_pipeline, Settings(rate_limit=5)).test_client()
    statuses = [client.get("/api/documents").status_code for _ in range(5)]
    refused = client.post("/api/ask", json={"question": BUILT})
    assert statuses == [200] * 5
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 12
    assert client.get("/api/health").status_code == 200  # exempt
    other = client.get("/api/documents", environ_base=ELSEWHERE)
    assert other.status_code == 200  # a bucket per client


def test_without_a_rate_limit_nothing_is_refused(client) -> None:
    assert {client.get("/api/documents").status_code for _ in range(200)} == {200}


def test_the_rate_limiter_refills_and_remembers_a_bounded_number_of_clients() -> None:
    now = [0.0]
    limiter = RateLimiter(60, max_clients=100, clock=lambda: now[0])
    for _ in range(60):
        limiter.check("a")
    with pytest.raises(RateLimited) as refused:
        limiter.check("a")
    assert refused.value.headers["Retry-After"] == "1"
    now[0] += 1.0  # one request a second comes back
    limiter.check("a")
    for i in range(10_000):
        limiter.check(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) == 100
