"""Requests a second on /api/ask through nginx (docs/nginx.conf) in front of 1, then 2 `serve` processes.

    python3 benchmarks/scale.py --sizes 100000          # makes the corpus (in the temp folder)
    python3 benchmarks/nginx.py --corpus /tmp/qa-service-scale/corpus-100000 [--backends 1,2] [--seconds 20]

The load comes from wrk (Debian's `wrk`, written in C: `apt-get install wrk`), one thread, keep-alive
connections, each request one of the corpus's benchmark questions in turn (a Lua script), words only.
wrk and nginx share the machine with the backends, so on 2 cores a second process cannot double
the rate; their CPU time is printed beside each figure, and so is what everything else on the
machine used meanwhile (from /proc/stat): on a shared machine that decides the ratio, so the last
lines also compare only the rounds the rest of the machine left (nearly) alone, and give the
requests answered per second of backend CPU (which the rest of the machine does not move much). Rounds alternate
1 and 2 backends; ratios in one run compare.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import nginx_front  # noqa: E402  (tests/nginx_front.py: docs/nginx.conf with free ports)

LUA = """local bodies = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "/api/ask", {["Content-Type"] = "application/json"}, bodies[(i %% #bodies) + 1])
end
"""


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its waited-for children (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    """CPU seconds every core of the machine has spent not idle (/proc/stat)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _wait_until_up(port: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"serve on {port} did not come up")


def measure(corpus: Path, script: Path, backends: int, seconds: float, connections: int, threads: int,
            work: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    ports = [nginx_front.free_port() for _ in range(backends)]
    servers = [subprocess.Popen([sys.executable, "-m", "qa_service", "serve", "--port", str(port), "--corpus",
                                 str(corpus), "--semantic", "false", "--access-log", "false", "--threads", str(threads)],
                                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for port in ports]
    try:
        for port in ports:
            _wait_until_up(port)
        folder = work / f"nginx-{backends}-{time.monotonic_ns()}"
        with nginx_front.running(folder, ports) as port:
            url = f"http://127.0.0.1:{port}/api/ask"
            subprocess.run(["wrk", "-t1", f"-c{connections}", "-d3s", "-s", str(script), url],  # warm: mapped pages
                           check=True, capture_output=True)
            master = int((folder / "nginx.pid").read_text())
            nginx = [master, *(int(c) for c in Path(f"/proc/{master}/task/{master}/children").read_text().split())]
            before = [_cpu_seconds(s.pid) for s in servers]
            nginx_before = sum(_cpu_seconds(p) for p in nginx)
            wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            machine_before = _machine_busy()
            started = time.monotonic()
            done = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s",
                                   str(script), url], check=True, capture_output=True, text=True)
            wall = time.monotonic() - started
            wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            machine = (_machine_busy() - machine_before) / wall
            busy = [(_cpu_seconds(s.pid) - b) / wall for s, b in zip(servers, before)]
            nginx_busy = (sum(_cpu_seconds(p) for p in nginx) - nginx_before) / wall
            wrk_busy = (wrk_after.ru_utime + wrk_after.ru_stime - wrk_before.ru_utime - wrk_before.ru_stime) / wall
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(30)
    out = done.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    p50 = re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1)
    return {"backends": backends, "rps": rate, "non_2xx": int(failed.group(1)) if failed else 0,
            "socket_errors": errors.group(1) if errors else "none", "p50": p50,
            "backend_cores": busy, "nginx_cores": nginx_busy, "wrk_cores": wrk_busy,
            "other_cores": machine - sum(busy) - nginx_busy - wrk_busy, "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="a corpus benchmarks/scale.py made")
    parser.add_argument("--backends", default="1,2")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quiet", type=float, default=0.3,
                        help="a round counts as quiet when everything else used fewer cores than this")
    parser.add_argument("--threads", type=int, default=4, help="each backend's answering threads (serve --threads)")
    args = parser.parse_args()
    if not Path(nginx_front.NGINX).is_file():
        raise SystemExit(f"nginx is not at {nginx_front.NGINX}: apt-get install nginx (or set NGINX=)")
    if subprocess.run(["sh", "-c", "command -v wrk"], capture_output=True).returncode != 0:
        raise SystemExit("wrk is missing: apt-get install wrk")
    questions = json.loads((args.corpus / ".bench-questions.json").read_text())["questions"]
    results: dict[int, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="qa-nginx-bench-") as tmp:
        work = Path(tmp)
        script = work / "ask.lua"
        script.write_text(LUA % ", ".join(f"[==[{json.dumps({'question': q})}]==]" for q in questions))
        for _ in range(args.rounds):
            for n in (int(b) for b in args.backends.split(",")):
                row = measure(args.corpus, script, n, args.seconds, args.connections, args.threads, work)
                results.setdefault(n, []).append(row)
                print(f"{n} backend(s) behind nginx: {row['rps']:.1f} requests/s, p50 {row['p50']}, "
                      f"non-2xx {row['non_2xx']}, socket errors {row['socket_errors']}; cores busy: backends "
                      f"{' + '.join(f'{c:.2f}' for c in row['backend_cores'])}, nginx {row['nginx_cores']:.2f}, "
                      f"wrk {row['wrk_cores']:.2f}, everything else on the machine {row['other_cores']:.2f} "
                      f"(of {os.cpu_count()})", flush=True)
    least = min(results)
    base = [r["rps"] for r in results[least]]
    quiet = [r["rps"] for r in results[least] if r["other_cores"] < args.quiet]
    for n, rows in sorted(results.items()):
        values = [r["rps"] for r in rows]
        calm = [r["rps"] for r in rows if r["other_cores"] < args.quiet]
        per_core = sum(values) / sum(sum(r["backend_cores"]) for r in rows)
        line = (f"{n} backend(s): {', '.join(f'{v:.1f}' for v in values)} requests/s "
                f"(x{sum(values) / sum(base):.2f} of {least}); {per_core:.0f} requests per backend core-second")
        if calm and quiet:  # rounds the rest of the machine left alone: the ratio this machine allows
            line += f"; while the rest of the machine used under {args.quiet} core: x{statistics.mean(calm) / statistics.mean(quiet):.2f}"
        print(line)

if __name__ == "__main__":
    main()
