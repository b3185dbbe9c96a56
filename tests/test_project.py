"""The project keeps its promises: README's commands and .ci/run agree; examples are canonical."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers import run

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", readme)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    run_command, test_command = _readme_commands()[:2]
    ci_lines = [
        line
        for line in (ROOT / ".ci/run").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert ci_lines[-1] == test_command
    assert run_command.endswith("appsync demo")


def test_examples_repo_is_canonical() -> None:
    result = run("fmt", "--check", str(ROOT / "examples/repo"))
    assert result.exit_code == 0, result.output
    assert (ROOT / "examples/repo/apps/invoices/app.json").is_file()


def test_examples_repo_ignores_what_init_ignores() -> None:
    """examples/repo keeps its dev.db beside appsync.yaml: the same .gitignore as init's."""
    from appsync.usecases.init import gitignore_lines

    ignore = (ROOT / "examples/repo/.gitignore").read_text()
    assert ignore == "\n".join(gitignore_lines()) + "\n"
