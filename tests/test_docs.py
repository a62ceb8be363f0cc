"""The README and the settings list agree; the CI runs the README's test command."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from qa_service.config import SETTINGS, Settings, SettingsError, load_settings

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_lists_every_setting_with_flag_env_and_default() -> None:
    rows = {line.split("|")[1].strip(): line for line in README.splitlines() if line.startswith("| ")}
    for setting in SETTINGS:
        assert setting.name in rows, f"README options table lacks {setting.name}"
        row = rows[setting.name]
        assert f"`{setting.flag}`" in row and f"`{setting.env}`" in row
        if setting.default is not None:
            default = str(setting.default).lower() if isinstance(setting.default, bool) else str(setting.default)
            assert f"`{default}`" in row, f"README default of {setting.name} is stale"


def test_settings_dataclass_matches_the_settings_list() -> None:
    assert [f.name for f in fields(Settings)] == [s.name for s in SETTINGS]
    assert all(getattr(Settings(), s.name) == s.default for s in SETTINGS)


def test_ci_runs_the_readme_test_command() -> None:
    assert "./scripts/test.sh" in README.split("## ")[0]
    assert "./scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_environment_and_overrides() -> None:
    s = load_settings({"k1": "1.2"}, env={"QA_K1": "0.9", "QA_STEM": "false", "QA_TOP_K": "5"})
    assert (s.k1, s.stem, s.top_k) == (1.2, False, 5)


@pytest.mark.parametrize(
    ("overrides", "env", "message"),
    [({"k1": "abc"}, {}, "--k1"), ({}, {"QA_TOP_K": "0"}, "QA_TOP_K"), ({"scorer": "tfidf"}, {}, "--scorer"),
     ({}, {"QA_STEM": "maybe"}, "QA_STEM"), ({"nope": 1}, {}, "unknown")],
    ids=["not-a-number", "out-of-range", "unknown-choice", "not-a-bool", "unknown-setting"],
)
def test_bad_settings_name_the_setting(overrides: dict, env: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(overrides, env=env)


def test_readme_screenshot_exists_and_is_a_png() -> None:
    import re

    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert "docs/screenshot.png" in images
    data = (ROOT / "docs" / "screenshot.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
