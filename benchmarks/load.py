"""A bounded load test on loopback: the real server under many clients, bad requests and slow ones.

    python3 benchmarks/load.py [--seconds 60] [--clients 32] [--slow 8]

Starts `qa-service serve` on a free port, warms it up, then runs for the given time: clients
ask questions (POST and GET), follow-ups with their earlier exchange, and bad requests (broken
JSON, wrong types, unknown routes), while slow clients dribble a header line a second. Reports
throughput, p50/p99 latency, 5xx responses, connection errors and the server's RSS before and
after. Exits 1 when there is a 5xx, a connection error or RSS grew by more than 10%.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent

QUESTIONS = [json.loads(line)["question"] for line in (ROOT / "corpus" / "questions.jsonl").read_text().splitlines()
             if line.strip() and not json.loads(line).get("history")]
BAD = [("POST", "/api/ask", b"{not json", "application/json"), ("POST", "/api/ask", b'{"question": 5}', "application/json"),
       ("POST", "/api/ask", b"question=x", "text/plain"), ("GET", "/api/ask?top_k=99&q=x", b"", ""),
       ("GET", "/api/nowhere", b"", ""), ("DELETE", "/api/ask", b"", "")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.connection_errors = 0

    def add(self, status: int | None, seconds: float) -> None:
        with self.lock:
            if status is None:
                self.connection_errors += 1
                return
            self.latencies.append(seconds)
            self.statuses[status] = self.statuses.get(status, 0) + 1


def _request(port: int, method: str, path: str, body: bytes = b"", content_type: str = "") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": content_type} if content_type else {}
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _client(port: int, until: float, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        kind = rng.random()
        question = rng.choice(QUESTIONS)
        started = time.perf_counter()
        try:
            if kind < 0.4:
                status, raw = _request(port, "POST", "/api/ask", json.dumps({"question": question}).encode(),
                                       "application/json")
                if status == 200 and rng.random() < 0.5:  # and a follow-up on it, with the exchange
                    answer = json.loads(raw)["answer"]
                    tally.add(status, time.perf_counter() - started)
                    started = time.perf_counter()
                    status, _ = _request(port, "POST", "/api/ask", json.dumps(
                        {"question": "And why was that?", "history": [{"question": question, "answer": answer}]}
                    ).encode(), "application/json")
            elif kind < 0.75:
                status, _ = _request(port, "GET", "/api/ask?q=" + quote(question))
            elif kind < 0.9:
                status, _ = _request(port, *rng.choice(BAD))
            else:
                status, _ = _request(port, "GET", "/api/health")
        except (OSError, http.client.HTTPException):
            tally.add(None, 0.0)
            continue
        tally.add(status, time.perf_counter() - started)


def _slow_client(port: int, until: float, tally: Tally) -> None:
    """Opens a connection and sends a header line a second, never finishing the request."""
    while time.monotonic() < until:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
                while time.monotonic() < until:
                    time.sleep(1.0)
                    sock.sendall(b"X-Slow: 1\r\n")
        except OSError:
            pass  # the server may close a slow client: that is its right


def _wait_until_up(port: int, server: subprocess.Popen, errors: Any) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if _request(port, "GET", "/api/health")[0] == 200:
                return
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            errors.seek(0)
            raise SystemExit(f"the server did not start: {errors.read()}")
        time.sleep(0.2)


def _phase(port: int, clients: int, slow: int, length: float) -> Tally:
    """``clients`` asking and ``slow`` dribbling, all for ``length`` seconds."""
    tally = Tally()
    until = time.monotonic() + length
    threads = [threading.Thread(target=_client, args=(port, until, tally, n)) for n in range(clients)]
    threads += [threading.Thread(target=_slow_client, args=(port, until, tally)) for _ in range(slow)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally


def run(seconds: float, clients: int, slow: int, warm_up: float = 3.0) -> dict:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    # stderr to a file, not a pipe (a full pipe would stall the server); leaving the `with`
    # waits for the server to end and closes both
    with tempfile.TemporaryFile(mode="w+") as errors, subprocess.Popen(
            [sys.executable, "-m", "qa_service", "serve", "--port", str(port), "--access-log", "false"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors, text=True) as server:
        try:
            _wait_until_up(port, server, errors)
            _phase(port, clients, slow, warm_up)  # first requests load what stays loaded
            before = rss_mib(server.pid)
            tally = _phase(port, clients, slow, seconds)
            after = rss_mib(server.pid)
        finally:
            server.terminate()
    latencies = sorted(tally.latencies)
    return {
        "seconds": seconds, "clients": clients, "slow_clients": slow, "requests": len(latencies),
        "per_second": round(len(latencies) / seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 1) if latencies else None,
        "statuses": dict(sorted(tally.statuses.items())),
        "server_errors": sum(n for s, n in tally.statuses.items() if s >= 500),
        "connection_errors": tally.connection_errors,
        "rss_before_mib": round(before, 1), "rss_after_mib": round(after, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--slow", type=int, default=8)
    args = parser.parse_args(argv)
    report = run(args.seconds, args.clients, args.slow)
    print(json.dumps(report, indent=2))
    grew = report["rss_after_mib"] > 1.10 * report["rss_before_mib"]
    return 1 if report["server_errors"] or report["connection_errors"] or grew else 0


if __name__ == "__main__":
    sys.exit(main())
