"""The README and the settings list agree; the CI runs the README's test command."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import argparse
import json
import os

import pytest

from qa_service.cli import _parser, _settings, main
from qa_service.config import COMMANDS, SETTINGS, Settings, load_settings, markdown_table
from qa_service.errors import SettingsError

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_holds_the_settings_table_generated_from_the_settings_list() -> None:
    block = README.split("<!-- settings:start -->\n")[1].split("\n<!-- settings:end -->")[0]
    assert block == markdown_table(), "regenerate it: python3 -m qa_service.config"
    for setting in SETTINGS:
        assert f"| {setting.name} | `{setting.flag}` | `{setting.env}` |" in block


def test_settings_dataclass_matches_the_settings_list() -> None:
    assert [f.name for f in fields(Settings)] == [s.name for s in SETTINGS]
    assert all(getattr(Settings(), s.name) == s.default for s in SETTINGS)


def _flags(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: sub for name, sub in commands.choices.items()}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_exactly_its_settings_as_flags(command: str) -> None:
    sub = _flags(_parser())[command]
    taken = {opt for action in sub._actions for opt in action.option_strings}
    for setting in SETTINGS:
        assert (setting.flag in taken) == (command in setting.commands), (command, setting.name)


def _value(setting) -> str:  # noqa: ANN001
    """A valid value other than the default, as typed on a command line."""
    if setting.choices:
        return next(c for c in setting.choices if c != setting.default)
    if setting.type is bool:
        return "true" if setting.default is False else "false"
    if setting.type is Path:
        return "some-folder"
    if setting.name == "api_key":
        return "a-key-of-at-least-16-characters"
    if setting.type is str:
        return "0.0.0.0"
    low, high = setting.low, setting.high
    value = high if setting.default != high else low
    return str(int(value)) if setting.type is int else str(float(value))


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_flag_reaches_the_settings_its_commands_use(setting, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Each flag, on each command that takes it, parses and lands in the settings the command runs with."""
    for name in list(os.environ):
        if name.startswith("QA_"):
            monkeypatch.delenv(name)
    for command in setting.commands:
        argv = {"index": ["index", "seeds", "--out", "x"], "serve": ["serve"], "ask": ["ask", "a question"],
                "eval": ["eval"], "reload": ["reload"], "add": ["add", "a.pdf"], "remove": ["remove", "a"]}[command]
        extra = ["--lemmatize", "false"] if setting.name == "language" else []
        got = _settings(_parser().parse_args([*argv, setting.flag, _value(setting), *extra]))
        assert getattr(got, setting.name) == setting.parse(_value(setting), setting.flag) != setting.default


def test_a_bool_flag_alone_means_true() -> None:
    """`serve --allow-uploads` reads as "true"; `--allow-uploads false` still says no."""
    assert _settings(_parser().parse_args(["serve", "--allow-uploads"])).allow_uploads is True
    assert _settings(_parser().parse_args(["serve", "--allow-uploads", "false"])).allow_uploads is False
    assert _settings(_parser().parse_args(["serve"])).allow_uploads is False


def test_ask_takes_word_prior(capsys: pytest.CaptureFixture[str]) -> None:
    """Once a bug: `ask --word-prior 2` exited with "unrecognized arguments"."""
    assert main(["ask", "why did Armenia recall its envoy?", "--word-prior", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["answer"] is not None


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
