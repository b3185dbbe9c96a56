"""appsync demo: the whole story runs end to end, in seconds, as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import git


@pytest.mark.e2e
def test_demo_plays_the_story(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "appsync", "demo", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for step in (
        "$ appsync export dev",
        "$ appsync plan prod",
        "--conflicts merge",
        "git -C repo revert",
        "No changes. The target matches the repo.",
    ):
        assert step in out
    assert "Traceback" not in done.stderr
    log = git(folder / "repo", "log", "--format=%s").splitlines()
    assert log[0].startswith('Revert "Simplify open invoices"')
    assert git(folder / "repo", "status", "--porcelain") == ""


def test_demo_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    done = subprocess.run(
        [sys.executable, "-m", "appsync", "demo", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 1 and "not empty" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
