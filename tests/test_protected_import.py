"""A protected environment takes imports only of packages packed from a clean commit
(issue 10, section 1): 'pack DIR && import PKG prod' no longer carries an uncommitted edit
onto prod. Real repositories, real packages, SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import commit_all, git, run, table_digest
from tests.package_corpus import read_entries, rezip

APP = "apps/invoices"
SQL_FILE = f"{APP}/data/queries/open-invoices.sql"


@pytest.fixture
def world(tmp_path: Path, db_url: str, second_db: str) -> tuple[Path, str]:
    """dev exported into a repository whose prod environment is protected."""
    return make_world(tmp_path, db_url, second_db)


@pytest.fixture
def dev(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dev.db'}"


@pytest.fixture
def sqlite_world(tmp_path: Path, dev: str) -> tuple[Path, str]:
    """The same on SQLite only, for the variations."""
    return make_world(tmp_path, dev, f"sqlite:///{tmp_path / 'prod.db'}")


def make_world(tmp_path: Path, db_url: str, second_db: str) -> tuple[Path, str]:
    assert run("instance", "init", db_url, "--example").exit_code == 0
    assert run("instance", "init", second_db).exit_code == 0
    repo = tmp_path / "repo"
    assert run("init", str(repo)).exit_code == 0
    assert run("export", db_url, "--repo", str(repo)).exit_code == 0
    added = run("env", "add", "prod", "--url", second_db, "--protected", "--repo", str(repo))
    assert added.exit_code == 0, added.output
    commit_all(repo, "prod is protected")
    return repo, second_db


def pack(repo: Path, out: Path) -> Path:
    result = run("pack", str(repo / APP), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    return out


def import_(repo: Path, package: Path, *args: str):  # type: ignore[no-untyped-def]
    return run("import", str(package), "prod", "--repo", str(repo), "--yes", *args)


def test_an_uncommitted_edit_does_not_reach_a_protected_target(
    world: tuple[Path, str], tmp_path: Path
) -> None:
    repo, prod = world
    (repo / SQL_FILE).write_text("SELECT 'not reviewed'\n")
    package = pack(repo, tmp_path / "p.zip")
    head = git(repo, "rev-parse", "HEAD").strip()
    before = table_digest(prod)
    result = import_(repo, package)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "appsync: error: environment 'prod' is protected: it takes imports only of packages "
        f"packed from a clean commit, and p.zip was packed from commit {head[:12]} with "
        "uncommitted changes (commit them, then pack again); --force imports it anyway"
    )
    assert table_digest(prod) == before
    forced = import_(repo, package, "--force")
    assert forced.exit_code == 0, forced.output


def test_a_package_from_a_clean_commit_imports(
    sqlite_world: tuple[Path, str], tmp_path: Path
) -> None:
    repo, _ = sqlite_world
    (repo / SQL_FILE).write_text("SELECT 'reviewed'\n")
    commit_all(repo, "reviewed")
    (repo / APP / "NOTES.txt").write_text("mine, never packed\n")  # not packed: still clean
    package = pack(repo, tmp_path / "p.zip")
    meta = json.loads(dict(read_entries(package.read_bytes()))["metadata.json"])
    assert meta["source"] == {
        "commit": git(repo, "rev-parse", "HEAD").strip(),
        "clean": True,
        "instance": None,
    }
    verified = run("verify", str(package))
    assert "packed from commit" in verified.output and "(clean)" in verified.output
    result = import_(repo, package)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "change",
    ["new object file", "deleted object file", "edited role", "staged only"],
)
def test_every_kind_of_uncommitted_change_makes_a_package_unclean(
    sqlite_world: tuple[Path, str], tmp_path: Path, change: str
) -> None:
    repo, _ = sqlite_world
    if change == "new object file":
        query = json.loads((repo / f"{APP}/data/queries/open-invoices.json").read_text())
        query.update(id="11111111-2222-3333-4444-555555555555", name="Extra")
        (repo / f"{APP}/data/queries/extra.json").write_text(json.dumps(query))
    elif change == "deleted object file":
        (repo / f"{APP}/reports/monthly-invoice-totals.json").unlink()
    elif change == "edited role":
        role = repo / "admin/roles/viewers.json"
        role.write_text(role.read_text().replace('"Viewers"', '"Lookers"'))
    else:
        (repo / SQL_FILE).write_text("SELECT 'staged'\n")
        git(repo, "add", SQL_FILE)
    package = pack(repo, tmp_path / "p.zip")
    result = import_(repo, package)
    assert result.exit_code == 1 and "with uncommitted changes" in result.stderr


def test_a_package_from_an_instance_or_an_older_appsync_needs_force(
    sqlite_world: tuple[Path, str], tmp_path: Path, dev: str
) -> None:
    repo, prod = sqlite_world
    exported = tmp_path / "e.zip"
    assert run("export", dev, "--app", "invoices", "--zip", str(exported)).exit_code == 0
    before = table_digest(prod)
    result = import_(repo, exported)
    assert result.exit_code == 1
    assert "was exported from instance" in result.stderr and "not packed from a commit" in (
        result.stderr
    )

    entries = read_entries(pack(repo, tmp_path / "clean.zip").read_bytes())
    old = []
    for name, data in entries:
        if name == "metadata.json":
            meta = json.loads(data)
            del meta["source"]
            meta["schema_version"] = "1.0"
            data = json.dumps(meta, indent=2, sort_keys=True).encode() + b"\n"
        old.append((name, data))
    older = tmp_path / "old.zip"
    older.write_bytes(rezip(old))
    assert run("verify", str(older)).exit_code == 0  # still a valid package
    result = import_(repo, older)
    assert result.exit_code == 1 and "does not say which commit it was packed from" in (
        result.stderr
    )
    assert table_digest(prod) == before
    assert import_(repo, older, "--force").exit_code == 0


def test_an_unprotected_target_takes_any_package(
    sqlite_world: tuple[Path, str], tmp_path: Path
) -> None:
    repo, prod = sqlite_world
    (repo / SQL_FILE).write_text("SELECT 'not reviewed'\n")
    package = pack(repo, tmp_path / "p.zip")
    result = run("import", str(package), prod, "--yes")  # the URL, not the environment
    assert result.exit_code == 0, result.output
