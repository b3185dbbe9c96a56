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
