"""`serve --workers N`: N processes accepting on one port, reloaded and stopped together."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _wait_until_up(base: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    """Until /api/health says ok; fails at once if the server stopped, and after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the server stopped (exit {proc.returncode}) before it answered"
        try:
            if _get(f"{base}/api/health")["status"] == "ok":
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base} did not answer /api/health within {seconds} s")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


@pytest.mark.server
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads worker processes from /proc (Linux)")
def test_two_workers_both_answer_on_one_port_reload_together_and_stop_together() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    proc = subprocess.Popen([sys.executable, "-m", "qa_service", "serve", "--workers", "2", "--port", "0",
                             "--semantic", "false", "--access-log", "false"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert "2 workers" in first, first
        base = re.search(r"http://[^/]+", first).group()
        _wait_until_up(base, proc)
        workers = _children(proc.pid)
        assert len(workers) == 2
        url = f"{base}/api/ask?q=why+did+Armenia+recall+its+envoy"
        for paused, running in ((workers[0], workers[1]), (workers[1], workers[0])):
            os.kill(paused, signal.SIGSTOP)  # only the other one can accept: each must answer alone
            try:
                # each worker loads on its own after the parent printed: on a busy machine the
                # running one may still be loading (503 until then), so wait for its own "ok"
                _wait_until_up(base, proc)
                for _ in range(5):
                    assert _get(url)["answer"] is not None
            finally:
                os.kill(paused, signal.SIGCONT)
        proc.send_signal(signal.SIGHUP)  # passed on: every worker reloads
        time.sleep(3)
        assert _get(f"{base}/api/health")["status"] == "ok"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        _, err = proc.communicate(timeout=5)
        assert err.count("reloaded 1 document(s)") == 2
        assert not any(Path(f"/proc/{w}").exists() and "qa_service" in Path(f"/proc/{w}/cmdline").read_text()
                       for w in workers)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _post_file(url: str, name: str, content: bytes) -> tuple[int, dict]:
    boundary = "qa-test-boundary-7d1f"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


@contextlib.contextmanager
def _serving_a_copy(tmp_path: Path, *flags: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """`serve --allow-uploads` over a copy of the bundled corpus, with ``flags``; (process, base URL)
    once it answers; killed if still running at the end."""
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus, ignore=shutil.ignore_patterns("squad-expmrc"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    said = (tmp_path / "stderr.txt").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "qa_service", "serve", "--port", "0", "--access-log", "false",
                             "--allow-uploads", "--corpus", str(corpus), *flags], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=said, text=True)
    try:
        base = re.search(r"http://[^/]+", proc.stdout.readline()).group()
        try:
            _wait_until_up(base, proc)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; it said: {(tmp_path / 'stderr.txt').read_text()[-2000:]}") from None
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        said.close()


@pytest.mark.server
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads worker processes from /proc (Linux)")
def test_a_document_added_through_one_worker_is_served_by_every_worker(tmp_path: Path) -> None:
    """Each process holds its own corpus: the one that made the change has the parent tell the others."""
    with _serving_a_copy(tmp_path, "--workers", "2", "--semantic", "false") as (proc, base):
        workers = _children(proc.pid)
        time.sleep(1)
        status, body = _post_file(f"{base}/api/documents", "tides.md",
                                  b"# Tides of Fundy\n\nThe tides of the Bay of Fundy rise 16 metres, the highest "
                                  b"in the world.\n")
        assert status == 201 and body["corpus"]["documents"] == 2
        for paused in workers:  # each worker alone must come to serve both documents
            os.kill(paused, signal.SIGSTOP)
            try:
                deadline = time.monotonic() + 30
                while _get(f"{base}/api/health")["documents"] != 2:
                    assert time.monotonic() < deadline, "a worker kept serving the corpus without the new document"
                    time.sleep(0.2)
                answer = _get(f"{base}/api/ask?q=How+high+do+the+tides+of+the+Bay+of+Fundy+rise")
                assert answer["answer"] is not None and "16 metres" in answer["answer"]["text"]
            finally:
                os.kill(paused, signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


@pytest.mark.server
def test_sigterm_finishes_the_answer_in_progress_and_takes_no_new_connection(tmp_path: Path) -> None:
    """A restarted process loses no request: on SIGTERM the port closes at once, the work in
    progress (here an upload whose ~600 new sentences take seconds to embed) is finished and
    its answer sent, then the process exits 0."""
    import select
    import socket

    with _serving_a_copy(tmp_path) as (proc, base):
        host, port = base.removeprefix("http://").rsplit(":", 1)
        text = "".join(f"Report {i}. The tide gauge number {i} at pier {i * 7} read {i % 13} metres on day {i}.\n\n"
                       for i in range(600)).encode()
        boundary = "qa-drain-boundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"tides.txt\"\r\n\r\n"
                ).encode() + text + f"\r\n--{boundary}--\r\n".encode()
        client = socket.create_connection((host, int(port)), timeout=60)
        client.sendall(f"POST /api/documents HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
                       f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n".encode() + body)
        time.sleep(0.5)  # the upload is being read and embedded: seconds of work
        assert not select.select([client], [], [], 0)[0], "the upload was answered before SIGTERM: make it bigger"
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while True:  # the port closes at once, while the upload is still being worked on
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
            except (ConnectionRefusedError, ConnectionResetError):  # reset: queued as the port closed, never taken
                break
            assert time.monotonic() < deadline, "the port stayed open after SIGTERM"
            time.sleep(0.05)
        response = b""
        while chunk := client.recv(65536):
            response += chunk
        client.close()
        head, _, payload = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 201"), head[:200]
        assert json.loads(payload)["documents"][0]["id"] == "tides"
        assert proc.wait(timeout=30) == 0
