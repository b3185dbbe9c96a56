"""Faults at the edges (issue 10, section 3): files that cannot be written are one error line
naming the path; driver noise never reaches stderr beside the error line."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert

from appsync.instance.example import uid
from appsync.instance.schema import reference_metadata
from appsync.kinds import registry
from tests.helpers import exported_example, run, table_digest, tree_bytes
from tests.sync_helpers import sql


def appsync(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "appsync", *args],
        capture_output=True,
        text=True,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )


# ---------------------------------------------------------------------------- driver noise


def _many_pages(url: str, count: int) -> list[str]:
    pad = "x" * 20_000
    pages = [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fault-page-{i}")),
            "app_id": uid("app/invoices"),
            "name": f"Generated page {i}",
            "route": f"/generated/{i}",
            "parent_id": None,
            # Large rows: the batch outgrows the socket buffers, so the connection is lost
            # while psycopg is still sending, which is when it logs.
            "widgets": [{"id": "w", "pane": "main", "type": "text", "props": {"text": pad}}],
        }
        for i in range(count)
    ]
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(insert(reference_metadata(registry()).tables["pages"]), pages)
    finally:
        engine.dispose()
    return [p["id"] for p in pages]


@pytest.mark.postgres
def test_a_backend_killed_mid_apply_is_one_error_line_without_driver_noise(
    pg_server: object, tmp_path: Path
) -> None:
    """psycopg logs 'error ignored terminating <psycopg.Pipeline ...>' when a batch of
    updates loses its connection; that must not reach stderr beside appsync's error."""
    dev, prod = pg_server.new_database(), pg_server.new_database()  # type: ignore[attr-defined]
    repo = tmp_path / "repo"
    assert run("instance", "init", dev, "--example").exit_code == 0
    assert run("instance", "init", prod).exit_code == 0
    assert run("init", str(repo)).exit_code == 0
    _many_pages(dev, 200)
    assert run("export", dev, "--repo", str(repo)).exit_code == 0
    assert run("apply", prod, "--repo", str(repo), "--yes").exit_code == 0
    sql(dev, "UPDATE pages SET route = route || '/v2'")
    assert run("export", dev, "--repo", str(repo)).exit_code == 0
    sql(
        prod,
        "CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN "
        "PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(1); "
        "RETURN NEW; END$$",
    )
    sql(prod, "CREATE TRIGGER die BEFORE UPDATE ON pages FOR EACH ROW EXECUTE FUNCTION die()")
    before = table_digest(prod)["pages"]
    # A subprocess: in-process, pytest's log capture would swallow what psycopg logs.
    result = appsync("apply", prod, "--repo", str(repo), "--yes")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if not line.startswith("  ")]
    assert len(errors) == 1 and errors[0].startswith("appsync: error: "), result.stderr
    assert "server closed the connection" in errors[0] or "terminat" in errors[0]
    assert "error ignored" not in result.stderr and "Pipeline" not in result.stderr
    assert table_digest(prod)["pages"] == before


# ---------------------------------------------------------------------------- unwritable files


def unprivileged() -> list[str]:
    """A prefix that makes a process respect permission bits: root ignores them unless
    its CAP_DAC_OVERRIDE is dropped."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("as root, read-only folders need setpriv to drop CAP_DAC_OVERRIDE")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def appsync_ro(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*unprivileged(), sys.executable, "-m", "appsync", *args],
        capture_output=True,
        text=True,
        check=False,
    )


@contextlib.contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Take write permission from ``paths`` (folders recursively), give it back after."""
    changed: list[tuple[Path, int]] = []
    for top in paths:
        for path in [top, *(top.rglob("*") if top.is_dir() else [])]:
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            changed.append((path, mode))
            path.chmod(mode & ~0o222)
    try:
        yield
    finally:
        for path, mode in reversed(changed):
            path.chmod(mode)


def one_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("appsync: error: "), result.stderr
    assert "internal error" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def world(tmp_path: Path) -> tuple[str, Path]:
    return exported_example(tmp_path)


QUERY = "apps/invoices/data/queries/monthly-totals"


def test_export_into_a_read_only_repository(world: tuple[str, Path]) -> None:
    url, repo = world
    sql(url, "UPDATE queries SET sql = 'SELECT 42' WHERE id = :id", id=uid("query/monthly-totals"))
    before = tree_bytes(repo)
    with read_only(repo):
        one_error(
            appsync_ro("export", url, "--repo", str(repo)),
            f"{repo / '.git'}: cannot write: Permission denied",
        )
        one_error(
            appsync_ro("export", url, "--repo", str(repo), "--no-commit"),
            f"{QUERY}.json: cannot write: Permission denied",
        )
    with read_only(repo / "apps"):
        one_error(
            appsync_ro("export", url, "--repo", str(repo)),
            f"{QUERY}.json: cannot write: Permission denied",
        )
    assert tree_bytes(repo) == before
    assert run("export", url, "--repo", str(repo)).exit_code == 0  # writable again: fine


def test_export_with_a_read_only_git_folder_writes_nothing(world: tuple[str, Path]) -> None:
    url, repo = world
    sql(url, "UPDATE queries SET sql = 'SELECT 42' WHERE id = :id", id=uid("query/monthly-totals"))
    before = tree_bytes(repo)
    with read_only(repo / ".git"):
        result = appsync_ro("export", url, "--repo", str(repo))
    one_error(result, str(repo / ".git"), "cannot write: Permission denied")
    assert tree_bytes(repo) == before


def test_plan_out_into_a_read_only_folder(world: tuple[str, Path], tmp_path: Path) -> None:
    url, repo = world
    plans = tmp_path / "plans"
    plans.mkdir()
    with read_only(plans):
        result = appsync_ro("plan", url, "--repo", str(repo), "--out", str(plans / "p.json"))
    one_error(result, f"{plans / 'p.json'}: cannot write: Permission denied")


def test_env_add_to_a_read_only_appsync_yaml(world: tuple[str, Path]) -> None:
    _, repo = world
    with read_only(repo):
        result = appsync_ro("env", "add", "x", "--url", "sqlite:///x.db", "--repo", str(repo))
    one_error(result, "appsync.yaml: cannot write: Permission denied")


def test_fmt_of_a_read_only_file(world: tuple[str, Path]) -> None:
    _, repo = world
    page = repo / "apps/invoices/app.json"
    page.write_text(page.read_text().replace("\n", "\n  "))
    with read_only(repo):
        result = appsync_ro("fmt", str(repo))
    one_error(result, "app.json: cannot write: Permission denied")


def test_pack_and_unpack_into_a_read_only_folder(world: tuple[str, Path], tmp_path: Path) -> None:
    _, repo = world
    assert run("pack", str(repo / "apps/invoices"), "-o", str(tmp_path / "p.zip")).exit_code == 0
    out = tmp_path / "out"
    out.mkdir()
    with read_only(out):
        one_error(
            appsync_ro("pack", str(repo / "apps/invoices"), "-o", str(out / "p.zip")),
            "p.zip: cannot write: Permission denied",
        )
        one_error(
            appsync_ro("unpack", str(tmp_path / "p.zip"), "-o", str(out / "tree")),
            "cannot create: Permission denied",
        )


def test_init_in_a_read_only_folder(tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    parent.mkdir()
    with read_only(parent):
        one_error(appsync_ro("init", str(parent / "repo")), str(parent / "repo"))


def test_an_unreadable_tree_file(world: tuple[str, Path]) -> None:
    url, repo = world
    secret = repo / f"{QUERY}.sql"
    secret.chmod(0o000)
    try:
        result = appsync_ro("plan", url, "--repo", str(repo))
    finally:
        secret.chmod(0o644)
    one_error(result, f"{QUERY}.sql: cannot read: Permission denied")


def test_an_export_with_nothing_to_do_needs_no_write_access(world: tuple[str, Path]) -> None:
    url, repo = world
    with read_only(repo):
        result = appsync_ro("export", url, "--repo", str(repo))
    assert result.returncode == 0, result.stderr
    assert "No changes" in result.stdout
