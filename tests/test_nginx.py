"""Debian's nginx with docs/nginx.conf in front of two `serve` processes, on loopback.

A client asks through nginx without pause while a new corpus rolls through the processes (one
reloaded, then the other) and while one is killed: not one request may fail. Needs nginx (/usr/sbin/nginx or $NGINX); ./scripts/test.sh installs it.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Iterator, NamedTuple

import pytest

import nginx_front
from test_server import _clean_env, _http, _Output

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 30.0
ASKED = "Why did Armenia recall its envoy?"
TIDES = "How high do the tides of the Bay of Fundy rise?"


class Backend:
    """One `qa-service serve` on a port of its own, words only, that can be stopped and started again."""

    def __init__(self, corpus: Path, port: int) -> None:
        self.corpus, self.port = corpus, port
        self.address = f"127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qa_service", "serve", "--port", str(self.port), "--corpus", str(self.corpus),
             "--semantic", "false", "--access-log", "false"],
            cwd=ROOT, env=_clean_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        self.stdout, self.stderr = _Output(self.proc.stdout), _Output(self.proc.stderr)

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self.proc.poll() is not None:
                self.stderr.join(2)
                pytest.fail(f"serve on {self.port} exited with {self.proc.returncode}: {self.stderr.text}")
            try:
                if _http(f"http://{self.address}/api/health", timeout=1.0)[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"serve on {self.port} did not answer /api/health within {STARTUP_SECONDS:.0f} s")
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None:
            self.stdout.join(5)
            self.stderr.join(5)

    def ask(self, question: str) -> dict:
        return _ask_once(self.port, question)[2]


class Outcome(NamedTuple):
    status: int  # 0: no HTTP answer at all (the connection failed)
    upstream: str  # nginx's X-Upstream: the backend(s) tried, "a" or "a, b"
    answered: bool  # a 200 whose body holds an answer
    detail: str


def _ask_once(port: int, question: str) -> tuple[int, str, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/ask", data=json.dumps({"question": question}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    status, headers, raw = _http(request)
    return status, headers.get("X-Upstream", ""), json.loads(raw) if status == 200 else {}


class Asker(threading.Thread):
    """Asks through nginx without pause on one keep-alive connection until stopped (at most ``limit``
    times), keeping every outcome."""

    def __init__(self, port: int, limit: int = 20_000) -> None:
        super().__init__(daemon=True)
        self.port, self.limit = port, limit
        self.outcomes: list[Outcome] = []
        self.between = threading.Lock()  # held by the client while a request is on its way
        self._stop_asking = threading.Event()

    def run(self) -> None:
        body = json.dumps({"question": ASKED})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            while not self._stop_asking.is_set() and len(self.outcomes) < self.limit:
                with self.between:
                    connection = self._ask(connection, body)
        finally:
            connection.close()

    def _ask(self, connection: http.client.HTTPConnection, body: str) -> http.client.HTTPConnection:
        try:
            connection.request("POST", "/api/ask", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            raw = response.read()
            answered = response.status == 200 and json.loads(raw).get("answer") is not None
            self.outcomes.append(Outcome(response.status, response.getheader("X-Upstream", ""), answered,
                                         "" if answered else raw[:200].decode(errors="replace")))
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.outcomes.append(Outcome(0, "", False, repr(exc)))
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        return connection

    def wait_for(self, more: int, seconds: float = 30) -> int:
        """Returns once ``more`` further requests were answered (or failed); the count before them."""
        start = len(self.outcomes)
        deadline = time.monotonic() + seconds
        while len(self.outcomes) < start + more:
            assert self.is_alive(), "the asking client stopped"
            assert time.monotonic() < deadline, f"only {len(self.outcomes) - start} of {more} requests came back"
            time.sleep(0.02)
        return start

    def finish(self) -> list[Outcome]:
        self._stop_asking.set()
        self.join(30)
        return self.outcomes


def _failures(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if not (o.status == 200 and o.answered)]


def _served_by(outcomes: list[Outcome]) -> set[str]:
    """The backend that gave each answer: the last one nginx tried."""
    return {o.upstream.split(", ")[-1] for o in outcomes}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", folder, ignore=shutil.ignore_patterns("squad-expmrc"))
    return folder


@pytest.fixture
def backends(corpus: Path) -> Iterator[list[Backend]]:
    started = [Backend(corpus, nginx_front.free_port()) for _ in range(2)]
    try:
        for backend in started:
            backend.start()
        for backend in started:
            backend.wait_until_up()
        yield started
    finally:
        for backend in started:
            backend.stop()


@pytest.fixture
def nginx(tmp_path: Path, backends: list[Backend]) -> Iterator[int]:
    try:
        with nginx_front.running(tmp_path / "nginx", [b.port for b in backends]) as port:
            yield port
    except nginx_front.NginxError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def asker(nginx: int) -> Iterator[Asker]:
    client = Asker(nginx)
    client.start()
    try:
        yield client
    finally:
        client.finish()


def test_documented_config_is_what_runs() -> None:
    """The test's nginx.conf is docs/nginx.conf with only the listen port and the upstream's ports changed."""
    documented = nginx_front.CONF.read_text(encoding="utf-8")
    written = nginx_front.config(9000, [9001, 9002, 9003])
    assert written.count("server 127.0.0.1:900") == 3
    back = "".join(line for line in written.splitlines(keepends=True) if ":9003 " not in line)
    back = back.replace("127.0.0.1:9000;", "127.0.0.1:8080;").replace(":9001 ", ":8001 ").replace(":9002 ", ":8002 ")
    assert back == documented


def test_a_new_corpus_rolls_through_the_processes_with_no_failed_request(
        nginx: int, backends: list[Backend], asker: Asker, corpus: Path, tmp_path: Path) -> None:
    first, second = backends
    asker.wait_for(20)
    assert _served_by(asker.outcomes) == {first.address, second.address}, "nginx did not spread the requests"
    assert first.ask(TIDES).get("answer") is None or "16 metres" not in first.ask(TIDES)["answer"]["text"]

    tides = tmp_path / "tides.md"
    tides.write_text("# Tides of Fundy\n\nThe tides of the Bay of Fundy rise 16 metres, the highest in the world.\n")
    added = subprocess.run([sys.executable, "-m", "qa_service", "add", str(tides), "--corpus", str(corpus),
                            "--semantic", "false"], cwd=ROOT, env=_clean_env(), capture_output=True, text=True,
                           timeout=60)
    assert added.returncode == 0, added.stderr
    for reloading, waiting in ((first, second), (second, first)):  # the documented procedure, one port at a time
        before = asker.wait_for(10)
        reloaded = subprocess.run([sys.executable, "-m", "qa_service", "reload", "--port", str(reloading.port)],
                                  cwd=ROOT, env=_clean_env(), capture_output=True, text=True, timeout=60)
        assert reloaded.returncode == 0 and "reloaded 2 document(s)" in reloaded.stdout, reloaded.stderr
        asker.wait_for(10)
        assert "16 metres" in reloading.ask(TIDES)["answer"]["text"]
        if waiting is second:  # half-way: one process serves the new corpus, the other still the old one
            old = waiting.ask(TIDES).get("answer")
            assert old is None or "16 metres" not in old["text"]
        assert len(asker.outcomes) > before
    through = [_ask_once(nginx, TIDES) for _ in range(6)]
    assert all(status == 200 and "16 metres" in body["answer"]["text"] for status, _, body in through)

    outcomes = asker.finish()
    assert not _failures(outcomes), _failures(outcomes)[:3]
    assert len(outcomes) >= 60
    assert _served_by(outcomes) == {first.address, second.address}


def test_reload_cannot_be_asked_through_nginx(nginx: int, backends: list[Backend]) -> None:
    """Behind a proxy on the same machine every client looks local: nginx answers /api/admin/ itself."""
    status, headers, _ = _http(urllib.request.Request(f"http://127.0.0.1:{nginx}/api/admin/reload", data=b"",
                                                      method="POST"))
    assert status == 403  # a backend would reload: nginx's address is loopback to it
    assert headers.get_content_type() == "text/html"  # nginx's own page, not the service's JSON
    assert all("reload" not in b.stderr.text for b in backends)


def test_a_killed_process_leaves_every_request_to_the_other(
        nginx: int, backends: list[Backend], asker: Asker) -> None:
    """Killed between two answers: an answer a process is writing when it dies is lost (nginx has begun
    passing it on), which no proxy can retry; every request after it must be answered."""
    killed, alive = backends
    asker.wait_for(10)
    with asker.between:
        killed.stop(signal.SIGKILL)
        after = len(asker.outcomes)
    asker.wait_for(40)
    outcomes = asker.finish()
    assert not _failures(outcomes), _failures(outcomes)[:3]
    assert killed.address in _served_by(outcomes[:after])
    assert _served_by(outcomes[after:]) == {alive.address}
    # nginx did try the dead one (and went on to the other) before leaving it alone for fail_timeout
    assert any(o.upstream.startswith(killed.address + ", ") for o in outcomes[after:])
