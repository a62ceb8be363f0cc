"""The published contract, fuzzed: Schemathesis sends requests generated from /api/openapi.json
(valid and invalid ones) to the app and checks every response against the same description:
no 5xx, no undocumented status, no response that breaks the schema, invalid data refused."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from qa_service.config import Settings
from qa_service.pipeline import build_pipeline
from qa_service.web import create_app


@pytest.fixture(scope="module")
def contract_app(tiny_corpus_dir):  # noqa: ANN001, ANN201
    return create_app(build_pipeline(Settings(corpus=tiny_corpus_dir)))


schema = schemathesis.pytest.from_fixture("contract_schema")


@pytest.fixture(scope="module")
def contract_schema(contract_app):  # noqa: ANN001, ANN201
    return schemathesis.openapi.from_wsgi("/api/openapi.json", contract_app)


@schema.parametrize()
@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_the_contract(case) -> None:  # noqa: ANN001
    case.call_and_validate()
