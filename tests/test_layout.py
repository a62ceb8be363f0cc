"""Imports follow the data: values <- text <- ingest; index <- query <- stages <- pipeline <- web/cli/evaluate.

Read from the source with ``ast``, so a new import against the flow fails here first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "qa_service"

# What each module may import of ours. Anything not listed is not allowed.
ALLOWED: dict[str, set[str]] = {
    "values": set(),
    "errors": set(),
    "config": {"errors"},
    "text": {"values"},
    "ingest": {"values", "errors", "text", "sources"},
    "sources": {"values", "errors", "text", "webpage"},
    "webpage": {"errors", "text"},
    "index": {"values", "errors", "text", "spans"},
    "query": {"values", "text", "encode", "spans"},
    "spans": set(),
    "smalltalk": {"values", "text"},
    "semantic": {"values", "errors", "text", "encode"},
    "neighbours": {"values", "text", "encode", "semantic"},
    "rerank": {"values"},
    "learned": {"values", "errors", "query", "spans"},
    "read": {"values", "query", "semantic", "spans", "learned", "extract"},
    "decide": {"values", "learned"},
    "encode": {"errors"},
    "extract": {"errors", "encode"},
    "pipeline": {"values", "errors", "config", "text", "ingest", "index", "query", "rerank", "read", "decide",
                 "encode", "extract", "semantic", "neighbours", "learned", "smalltalk"},
    "contract": {"values", "errors", "text", "spans", "smalltalk"},
    "evaluate": {"values", "errors", "config", "text", "ingest", "pipeline", "contract"},
    "limits": {"errors"},
    "store": {"values", "errors", "config", "ingest", "index", "pipeline", "semantic", "neighbours"},
    "live": {"errors", "config", "pipeline", "store"},
    "web": {"values", "errors", "config", "pipeline", "contract", "limits", "live", "store"},
    "server": {"contract", "errors"},
    "cli": {"values", "errors", "config", "text", "ingest", "index", "pipeline", "semantic", "neighbours", "contract", "evaluate", "web", "server", "live", "store"},
    "__main__": {"cli"},
    "__init__": set(),
}
FLASK = {"flask", "werkzeug", "waitress"}
HEAVY = {"torch", "transformers", "sentence_transformers", "pickle", "sklearn"}


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(our modules, third-party top-level packages) that ``path`` imports."""
    ours: set[str] = set()
    others: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # from .x import y / from . import x
                if node.module:
                    ours.add(node.module.split(".")[0])
                else:
                    ours.update(alias.name for alias in node.names)
            elif node.module:
                (ours if node.module.startswith("qa_service") else others).add(
                    node.module.split(".")[1] if node.module.startswith("qa_service.") else node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            others.update(alias.name.split(".")[0] for alias in node.names)
    return ours, others


MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))


def test_every_module_has_a_place_in_the_flow() -> None:
    assert set(MODULES) <= set(ALLOWED), "add the new module to ALLOWED with what it may import"


@pytest.mark.parametrize("module", MODULES)
def test_imports_run_with_the_flow(module: str) -> None:
    ours, others = _imports(PACKAGE / f"{module}.py")
    assert ours <= ALLOWED[module], f"{module} imports {sorted(ours - ALLOWED[module])} against the flow"
    if module not in ("web", "cli", "server"):
        assert not others & FLASK, f"{module} imports the web stack"
    assert not others & HEAVY


def test_the_layout_check_sees_imports() -> None:
    ours, others = _imports(PACKAGE / "web.py")
    assert {"contract", "pipeline"} <= ours and "flask" in others
