"""The command line as operators expect it: an example in every --help, the same option
names across commands, results as JSON, --debug anywhere."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from appsync.cli.main import COMMANDS as LAZY
from appsync.cli.main import cli
from tests.helpers import git, run


def _leaves(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
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


@pytest.mark.parametrize(
    "words", [("apply",), ("import",), ("verify",), ("rollback",), ("export",)]
)
def test_result_commands_report_json(words: tuple[str, ...]) -> None:
    assert (
        "--format [text|json]" in run(*words, "--help").stdout.replace("\n", " ").replace("  ", " ")
        or "[text|json]" in run(*words, "--help").stdout
    )


def test_export_and_apply_report_json_and_debug_goes_anywhere(tmp_path: Path) -> None:
    dev, prod = f"sqlite:///{tmp_path / 'dev.db'}", f"sqlite:///{tmp_path / 'prod.db'}"
    assert run("instance", "init", dev, "--example").exit_code == 0
    assert run("instance", "init", prod).exit_code == 0
    repo = tmp_path / "repo"
    assert run("init", str(repo)).exit_code == 0
    exported = run("export", dev, "--repo", str(repo), "--format", "json")
    assert exported.exit_code == 0, exported.stderr
    document = json.loads(exported.stdout)
    assert document["objects"] == 29 and document["changed"] and document["committed"]
    assert "apps/invoices/app.json" in document["written"] and document["removed"] == []
    assert document["commit"] == git(repo, "rev-parse", "HEAD").strip()
    quiet = json.loads(run("export", dev, "--repo", str(repo), "--format", "json").stdout)
    assert quiet["changed"] is False and quiet["written"] == [] and quiet["commit"] is None
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


def test_the_command_table_lists_every_command_with_its_own_short_help() -> None:
    """cli/main.py names each command's module and first sentence, so that start-up loads
    nothing else: the table must agree with the commands themselves."""
    ctx = click.Context(cli)
    for name, entry in LAZY.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        assert entry.short == command.get_short_help_str(limit=10_000), name
    defined = set()
    for module in {entry.module for entry in LAZY.values()}:
        for value in vars(importlib.import_module(module)).values():
            if isinstance(value, click.Command) and not _is_subcommand(value):
                defined.add(value.name)
    assert defined == set(LAZY), "a command defined in appsync/cli is missing from the table"


def _is_subcommand(command: click.Command) -> bool:
    for entry in LAZY.values():
        group = getattr(importlib.import_module(entry.module), entry.attr)
        if isinstance(group, click.Group) and command in group.commands.values():
            return True
    return False


@pytest.mark.parametrize("words", [("--version",), ("plan", "--help"), ("--help",)])
def test_start_up_loads_no_engine(words: tuple[str, ...]) -> None:
    """``appsync --version`` and ``appsync plan --help`` import neither SQLAlchemy, pygit2,
    pydantic nor the engine's modules (the start-up target in BENCHMARKS.md)."""
    probe = (
        "import sys\n"
        "from appsync.cli.main import main\n"
        "try:\n"
        f"    main({list(words)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'pygit2', 'pydantic', 'ruamel', 'deepdiff', 'psycopg')"
        " or m.startswith(('appsync.usecases', 'appsync.instance', 'appsync.plan'))]\n"
        "print(','.join(sorted(heavy)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", f"start-up imported: {done.stderr.strip()}"


def test_the_command_exits_with_mains_status_and_all_its_output(tmp_path: Path) -> None:
    """``appsync`` (``run``) ends without the interpreter's teardown: what ``main`` wrote
    is flushed first, into a file or a pipe, and the status is the one ``main`` gave."""
    db = tmp_path / "dev.db"
    out = tmp_path / "out.txt"
    with out.open("wb") as handle:  # a file: stdout is block-buffered, nothing is flushed yet
        done = subprocess.run(
            [sys.executable, "-m", "appsync", "instance", "init", f"sqlite:///{db}"],
            stdout=handle,
            stderr=subprocess.PIPE,
        )
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("Initialised instance sqlite:///")
    help_text = subprocess.run(
        [sys.executable, "-m", "appsync", "plan", "--help"], capture_output=True, text=True
    )
    assert help_text.returncode == 0
    assert help_text.stdout.rstrip().endswith("Show this message and exit.")
    bad = subprocess.run(
        [sys.executable, "-m", "appsync", "plan", f"sqlite:///{tmp_path / 'none.db'}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert bad.returncode == 1
    assert bad.stdout == "" and len(bad.stderr.splitlines()) == 1, bad.stderr
    # A message as the status (SystemExit("...")): on stderr, status 1, as Python does.
    probe = (
        "from appsync.cli import main\n"
        "def broken() -> None:\n"
        "    raise SystemExit('it broke')\n"
        "main.main = broken\n"
        "main.run()\n"
    )
    message = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert (message.returncode, message.stderr) == (1, "it broke\n")
    # Output still in the buffers when main returns (click flushes its own) is written.
    unflushed = (
        "import sys\n"
        "from appsync.cli import main\n"
        "def quiet() -> None:\n"
        "    sys.stdout.write('kept')\n"
        "    sys.stderr.write('also')\n"
        "main.main = quiet\n"
        "main.run()\n"
    )
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with out.open("wb") as handle:
        done = subprocess.run(
            [sys.executable, "-c", unflushed], stdout=handle, stderr=subprocess.PIPE, env=buffered
        )
    assert (done.returncode, out.read_text(), done.stderr) == (0, "kept", b"also")
