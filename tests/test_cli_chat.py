"""The terminal: `qa-service ask` without a question chats (piped input and a real
pseudo-terminal), answers are wrapped with the span emphasised on a terminal only, `eval`
shows progress on a terminal only, and `serve` on a busy port says what to do."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa_service.cli import _progress, main

ROOT = Path(__file__).resolve().parent.parent
BOLD = "\x1b[1;4m"
WAIT_SECONDS = 60.0  # every wait for the child is bounded by this (it loads the corpus first)


def test_piped_chat_keeps_the_history_and_ends_at_end_of_input(tiny_corpus_dir: Path, monkeypatch,
                                                             capsys) -> None:  # noqa: ANN001
    questions = "Who ran the station?\nWhen did she leave?\n!When did she leave?\n\nHello\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(questions))
    assert main(["ask", "--corpus", str(tiny_corpus_dir), "--semantic", "false"]) == 0
    out = capsys.readouterr().out
    turns = out.split("? ")[1:]
    assert [t.splitlines()[0] for t in turns] == ["Who ran the station?", "When did she leave?",
                                                  "!When did she leave?", "Hello"]
    assert "Ingrid Solberg" in turns[0] and "follow-up" not in turns[0]
    assert "(read as a follow-up to: “Who ran the station?”" in turns[1]  # the history was kept
    assert "1972" in turns[1]
    assert "follow-up" not in turns[2]  # "!" asks it on its own
    assert "Ask me anything about" in turns[3]
    assert "\x1b[" not in out  # no terminal codes in a pipe
    assert all(len(line) <= 80 for line in out.splitlines()), "answers are wrapped"


def _read_until(fd: int, pattern: str, seen: bytearray) -> str:
    """Reads the pty until ``pattern`` matches what came since the last call."""
    start = len(seen)
    deadline = time.monotonic() + WAIT_SECONDS
    while not re.search(pattern, seen[start:].decode("utf-8", "replace")):
        if time.monotonic() > deadline:
            pytest.fail(f"no {pattern!r} from the chat; it said: {seen.decode('utf-8', 'replace')[-2000:]!r}")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    return seen[start:].decode("utf-8", "replace")


def test_chat_on_a_terminal_emphasises_the_span_and_ctrl_d_leaves(tiny_corpus_dir: Path) -> None:
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_") and k != "NO_COLOR"}
    env.update(TERM="xterm", COLUMNS="60", LINES="24")
    proc = subprocess.Popen([sys.executable, "-m", "qa_service", "ask", "--corpus", str(tiny_corpus_dir),
                             "--semantic", "false"], stdin=secondary, stdout=secondary, stderr=secondary,
                            cwd=ROOT, env=env, close_fds=True)
    os.close(secondary)
    seen = bytearray()
    try:
        intro = _read_until(primary, r"\? $", seen)
        assert "Ctrl-D leaves" in intro and "The Lighthouse Keepers of Vardø" in intro
        os.write(primary, b"When was the lighthouse built?\n")
        first = _read_until(primary, r"\n\? $", seen)
        assert f"{BOLD}1896\x1b[0m" in first  # the exact answer, bold and underlined
        assert "¶ 1" in first
        os.write(primary, b"Who ran the station?\n")
        _read_until(primary, r"\n\? $", seen)
        os.write(primary, b"When did she leave?\n")
        follow = _read_until(primary, r"\n\? $", seen)
        assert "read as a follow-up to" in follow and "1972" in follow
        os.write(primary, b"\x04")  # Ctrl-D
        proc.wait(timeout=WAIT_SECONDS)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(primary)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_eval_progress_only_on_a_terminal(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert _progress(io.StringIO()) is None  # a file or a pipe: no progress noise
    terminal = _Terminal()
    show = _progress(terminal)
    show("qa-service", 0, 70)
    show("qa-service", 35, 70)
    show("qa-service", 70, 70)
    assert terminal.getvalue().endswith("\rqa-service: 70/70 questions\n".replace("\r", "\r\x1b[2K"))
    assert "35/70" in terminal.getvalue()


def test_eval_reports_progress_through_the_library(tiny_corpus_dir: Path) -> None:
    from qa_service import evaluate as ev
    from qa_service.config import Settings
    from qa_service.ingest import load_corpus

    corpus = load_corpus(tiny_corpus_dir)
    told: list[tuple[str, int, int]] = []
    ev.evaluate(list(corpus.questions), corpus, Settings(corpus=tiny_corpus_dir, semantic=False),
                progress=lambda *a: told.append(a))
    assert ("qa-service", 1, 1) in told and ("baseline", 1, 1) in told
    assert told[0] == ("qa-service", 0, 1)


def test_serve_on_a_busy_port_says_what_to_do(tiny_corpus_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "qa_service", "serve", "--port", str(port), "--corpus",
                               str(tiny_corpus_dir), "--semantic", "false"], capture_output=True, text=True,
                              cwd=ROOT, env=env, timeout=WAIT_SECONDS)
    err = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(err) == 1, done.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in err[0] and f"--port {port + 1}" in err[0]
    assert "Traceback" not in done.stderr and "Serving on" not in done.stdout
