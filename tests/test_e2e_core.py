"""The core story as a user types it: a real ``appsync`` subprocess, real git."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def appsync(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("appsync") or str(Path(sys.executable).with_name("appsync"))
    return subprocess.run(
        [exe, *args], cwd=cwd, capture_output=True, text=True, env=os.environ.copy()
    )


def test_instance_init_export_fmt(tmp_path: Path, db_url: str) -> None:
    steps = [
        ("instance", "init", db_url, "--example"),
        ("init", "repo"),
        ("export", db_url, "--repo", "repo", "-m", "Export dev"),
    ]
    for step in steps:
        done = appsync(tmp_path, *step)
        assert done.returncode == 0, (step, done.stderr)
    again = appsync(tmp_path, "export", db_url, "--repo", "repo")
    assert again.returncode == 0 and "No changes" in again.stdout
    log = subprocess.run(
        ["git", "-C", "repo", "log", "--format=%s"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert log[:2] == ["Export dev", "Initialise appsync repository"]
    assert appsync(tmp_path, "fmt", "--check", "repo").returncode == 0
    (tmp_path / "repo/admin/roles/viewers.json").write_text('{"id":"x"}')
    failed = appsync(tmp_path, "fmt", "--check", "repo")
    assert failed.returncode == 1 and "viewers.json" in failed.stdout


def test_review_merge_apply_story(tmp_path: Path, db_url: str) -> None:
    """dev -> Git -> prod, a reviewed SQL change, a saved plan, and the audit log."""
    prod = f"sqlite:///{tmp_path / 'prod.db'}"
    for step in (
        ("instance", "init", db_url, "--example"),
        ("instance", "init", prod),
        ("init", "repo"),
        ("export", db_url, "--repo", "repo", "-m", "Export dev"),
        ("apply", prod, "--repo", "repo", "--yes"),
    ):
        done = appsync(tmp_path, *step)
        assert done.returncode == 0, (step, done.stderr)
    sql_file = tmp_path / "repo/apps/invoices/data/queries/open-invoices.sql"
    sql_file.write_text(sql_file.read_text().replace("ORDER BY", "ORDER BY i.amount DESC,"))
    subprocess.run(
        ["git", "-C", "repo", "commit", "-qam", "Sort by amount"],
        cwd=tmp_path,
        check=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "R",
            "GIT_AUTHOR_EMAIL": "r@e",
            "GIT_COMMITTER_NAME": "R",
            "GIT_COMMITTER_EMAIL": "r@e",
        },
    )
    markdown = appsync(tmp_path, "plan", prod, "--repo", "repo", "--format", "markdown")
    assert markdown.returncode == 0 and "```diff" in markdown.stdout
    assert "+ORDER BY i.amount DESC," in markdown.stdout
    saved = appsync(
        tmp_path,
        "plan",
        prod,
        "--repo",
        "repo",
        "--format",
        "json",
        "--out",
        "plan.json",
        "--detailed-exitcode",
    )
    assert saved.returncode == 2
    applied = appsync(tmp_path, "apply", prod, "plan.json")
    assert applied.returncode == 0, applied.stderr
    assert appsync(tmp_path, "plan", prod, "--repo", "repo", "--detailed-exitcode").returncode == 0
    log = appsync(tmp_path, "log", prod)
    assert log.returncode == 0 and len(log.stdout.strip().splitlines()) == 2
