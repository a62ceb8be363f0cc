"""One test per row of the README's table of bad inputs (``tests/bad_inputs.py``), and the
README holds exactly that table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from bad_inputs import KEY, ROWS, Row, markdown_table
from qa_service.config import Settings
from qa_service.live import PipelineHolder
from qa_service.web import create_app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
TESTED_HERE = [row for row in ROWS if row.request is not None]


@pytest.fixture(scope="module")
def apps(tiny_pipeline) -> dict[str, Any]:  # noqa: ANN001
    return {"plain": create_app(tiny_pipeline), "keyed": create_app(tiny_pipeline, Settings(api_key=KEY)),
            "limited": create_app(tiny_pipeline, Settings(rate_limit=5)), "loading": create_app(PipelineHolder())}


@pytest.fixture(scope="module")
def live_server(tiny_corpus_dir: Path) -> Iterator[Any]:
    from test_server import serving

    with serving(tiny_corpus_dir) as srv:
        yield srv


def _check(row: Row, status: int, content_type: str, body: Any) -> None:
    assert (status, content_type) == (int(row.status), "application/json"), (status, content_type, body)
    assert set(body) == {"error"} and body["error"]["code"] == row.code, body
    assert re.fullmatch(re.escape(row.message).replace("<n>", r"\d+"), body["error"]["message"]), body


@pytest.mark.parametrize("row", TESTED_HERE, ids=[row.id for row in TESTED_HERE])
def test_bad_input(row: Row, apps: dict[str, Any], request: pytest.FixtureRequest) -> None:
    if row.raw is not None:  # refused by waitress before the app: only the real server shows it
        import json

        from test_server import _raw_exchange

        status, headers, body = _raw_exchange(request.getfixturevalue("live_server"), row.raw)
        _check(row, status, headers["content-type"], json.loads(body))
        return
    kwargs = dict(row.request or {})
    client = apps[row.app].test_client()
    if row.app == "limited":  # the row is the request after the allowance
        for _ in range(5):
            client.open(kwargs["path"], method=kwargs["method"], environ_base={"REMOTE_ADDR": "198.51.100.7"})
        kwargs["environ_base"] = {"REMOTE_ADDR": "198.51.100.7"}
    response = client.open(kwargs.pop("path"), method=kwargs.pop("method"), **kwargs)
    _check(row, response.status_code, response.mimetype, response.get_json())
    assert "Location" not in response.headers


def test_the_readme_holds_the_table_of_bad_inputs() -> None:
    block = README.split("<!-- bad-inputs:start -->\n")[1].split("\n<!-- bad-inputs:end -->")[0]
    assert block == markdown_table(), "regenerate it: python3 tests/bad_inputs.py"


@pytest.mark.parametrize("row", [r for r in ROWS if r.request is None], ids=[r.id for r in ROWS if r.request is None])
def test_a_row_proven_elsewhere_names_a_test_that_exists(row: Row) -> None:
    match = re.fullmatch(r"`(test_\w+\.py)::(test_\w+)`", row.test)
    assert match, row.test
    assert f"def {match.group(2)}(" in (ROOT / "tests" / match.group(1)).read_text(encoding="utf-8")


def test_row_ids_are_unique() -> None:
    assert len({row.id for row in ROWS}) == len(ROWS)
