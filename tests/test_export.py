"""Export to Git on real SQLite and PostgreSQL, read back with pygit2 and the git CLI."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from appsync.instance.example import EXAMPLE_SECRETS, uid
from tests.helpers import git, run, tree_bytes
from tests.sync_helpers import sql


@pytest.fixture
def dev(db_url: str) -> str:
    assert run("instance", "init", db_url, "--example").exit_code == 0
    return db_url


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    assert run("init", str(path)).exit_code == 0
    return path


def commits(repo: Path) -> list[str]:
    return git(repo, "rev-list", "HEAD").split()


def test_export_twice_is_byte_identical_and_commits_once(dev: str, repo: Path) -> None:
    first = run("export", dev, "--repo", str(repo), "-m", "Export dev")
    assert first.exit_code == 0, first.output
    assert "Committed" in first.output
    files = tree_bytes(repo)
    head = commits(repo)
    second = run("export", dev, "--repo", str(repo))
    assert second.exit_code == 0
    assert "No changes" in second.output
    assert tree_bytes(repo) == files
    assert commits(repo) == head
    assert git(repo, "status", "--porcelain") == ""
    subprocess.run(["git", "-C", str(repo), "fsck", "--strict"], check=True, capture_output=True)
    assert git(repo, "log", "-1", "--format=%an <%ae>|%s").strip() == (
        "Test Author <test@example.com>|Export dev"
    )


def test_one_changed_query_is_one_commit_of_its_files(dev: str, repo: Path) -> None:
    run("export", dev, "--repo", str(repo))
    sql(
        dev,
        "UPDATE queries SET sql = :s WHERE id = :id",
        s="SELECT 42 AS answer\n",
        id=uid("query/monthly-totals"),
    )
    result = run("export", dev, "--repo", str(repo), "-m", "Hotfix")
    assert result.exit_code == 0, result.output
    changed = git(repo, "diff", "--name-only", "HEAD~1", "HEAD").split()
    assert changed == [
        "apps/invoices/data/queries/monthly-totals.json",
        "apps/invoices/data/queries/monthly-totals.sql",
    ]
    assert (repo / changed[1]).read_text() == "SELECT 42 AS answer\n"
    history = json.loads((repo / changed[0]).read_text())["history"]
    assert len(history) == 2 and history[0]["origin"].startswith("instance:")
    assert history[0]["rev"] != history[1]["rev"]
    assert git(repo, "status", "--porcelain") == ""


def test_secrets_never_reach_the_tree_or_git(dev: str, repo: Path) -> None:
    run("export", dev, "--repo", str(repo))
    assert EXAMPLE_SECRETS
    blob = b"".join(tree_bytes(repo).values())
    objects = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch"],
        capture_output=True,
        check=True,
    ).stdout
    for secret in EXAMPLE_SECRETS:
        assert secret.encode() not in blob
        assert secret.encode() not in objects
    assert b"password_hash" not in blob and b"credentials" not in blob


def test_deleted_objects_lose_their_files(dev: str, repo: Path) -> None:
    run("export", dev, "--repo", str(repo))
    sql(dev, "DELETE FROM queries WHERE id = :id", id=uid("query/invoice-by-id"))
    sql(dev, "DELETE FROM files WHERE app_id = :id", id=uid("app/contractors"))
    assert run("export", dev, "--repo", str(repo)).exit_code == 0
    removed = git(repo, "diff", "--name-status", "HEAD~1", "HEAD").split("\n")
    assert "D\tapps/invoices/data/queries/invoice-by-id.sql" in removed
    assert not (repo / "apps/contractors/files").exists()
    assert git(repo, "status", "--porcelain") == ""


def test_app_and_component_filters(dev: str, repo: Path) -> None:
    result = run(
        "export", dev, "--repo", str(repo), "--app", "contractors", "--components", "query,page,app"
    )
    assert result.exit_code == 0, result.output
    paths = set(tree_bytes(repo))
    assert "apps/contractors/data/queries/active-contractors.sql" in paths
    assert "apps/contractors/app.json" in paths
    assert not any(p.startswith(("apps/invoices", "admin/")) for p in paths)
    assert not any("/reports/" in p for p in paths)
    # The slug works as well as the name; an unknown app is an error that writes nothing.
    assert run("export", dev, "--repo", str(repo), "--app", "invoices").exit_code == 0
    assert (repo / "apps/contractors/app.json").exists()
    before = tree_bytes(repo)
    bad = run("export", dev, "--repo", str(repo), "--app", "payroll")
    assert bad.exit_code == 1 and "no app 'payroll'" in bad.stderr
    assert tree_bytes(repo) == before


def test_no_commit_leaves_changes_in_the_work_tree(dev: str, repo: Path) -> None:
    head = commits(repo)
    result = run("export", dev, "--repo", str(repo), "--no-commit")
    assert result.exit_code == 0
    assert commits(repo) == head
    assert "apps/invoices/app.json" in git(repo, "status", "--porcelain", "-uall")
    again = tree_bytes(repo)
    run("export", dev, "--repo", str(repo), "--no-commit")
    assert tree_bytes(repo) == again


@pytest.mark.postgres
def test_sqlite_and_postgres_export_the_same_tree(pg_url: str, tmp_path: Path) -> None:
    lite = f"sqlite:///{tmp_path / 'dev.db'}"
    trees = []
    for url, name in ((lite, "a"), (pg_url, "b")):
        run("instance", "init", url, "--example")
        run("init", str(tmp_path / name))
        assert run("export", url, "--repo", str(tmp_path / name)).exit_code == 0
        trees.append(tree_bytes(tmp_path / name))
    assert set(trees[0]) == set(trees[1])

    def without_history(data: bytes, path: str) -> object:
        if not path.endswith(".json") or "history" not in (doc := json.loads(data)):
            return data
        return {**doc, "history": [h["rev"] for h in doc["history"]]}

    for path in trees[0]:
        assert without_history(trees[0][path], path) == without_history(trees[1][path], path)


@pytest.mark.postgres
def test_export_works_with_a_read_only_role(pg_url: str, pg_server, tmp_path: Path) -> None:
    run("instance", "init", pg_url, "--example")
    database = pg_url.rsplit("/", 1)[1]
    role = f"ro_{database[-12:]}"
    sql(pg_url, f'CREATE ROLE "{role}" LOGIN')
    sql(pg_url, f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
    try:
        ro_url = pg_url.replace("postgres@", f"{role}@", 1)
        run("init", str(tmp_path / "r"))
        result = run("export", ro_url, "--repo", str(tmp_path / "r"))
        assert result.exit_code == 0, result.output
        assert (tmp_path / "r/apps/invoices/app.json").exists()
    finally:
        sql(pg_url, f'DROP OWNED BY "{role}"')
        sql(pg_url, f'DROP ROLE "{role}"')


def test_export_works_on_a_read_only_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "ro.db"
    run("instance", "init", f"sqlite:///{db}", "--example")
    os.chmod(db, stat.S_IRUSR)
    os.chmod(tmp_path, stat.S_IRUSR | stat.S_IXUSR | stat.S_IWUSR)
    before = db.read_bytes()
    run("init", str(tmp_path / "r"))
    result = run("export", f"sqlite:///{db}", "--repo", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert db.read_bytes() == before


def test_export_refuses_to_overwrite_uncommitted_edits(dev: str, repo: Path) -> None:
    run("export", dev, "--repo", str(repo))
    page = repo / "apps/invoices/ui/pages/invoice-list.json"
    page.write_text(page.read_text().replace('"Invoices"', '"Work in progress"'))
    sql(dev, "UPDATE pages SET route = '/changed' WHERE name = 'Invoice List'")
    before = tree_bytes(repo)
    refused = run("export", dev, "--repo", str(repo))
    assert refused.exit_code == 1
    assert "uncommitted" in refused.stderr and "invoice-list.json" in refused.stderr
    assert tree_bytes(repo) == before
    forced = run("export", dev, "--repo", str(repo), "--force")
    assert forced.exit_code == 0, forced.output
    assert "Work in progress" not in page.read_text()


def test_export_follows_the_apps_of_appsync_yaml(dev: str, repo: Path) -> None:
    config = repo / "appsync.yaml"
    config.write_text(config.read_text().replace("apps: []", "apps: [contractors, payroll]"))
    assert run("export", dev, "--repo", str(repo)).exit_code == 0
    assert (repo / "apps/contractors/app.json").exists()
    assert not (repo / "apps/invoices").exists()
