"""The command line as operators expect it: an example in every --help, the same option
names across commands, results as JSON, --debug anywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest

from appsync.cli.main import cli
from tests.helpers import run


def _leaves(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _leaves(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


COMMANDS = _leaves(cli)


@pytest.mark.parametrize("words", COMMANDS, ids=[" ".join(w) for w in COMMANDS])
def test_every_command_has_an_example_and_consistent_options(words: tuple[str, ...]) -> None:
    shown = run(*words, "--help")
    assert shown.exit_code == 0
    assert "Example:" in shown.stdout, f"appsync {' '.join(words)} --help has no example"
    assert not re.search(r"^\s+--out\b", shown.stdout, re.M), "--out without -o"


@pytest.mark.parametrize("words", [("apply",), ("import",), ("verify",), ("rollback",)])
def test_result_commands_report_json(words: tuple[str, ...]) -> None:
    assert (
        "--format [text|json]" in run(*words, "--help").stdout.replace("\n", " ").replace("  ", " ")
        or "[text|json]" in run(*words, "--help").stdout
    )


def test_apply_reports_json_and_debug_goes_anywhere(tmp_path: Path) -> None:
    dev, prod = f"sqlite:///{tmp_path / 'dev.db'}", f"sqlite:///{tmp_path / 'prod.db'}"
    assert run("instance", "init", dev, "--example").exit_code == 0
    assert run("instance", "init", prod).exit_code == 0
    repo = tmp_path / "repo"
    assert run("init", str(repo)).exit_code == 0
    assert run("export", dev, "--repo", str(repo)).exit_code == 0
    applied = run("apply", prod, "--repo", str(repo), "--yes", "--format", "json")
    assert applied.exit_code == 0, applied.stderr
    result = json.loads(applied.stdout)
    assert result["status"] == "applied" and result["counts"]["create"] == 29
    assert result["committed_units"] == ["all changes"]
    again = json.loads(run("apply", prod, "--repo", str(repo), "--yes", "--format", "json").stdout)
    assert again["status"] == "nothing to apply"
    with pytest.raises(Exception, match="no such folder"):
        run("plan", prod, "--repo", str(tmp_path / "nowhere"), "--debug")
    assert run("plan", prod, "--repo", str(tmp_path / "nowhere")).exit_code == 1
