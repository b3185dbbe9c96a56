"""The Git index lock (issue 10, section 3): a lock a killed appsync left is cleared with a
note; one a live process holds (git itself) is reported with what to do. Real processes,
real SIGKILLs, real git."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appsync.instance.example import uid
from tests.helpers import exported_example, git, run, tree_bytes
from tests.sync_helpers import sql

QUERY = "apps/invoices/data/queries/monthly-totals"

#: A process that does what appsync does around an index write (the owner file, then the
#: lock libgit2 creates) and then waits to be killed inside it.
HOLDER = """
import sys, time
from pathlib import Path
from appsync.gitstore import open_repo
repo = open_repo(Path(sys.argv[1]))
git_dir = Path(repo._repo.path)
from appsync.gitstore.locks import owning_index
with owning_index(git_dir, repo.root, []):
    (git_dir / "index.lock").write_bytes(b"DIRC half an index")
    print("holding", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def world(tmp_path: Path) -> tuple[str, Path]:
    url, repo = exported_example(tmp_path)
    sql(url, "UPDATE queries SET sql = 'SELECT 42' WHERE id = :id", id=uid("query/monthly-totals"))
    return url, repo


@pytest.fixture
def holder(world: tuple[str, Path]) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(world[1])], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "holding\n"
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()


def lock_of(repo: Path) -> Path:
    return repo / ".git" / "index.lock"


def test_a_lock_left_by_a_killed_appsync_is_cleared_with_a_note(
    world: tuple[str, Path], holder: subprocess.Popen[str]
) -> None:
    url, repo = world
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert lock_of(repo).exists()
    result = run("export", url, "--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert f"warning: removed {lock_of(repo)}, left by appsync (pid {holder.pid})" in result.stderr
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == [
        f"{QUERY}.json",
        f"{QUERY}.sql",
    ]
    assert git(repo, "status", "--porcelain") == ""
    assert not lock_of(repo).exists() and not list((repo / ".git").glob("appsync-index-*"))
    subprocess.run(["git", "-C", str(repo), "fsck", "--strict"], check=True, capture_output=True)


def test_a_lock_held_by_a_live_appsync_is_waited_for(
    world: tuple[str, Path], holder: subprocess.Popen[str]
) -> None:
    url, repo = world
    before = tree_bytes(repo)
    result = run("export", url, "--repo", str(repo))
    assert result.exit_code == 1
    assert f"another appsync (pid {holder.pid}) is writing this repository's index" in result.stderr
    assert tree_bytes(repo) == before and lock_of(repo).exists()


def test_a_lock_held_by_git_is_reported_with_what_to_do(
    world: tuple[str, Path], tmp_path: Path
) -> None:
    url, repo = world
    editor = tmp_path / "editor.sh"
    release = tmp_path / "release"
    editor.write_text(
        f'#!/bin/sh\nwhile [ ! -e "{release}" ]; do sleep 0.05; done\necho m > "$1"\n'
    )
    editor.chmod(0o755)
    (repo / "README.md").write_text("mine\n")
    git(repo, "add", "README.md")
    environ = {**os.environ, "GIT_EDITOR": str(editor)}
    committing = subprocess.Popen(
        ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-a"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not lock_of(repo).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        before = tree_bytes(repo)
        result = run("export", url, "--repo", str(repo))
        assert result.exit_code == 1
        line = result.stderr.strip()
        assert line.startswith(f"appsync: error: {lock_of(repo)}: git (pid {committing.pid})")
        assert "close the editor of a 'git commit'" in line and "rm '" in line
        assert len(result.stderr.splitlines()) == 1
        assert tree_bytes(repo) == before  # refused before writing anything
    finally:
        release.touch()
        committing.wait(10)
    assert run("export", url, "--repo", str(repo)).exit_code == 0
    assert git(repo, "status", "--porcelain") == ""


def test_an_unknown_lock_is_never_removed(world: tuple[str, Path]) -> None:
    url, repo = world
    lock_of(repo).write_bytes(b"")
    result = run("export", url, "--repo", str(repo))
    assert result.exit_code == 1
    assert f"if no git command is running in {repo}" in result.stderr
    assert f"remove it (rm '{lock_of(repo)}')" in result.stderr
    assert lock_of(repo).exists()
    lock_of(repo).unlink()  # as the message says
    assert run("export", url, "--repo", str(repo)).exit_code == 0


def test_a_dead_appsync_does_not_own_a_lock_made_long_after_it_died(
    world: tuple[str, Path],
) -> None:
    url, repo = world
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    owner = repo / ".git" / f"appsync-index-{dead.stdout.strip()}.owner"
    owner.write_text(
        json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "start": None})
    )
    hour_ago = time.time() - 3600
    os.utime(owner, (hour_ago, hour_ago))
    lock_of(repo).write_bytes(b"")  # someone else's, made now
    result = run("export", url, "--repo", str(repo))
    assert result.exit_code == 1 and "another Git process holds" in result.stderr
    assert lock_of(repo).exists()
