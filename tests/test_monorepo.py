"""Monorepos: appsync finds the repository from any folder inside it, and a project
(appsync.yaml and its tree) may live in a subfolder of a larger repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import commit_all, git, run


@pytest.fixture
def mono(tmp_path: Path) -> tuple[Path, str, str]:
    top = tmp_path / "company"
    top.mkdir()
    git(top, "init", "-q", "-b", "main")
    (top / "README.md").write_text("Our company monorepo\n")
    (top / "services").mkdir()
    (top / "services/api.py").write_text("print('hi')\n")
    commit_all(top, "Start")
    dev, prod = f"sqlite:///{tmp_path / 'dev.db'}", f"sqlite:///{tmp_path / 'prod.db'}"
    assert run("instance", "init", dev, "--example").exit_code == 0
    assert run("instance", "init", prod).exit_code == 0
    return top, dev, prod


def test_a_project_in_a_subfolder_of_a_larger_repository(
    mono: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    top, dev, prod = mono
    made = run("init", str(top / "lowcode/finance"))
    assert made.exit_code == 0, made.stderr
    assert "Added an appsync project in lowcode/finance" in made.stdout
    assert (top / ".git").is_dir() and not (top / "lowcode/finance/.git").exists()
    project = top / "lowcode/finance"
    config = project / "appsync.yaml"
    config.write_text(
        config.read_text().replace(
            "environments: {}", f"environments:\n  dev: {{url: '{dev}'}}\n  prod: {{url: '{prod}'}}"
        )
    )
    commit_all(top, "Environments")
    # From the repository's top with --dir, and from a folder inside the project.
    exported = run("export", "dev", "--dir", str(project), "-m", "Finance apps")
    assert exported.exit_code == 0, exported.stderr
    files = git(top, "show", "--name-only", "--format=", "HEAD").split()
    assert files and all(f.startswith("lowcode/finance/") for f in files)
    assert "lowcode/finance/apps/invoices/app.json" in files
    assert git(top, "status", "--porcelain") == ""
    monkeypatch.chdir(project / "apps/invoices/ui")
    planned = run("plan", "prod", "--format", "json")
    assert planned.exit_code == 0, planned.stderr
    assert json.loads(planned.stdout)["summary"]["create"] == 29
    assert run("apply", "prod", "--yes").exit_code == 0
    assert run("plan", "prod", "--detailed-exitcode").exit_code == 0
    # --ref reads the project's folder in the commit.
    sql = project / "apps/invoices/data/queries/monthly-totals.sql"
    sql.write_text("SELECT 1\n")
    commit_all(top, "Change")
    at_head = json.loads(run("plan", "prod", "--ref", "HEAD", "--format", "json").stdout)
    assert at_head["summary"]["update"] == 1
    before = json.loads(run("plan", "prod", "--ref", "HEAD~1", "--format", "json").stdout)
    assert before["summary"]["update"] == 0
    monkeypatch.chdir(top)
    assert run("validate", "--dir", "lowcode/finance").exit_code == 0
    # A second project beside it does not see the first one's tree.
    assert run("init", str(top / "lowcode/hr")).exit_code == 0
    assert run("validate", "--dir", "lowcode/hr").stdout == "OK: 0 objects in 0 files.\n"
    assert (top / "README.md").read_text() == "Our company monorepo\n"
