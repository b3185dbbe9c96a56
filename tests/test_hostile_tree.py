"""Hostile or broken trees (issue 10, section 2): deep JSON, links and special files, size
bounds. Each case through the CLI on a real Git repository and a real SQLite instance, in
the work tree and at a ``--ref`` alike."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from appsync.canonical.jsonform import MAX_DEPTH, parse_json
from appsync.errors import TreeError
from tests.helpers import commit_all, exported_example, git, run, table_digest, tree_bytes
from tests.sync_helpers import sql

PAGE = "apps/invoices/ui/pages/invoice-list.json"
SQL = "apps/invoices/data/queries/open-invoices.sql"


@pytest.fixture
def world(tmp_path: Path) -> tuple[str, Path]:
    """An example instance exported into a repository."""
    return exported_example(tmp_path)


def refused(result: object, *needles: str) -> None:
    """Exit 1 with one-line errors that name what was refused; never an internal error."""
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    stderr: str = result.stderr  # type: ignore[attr-defined]
    assert "internal error" not in stderr and "Traceback" not in stderr, stderr
    assert all(line.startswith("appsync: error: ") for line in stderr.splitlines()), stderr
    for needle in needles:
        assert needle in stderr, stderr


# ---------------------------------------------------------------------------- deep JSON


def nested(depth: int, opener: str = "[") -> bytes:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return (opener * depth + "1" + closer * depth).encode()


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deeply_nested_json_in_the_work_tree_is_exit_1_naming_the_file(
    world: tuple[str, Path], opener: str
) -> None:
    url, repo = world
    (repo / PAGE).write_bytes(nested(100_000, opener))
    refused(run("plan", url, "--repo", str(repo)), f"{PAGE}: JSON nested deeper than 64 levels")
    refused(run("fmt", "--check", str(repo)), f"{PAGE}: JSON nested deeper than 64 levels")
    # export --force is the repair: it rewrites the file from the instance.
    assert run("export", url, "--repo", str(repo), "--force").exit_code == 0
    assert run("plan", url, "--repo", str(repo)).exit_code == 0


def test_deeply_nested_json_at_a_ref_is_exit_1_naming_the_file(world: tuple[str, Path]) -> None:
    url, repo = world
    (repo / PAGE).write_bytes(nested(100_000))
    commit_all(repo, "deep")
    git(repo, "checkout", "-q", "HEAD~1", "--", PAGE)
    refused(run("plan", url, "--repo", str(repo), "--ref", "HEAD"), f"{PAGE}: JSON nested deeper")


def test_json_depth_bound_is_exactly_max_depth() -> None:
    assert parse_json(nested(MAX_DEPTH - 1), "x.json") is not None  # 64 levels with the 1
    with pytest.raises(TreeError, match="nested deeper than 64"):
        parse_json(nested(MAX_DEPTH), "x.json")
    assert parse_json(nested(200), "x.json", max_depth=201) is not None


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (b'{"id": "a", "id": "b"}', "duplicate key 'id'"),
        (b'{"n": NaN}', "NaN is not JSON"),
        (b'{"n": 1e999}', "a number is out of range"),
        (b'{"n": -Infinity}', "-Infinity is not JSON"),
        (b"\xff{}", "not UTF-8"),
    ],
)
def test_json_a_reader_could_misread_is_refused_in_the_tree(
    world: tuple[str, Path], text: bytes, needle: str
) -> None:
    url, repo = world
    (repo / PAGE).write_bytes(text)
    refused(run("plan", url, "--repo", str(repo)), PAGE, needle)


# ---------------------------------------------------------------------------- links and specials


def test_a_symlink_in_the_tree_is_refused_and_its_target_never_applied(
    world: tuple[str, Path], tmp_path: Path
) -> None:
    url, repo = world
    prod = f"sqlite:///{tmp_path / 'prod.db'}"
    assert run("instance", "init", prod).exit_code == 0
    outside = tmp_path / "outside.sql"
    outside.write_text("SELECT 'stolen from outside the repository'\n")
    (repo / SQL).unlink()
    (repo / SQL).symlink_to(outside)
    before = table_digest(prod)
    message = f"{SQL}: a symbolic link; only regular files are tree content"
    refused(run("plan", prod, "--repo", str(repo)), message)
    refused(run("apply", prod, "--repo", str(repo), "--yes"), message)
    refused(run("export", url, "--repo", str(repo), "--force"), message)
    assert table_digest(prod) == before
    assert outside.read_text() == "SELECT 'stolen from outside the repository'\n"


@pytest.mark.parametrize("where", ["apps/invoices/reports", "apps", "admin/roles"])
def test_a_linked_folder_is_refused(world: tuple[str, Path], tmp_path: Path, where: str) -> None:
    url, repo = world
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(repo / where, elsewhere)
    shutil.rmtree(repo / where)
    (repo / where).symlink_to(elsewhere, target_is_directory=True)
    refused(run("plan", url, "--repo", str(repo)), f"{where}: a symbolic link")


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> None:
    """A socket at ``path``, bound by its name from inside its folder (a socket's address
    is short, ``path`` may be long), on whatever file system ``path`` is on."""
    here = os.getcwd()
    os.chdir(path.parent)
    try:
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(path.name)
    finally:
        os.chdir(here)


def _device(path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("creating a device file needs root")
    os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null


@pytest.mark.parametrize(
    ("make", "kind"), [(_fifo, "a FIFO"), (_socket, "a socket"), (_device, "a character device")]
)
def test_special_files_are_refused_without_being_opened(
    world: tuple[str, Path], tmp_path: Path, make: Any, kind: str
) -> None:
    url, repo = world
    (repo / SQL).unlink()
    make(repo / SQL)  # a FIFO would block a reader that opened it
    refused(run("plan", url, "--repo", str(repo)), f"{SQL}: {kind}; only regular files")
    refused(run("pack", str(repo / "apps/invoices"), "-o", str(tmp_path / "p.zip")), SQL)
    (repo / SQL).unlink()
    make(repo / PAGE.replace("invoice-list", "special"))
    refused(run("fmt", "--check", str(repo)), f"special.json: {kind}")


def test_what_git_ignores_is_passed_over_and_a_tracked_file_never_is(
    world: tuple[str, Path],
) -> None:
    """As for Git: an untracked file its ignore rules match is not read (a FIFO there is not
    opened), while a tracked file stays content even when a rule matches it."""
    url, repo = world
    (repo / ".gitignore").write_text("*.sql\nscratch-*\n")
    os.mkfifo(repo / "admin/roles/scratch-pipe.json")
    (repo / "apps/invoices/data/queries/scratch-notes.json").write_text("not JSON")
    assert run("plan", url, "--repo", str(repo), "--detailed-exitcode").exit_code == 0
    (repo / SQL).write_text("SELECT 'edited while ignored'\n")
    result = run("plan", url, "--repo", str(repo), "--detailed-exitcode", "--format", "json")
    assert result.exit_code == 2, result.output
    assert "edited while ignored" in result.stdout
    git(repo, "rm", "-q", "--cached", SQL)  # untracked now: the rule applies, the file is gone
    refused(run("plan", url, "--repo", str(repo)), f"{SQL.rsplit('/', 1)[0]}/open-invoices")


def test_a_nested_repository_is_refused(world: tuple[str, Path]) -> None:
    url, repo = world
    (repo / "apps/invoices/files/.git").mkdir()
    refused(run("plan", url, "--repo", str(repo)), "apps/invoices/files: a nested Git repository")


def test_every_problem_is_reported_at_once(world: tuple[str, Path], tmp_path: Path) -> None:
    url, repo = world
    (repo / SQL).unlink()
    (repo / SQL).symlink_to("/etc/passwd")
    os.mkfifo(repo / "admin/roles/pipe.json")
    result = run("plan", url, "--repo", str(repo))
    refused(result, SQL, "admin/roles/pipe.json: a FIFO")
    assert len(result.stderr.splitlines()) == 2


def test_fmt_never_writes_through_a_link(world: tuple[str, Path], tmp_path: Path) -> None:
    _, repo = world
    outside = tmp_path / "outside.json"
    outside.write_text('{"id":   "x"}')
    (repo / PAGE).unlink()
    (repo / PAGE).symlink_to(outside)
    refused(run("fmt", str(repo)), f"{PAGE}: a symbolic link")
    refused(run("fmt", str(repo / PAGE)), "a symbolic link")
    assert outside.read_text() == '{"id":   "x"}'


def test_links_and_submodules_at_a_ref_are_refused(world: tuple[str, Path]) -> None:
    url, repo = world
    (repo / SQL).unlink()
    (repo / SQL).symlink_to("/etc/passwd")
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "add", "-A")
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},apps/invoices/vendor")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "link, submodule")
    git(repo, "update-index", "--force-remove", "apps/invoices/vendor")
    git(repo, "checkout", "-q", "HEAD~1", "--", SQL)  # the work tree is fine again
    assert run("plan", url, "--repo", str(repo)).exit_code == 0
    result = run("plan", url, "--repo", str(repo), "--ref", "HEAD")
    refused(
        result,
        f"{SQL}: a symbolic link (mode 120000); only regular files are tree content",
        "apps/invoices/vendor: a submodule (a commit entry, mode 160000)",
    )
    refused(run("apply", url, "--repo", str(repo), "--ref", "HEAD", "--yes"), SQL)


# ---------------------------------------------------------------------------- sizes


def test_a_file_past_the_bound_is_refused_naming_it(
    world: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, repo = world
    (repo / SQL).write_text("SELECT 1\n" + "-- padding\n" * 200)
    monkeypatch.setenv("APPSYNC_MAX_FILE_SIZE", "2K")
    message = f"{SQL}: 2.157 KB (2,209 bytes), larger than APPSYNC_MAX_FILE_SIZE (2 KB"
    result = run("plan", url, "--repo", str(repo))
    refused(result, message)
    assert len(result.stderr.splitlines()) == 1
    monkeypatch.setenv("APPSYNC_MAX_FILE_SIZE", "1K")  # fmt reads object files only
    refused(run("fmt", "--check", str(repo)), f"{PAGE}: 1.195 KB (1,224 bytes), larger than")
    monkeypatch.setenv("APPSYNC_MAX_FILE_SIZE", "2K")
    commit_all(repo, "big")
    refused(run("plan", url, "--repo", str(repo), "--ref", "HEAD"), message)
    monkeypatch.setenv("APPSYNC_MAX_FILE_SIZE", "1M")
    assert run("plan", url, "--repo", str(repo), "--ref", "HEAD").exit_code == 0


def test_the_whole_tree_is_bounded(
    world: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, repo = world
    monkeypatch.setenv("APPSYNC_MAX_TREE_SIZE", "8K")
    result = run("plan", url, "--repo", str(repo))
    refused(result, "the tree passes APPSYNC_MAX_TREE_SIZE (8 KB (8,192 bytes)) at this file")
    refused(run("plan", url, "--repo", str(repo), "--ref", "HEAD"), "APPSYNC_MAX_TREE_SIZE")
    monkeypatch.setenv("APPSYNC_MAX_TREE_SIZE", "lots")
    refused(run("plan", url, "--repo", str(repo)), "APPSYNC_MAX_TREE_SIZE='lots': expected a size")


def test_export_writes_nothing_plan_would_refuse(
    world: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, repo = world
    sql(url, "UPDATE queries SET sql = :s", s="SELECT 1\n" + "-- padding\n" * 200)
    before = tree_bytes(repo)
    monkeypatch.setenv("APPSYNC_MAX_FILE_SIZE", "1K")
    refused(run("export", url, "--repo", str(repo)), "larger than APPSYNC_MAX_FILE_SIZE")
    assert tree_bytes(repo) == before


def test_a_120_mb_sidecar_is_refused_before_it_is_read(world: tuple[str, Path]) -> None:
    url, repo = world
    big = repo / "apps/invoices/files/logo.png"
    with open(big, "r+b") as handle:  # sparse: 120 MB that take no disk and no time
        handle.truncate(120 * 1024 * 1024)
    tracemalloc.start()
    try:
        result = run("plan", url, "--repo", str(repo))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    refused(result, "apps/invoices/files/logo.png: 120 MB (125,829,120 bytes), larger than")
    assert peak < 30 * 1024 * 1024, f"{peak:,} bytes allocated to refuse a 120 MB file"
    commit_all(repo, "a 120 MB logo")
    tracemalloc.start()
    try:
        result = run("plan", url, "--repo", str(repo), "--ref", "HEAD")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    refused(result, "apps/invoices/files/logo.png: 120 MB")
    assert peak < 30 * 1024 * 1024, f"{peak:,} bytes allocated to refuse a 120 MB blob"
