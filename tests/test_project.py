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


def test_license_matches_pyproject() -> None:
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'license = "MIT"' in pyproject
    assert license_text.startswith("MIT License\n\nCopyright (c) ")
    assert "appsync authors" in license_text.splitlines()[2]
    assert "Permission is hereby granted, free of charge" in license_text


def test_pre_commit_hooks(tmp_path: Path) -> None:
    from appsync.yamlio import load_text

    path = ROOT / ".pre-commit-hooks.yaml"
    hooks = {h["id"]: h for h in load_text(path.read_text(encoding="utf-8"), str(path))}
    assert set(hooks) == {"appsync-fmt", "appsync-validate"}
    assert {h["language"] for h in hooks.values()} == {"python"}
    assert hooks["appsync-fmt"]["entry"] == "appsync fmt --check"
    assert hooks["appsync-validate"]["entry"] == "appsync validate"
    assert hooks["appsync-validate"]["pass_filenames"] is False
    # pre-commit passes the staged files its pattern matches to the fmt entry
    files = re.compile(hooks["appsync-fmt"]["files"])
    example = sorted(ROOT.joinpath("examples/repo").rglob("*"))
    matched = [
        str(p.relative_to(ROOT)) for p in example if files.search(p.relative_to(ROOT).as_posix())
    ]
    assert "examples/repo/apps/invoices/app.json" in matched
    assert not [m for m in matched if not m.endswith(".json")]
    entry = hooks["appsync-fmt"]["entry"].split()[1:]
    assert run(*entry, *(str(ROOT / m) for m in matched)).exit_code == 0
    messy = tmp_path / "apps/invoices"
    messy.mkdir(parents=True)
    app = ROOT / "examples/repo/apps/invoices/app.json"
    (messy / "app.json").write_text(app.read_text().replace("\n  ", "\n    "))
    assert run(*entry, str(messy / "app.json")).exit_code == 1
    validate_files = re.compile(hooks["appsync-validate"]["files"])
    assert validate_files.search("appsync.yaml") and validate_files.search("apps/x/app.json")
    assert not validate_files.search("README.md")


def test_examples_repo_ignores_what_init_ignores() -> None:
    """examples/repo keeps its dev.db beside appsync.yaml: the same .gitignore as init's."""
    from appsync.usecases.init import gitignore_lines

    ignore = (ROOT / "examples/repo/.gitignore").read_text()
    assert ignore == "\n".join(gitignore_lines()) + "\n"
