"""Debian's nginx run from a folder of its own with docs/nginx.conf, for the tests and benchmarks/nginx.py.

Only the listen address and the upstream's server lines are changed (free loopback ports): what is
tested is the documented file. nginx runs as the current user in the foreground, never as a service.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "docs" / "nginx.conf"
NGINX = os.environ.get("NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"  # /usr/sbin is not on every PATH

_LISTEN = "listen 127.0.0.1:8080;"
_SERVER = re.compile(r"^( *)server 127\.0\.0\.1:(800\d) (max_fails=\S+ fail_timeout=\S+;)\n", re.M)


class NginxError(RuntimeError):
    """nginx is missing, or did not start: the message says which, and what to do."""


def config(listen_port: int, backend_ports: list[int]) -> str:
    """docs/nginx.conf listening on ``listen_port`` with one upstream server line per backend port."""
    text = CONF.read_text(encoding="utf-8")
    servers = _SERVER.findall(text)
    if text.count(_LISTEN) != 1 or [port for _, port, _ in servers] != ["8001", "8002"]:
        raise NginxError(f"{CONF}: expected one `{_LISTEN}` and the upstream servers 127.0.0.1:8001 and :8002")
    indent, _, options = servers[0]
    lines = "".join(f"{indent}server 127.0.0.1:{port} {options}\n" for port in backend_ports)
    first = _SERVER.search(text)
    text = _SERVER.sub("", text)
    text = text[:first.start()] + lines + text[first.start():]
    return text.replace(_LISTEN, f"listen 127.0.0.1:{listen_port};")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def running(folder: Path, backend_ports: list[int], seconds: float = 20) -> Iterator[int]:
    """nginx with docs/nginx.conf in ``folder`` (its prefix: config, logs, temp files, pid) in front of
    ``backend_ports``; yields the port it listens on, and stops it after."""
    if not Path(NGINX).is_file():
        raise NginxError(f"nginx is not at {NGINX}: run ./scripts/test.sh as root to install it "
                         "(apt-get install nginx), or set NGINX=/path/to/nginx")
    port = free_port()
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    (folder / "tmp").mkdir(exist_ok=True)
    (folder / "nginx.conf").write_text(config(port, backend_ports), encoding="utf-8")
    directives = "daemon off;"
    if os.geteuid() == 0:  # as root, nginx's workers would switch to `nobody`, who cannot enter a private tmp folder
        directives += f" user {pwd.getpwuid(os.geteuid()).pw_name};"
    with open(folder / "logs" / "stderr.log", "wb") as stderr:
        proc = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", "logs/error.log",
                                 "-g", directives], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + seconds
        while not _accepts(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                said = [(folder / "logs" / name) for name in ("stderr.log", "error.log")]
                raise NginxError(f"nginx did not start (exit status {proc.poll()}): "
                                 + " ".join(p.read_text(errors="replace") for p in said if p.exists()))
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
