"""The load test's 10-second form, in CI: the real server under 16 clients (questions, follow-ups,
GET and POST, bad requests) and 4 slow ones. No 5xx, no connection error, RSS within 10%."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent


def _load_module():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("load", ROOT / "benchmarks" / "load.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_ten_seconds_of_mixed_load() -> None:
    report = _load_module().run(seconds=10, clients=16, slow=4, warm_up=2)
    assert report["requests"] > 100
    assert report["server_errors"] == 0 and report["connection_errors"] == 0, report
    assert set(report["statuses"]) <= {200, 400, 404, 405, 415}, report
    assert report["rss_after_mib"] <= 1.10 * report["rss_before_mib"], report
