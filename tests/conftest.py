"""Shared fixtures: a tiny corpus built in tmp_path, and the bundled one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa_service.config import Settings
from qa_service.ingest import ingest_paths, write_corpus
from qa_service.pipeline import Pipeline, build_pipeline
from qa_service.web import create_app

ROOT = Path(__file__).resolve().parent.parent

TINY_DOC = """Skip to content

The Lighthouse Keepers of Vardø

Latest

The lighthouse at Vardø was built in 1896 by the Norwegian coastal authority. Its lamp burned whale oil until 1911, when a paraffin burner replaced it.

Keeper Ingrid Solberg ran the station from 1950 to 1972. She wrote that winter storms cut off the island for weeks, and supplies came by boat from Kirkenes.

The station was automated in 1985 and the keepers left. Today the tower is a museum that costs 120 kroner to visit.

Read also:
"""


@pytest.fixture(scope="session")
def tiny_corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src") / "lighthouse.txt"
    src.write_text(TINY_DOC, encoding="utf-8")
    out = tmp_path_factory.mktemp("corpus")
    write_corpus(ingest_paths([src], target_words=30), out, 30)
    (out / "questions.jsonl").write_text(
        json.dumps({"id": "q1", "question": "When was the lighthouse built?", "answers": ["1896"]}) + "\n",
        encoding="utf-8",
    )
    return out


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_corpus_dir: Path) -> Pipeline:
    return build_pipeline(Settings(corpus=tiny_corpus_dir))


@pytest.fixture(scope="session")
def pipeline() -> Pipeline:
    """The bundled article's corpus, with default settings."""
    return build_pipeline(Settings(corpus=ROOT / "corpus"))


@pytest.fixture()
def app(tiny_pipeline: Pipeline):
    app = create_app(tiny_pipeline)
    app.config.update(TESTING=True)
    return app


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def bundled_client(pipeline: Pipeline):
    return create_app(pipeline).test_client()
