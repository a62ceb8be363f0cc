"""`serve --workers N`: N processes accepting on one port, reloaded and stopped together."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


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
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if _get(f"{base}/api/health")["status"] == "ok":
                    break
            except OSError:
                pass
            time.sleep(0.2)
        workers = _children(proc.pid)
        assert len(workers) == 2
        time.sleep(1)  # both have loaded: the parent printed at once, each worker loads on its own
        url = f"{base}/api/ask?q=why+did+Armenia+recall+its+envoy"
        for paused, running in ((workers[0], workers[1]), (workers[1], workers[0])):
            os.kill(paused, signal.SIGSTOP)  # only the other one can accept: each must answer alone
            try:
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
