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


def test_github_runs_the_readme_test_command_without_the_shared_vectors() -> None:
    """On GitHub there is no ../shared: the workflow runs the README's command itself (not
    .ci/run, which requires the JCS vectors) against a PostgreSQL service."""
    from appsync.yamlio import load_text

    test_command = _readme_commands()[1]
    path = ROOT / ".github/workflows/tests.yml"
    job = load_text(path.read_text(encoding="utf-8"), str(path))["jobs"]["tests"]
    last = job["steps"][-1]
    assert last["run"].strip() == test_command
    assert last["env"]["CI"] == "true"
    assert last["env"]["APPSYNC_TEST_DATABASE_URL"].endswith("@127.0.0.1:5432/test")
    for holder in (job, *job["steps"]):
        assert "APPSYNC_REQUIRE_JCS_VECTORS" not in str(holder.get("env", {})) + holder.get(
            "run", ""
        )
    assert job["services"]["postgres"]["ports"] == ["5432:5432"]
    assert "APPSYNC_REQUIRE_JCS_VECTORS=1" in (ROOT / ".ci/run").read_text()


def test_examples_repo_is_canonical() -> None:
    result = run("fmt", "--check", str(ROOT / "examples/repo"))
    assert result.exit_code == 0, result.output
    assert (ROOT / "examples/repo/apps/invoices/app.json").is_file()

