"""Requests a second on /api/ask with `serve --workers N`, N taking turns, in one run.

    python3 benchmarks/scale.py --sizes 100000          # makes the corpus (in the temp folder)
    python3 benchmarks/workers.py --corpus /tmp/qa-service-scale/corpus-100000 [--workers 1,2] [--seconds 15]

Keep-alive POST clients on threads of this process (questions from the corpus's benchmark
questions), words only. The clients share the machine with the server: on 2 cores they take a
good part of one, so this understates what a second process adds. Ratios in one run compare.
Through nginx, with separate processes and wrk (C) as the load: benchmarks/nginx.py.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def requests_per_second(corpus: Path, questions: list[str], workers: int, seconds: float, clients: int) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    server = subprocess.Popen([sys.executable, "-m", "qa_service", "serve", "--workers", str(workers), "--port", "0",
                               "--corpus", str(corpus), "--semantic", "false", "--access-log", "false"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env)
    try:
        port = int(re.search(r":(\d+)/", server.stdout.readline()).group(1))
        loaded = 0
        while loaded < workers:  # each worker says when its corpus is in place
            if "passages from" in server.stdout.readline():
                loaded += 1
        counts: list[int] = []
        stop = time.monotonic() + seconds

        def client(start: int) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            n, k = 0, start
            while time.monotonic() < stop:
                body = json.dumps({"question": questions[k % len(questions)]})
                connection.request("POST", "/api/ask", body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    raise SystemExit(f"HTTP {response.status}")
                n, k = n + 1, k + 7
            counts.append(n)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sum(counts) / seconds
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="a corpus benchmarks/scale.py made")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    questions = json.loads((args.corpus / ".bench-questions.json").read_text())["questions"]
    results: dict[int, list[float]] = {}
    for _ in range(args.rounds):
        for n in (int(w) for w in args.workers.split(",")):
            results.setdefault(n, []).append(requests_per_second(args.corpus, questions, n, args.seconds, args.clients))
            print(f"{n} worker(s): {results[n][-1]:.1f} requests/s", flush=True)
    base = results[min(results)]
    for n, values in sorted(results.items()):
        print(f"{n} worker(s): {', '.join(f'{v:.1f}' for v in values)} requests/s "
              f"(x{sum(values) / sum(base):.2f} of {min(results)})")


if __name__ == "__main__":
    main()
