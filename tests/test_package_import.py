"""import: settings from import_config.json under the command line, the same exit codes as
apply, role creation, prune limited to the app, and what pack refuses to build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appsync.instance.example import uid
from appsync.kinds import Registry
from tests.helpers import run, table_digest
from tests.package_corpus import example_tree, read_entries, write_tree
from tests.sync_helpers import scalar, sql

APP = "apps/invoices"
SQL_FILE = f"{APP}/data/queries/open-invoices.sql"


@pytest.fixture
def repo(reg: Registry, tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write_tree(root, example_tree(reg))
    return root


def pack(repo: Path, out: Path, *args: str) -> Path:
    result = run("pack", str(repo / APP), "-o", str(out), *args)
    assert result.exit_code == 0, result.stderr
    return out


def empty(url: str) -> str:
    assert run("instance", "init", url).exit_code == 0
    return url


def test_import_config_defaults_and_overrides(repo: Path, tmp_path: Path, db_url: str) -> None:
    target = empty(db_url)
    v1 = pack(repo, tmp_path / "v1.zip", "--tag", "1", "--conflicts", "skip")
    assert run("import", str(v1), target, "--yes").exit_code == 0
    sql(target, "UPDATE queries SET sql = 'SELECT 2' WHERE id = :i", i=uid("query/open-invoices"))
    (repo / SQL_FILE).write_text("SELECT 3\n")
    v2 = pack(repo, tmp_path / "v2.zip", "--tag", "2", "--conflicts", "skip")
    before = table_digest(target)

    prompt = run("import", str(v2), target, "--yes", "--conflicts", "prompt")
    assert prompt.exit_code == 3, prompt.stderr  # no terminal to ask: as apply does
    assert "conflict" in prompt.stderr and table_digest(target) == before

    skipped = run("import", str(v2), target, "--yes")  # import_config.json says skip
    assert skipped.exit_code == 0, skipped.stderr
    assert "query Open Invoices" in skipped.stderr  # kept as the target has it
    assert scalar(
        target, "SELECT sql FROM queries WHERE id = :i", i=uid("query/open-invoices")
    ) == ("SELECT 2")

    forced = run("import", str(v2), target, "--yes", "--conflicts", "overwrite")
    assert forced.exit_code == 0, forced.stderr
    assert scalar(
        target, "SELECT sql FROM queries WHERE id = :i", i=uid("query/open-invoices")
    ) == ("SELECT 3\n")
    assert "package:invoices@2" in run("log", target).stdout


def test_environment_defaults_sit_between_options_and_the_package(
    repo: Path, tmp_path: Path
) -> None:
    target = empty(f"sqlite:///{tmp_path / 'prod.db'}")
    v1 = pack(repo, tmp_path / "v1.zip")
    assert run("import", str(v1), target, "--yes").exit_code == 0
    sql(target, "UPDATE queries SET sql = 'SELECT 2' WHERE id = :i", i=uid("query/open-invoices"))
    (repo / SQL_FILE).write_text("SELECT 3\n")
    v2 = pack(repo, tmp_path / "v2.zip")  # import_config.json: conflicts prompt
    (repo / "appsync.yaml").write_text(
        f"version: 1\nenvironments:\n  prod:\n    url: {target}\n    conflicts: skip\n"
    )
    result = run("import", str(v2), "prod", "--repo", str(repo), "--yes")
    assert result.exit_code == 0, result.stderr
    assert "query Open Invoices" in result.stderr


def test_role_creation_can_be_refused(repo: Path, tmp_path: Path) -> None:
    target = empty(f"sqlite:///{tmp_path / 'prod.db'}")
    package = pack(repo, tmp_path / "p.zip", "--no-allow-role-creation")
    before = table_digest(target)
    refused = run("import", str(package), target, "--yes")
    assert refused.exit_code == 1
    lines = refused.stderr.splitlines()
    assert len(lines) == 3 and all("role creation is off" in line for line in lines)
    assert table_digest(target) == before
    allowed = run("import", str(package), target, "--yes", "--allow-role-creation")
    assert allowed.exit_code == 0, allowed.stderr


def test_dry_run_and_write_merged(repo: Path, tmp_path: Path) -> None:
    target = empty(f"sqlite:///{tmp_path / 'prod.db'}")
    package = pack(repo, tmp_path / "p.zip")
    before = table_digest(target)
    dry = run("import", str(package), target, "--dry-run")
    assert dry.exit_code == 0 and "Dry run: 17 created" in dry.stdout
    assert table_digest(target) == before
    merged = run("import", str(package), target, "--yes", "--write-merged")
    assert merged.exit_code == 1 and "work tree" in merged.stderr


def test_prune_touches_only_the_packaged_app(repo: Path, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'prod.db'}"
    assert run("instance", "init", target, "--example").exit_code == 0
    sql(target, "DELETE FROM functions")
    sql(target, "DELETE FROM reports WHERE app_id = :a", a=uid("app/invoices"))
    assert run("import", str(pack(repo, tmp_path / "v1.zip")), target, "--yes").exit_code == 0
    for name in ("notify-approver.json", "notify-approver.py"):
        (repo / APP / "functions" / name).unlink()
    v2 = pack(repo, tmp_path / "v2.zip")
    kept = run("import", str(v2), target, "--yes")
    assert kept.exit_code == 0 and "orphaned" in kept.stdout
    assert scalar(target, "SELECT count(*) FROM functions") == 2
    pruned = run("import", str(v2), target, "--yes", "--prune")
    assert pruned.exit_code == 0, pruned.stderr
    assert scalar(target, "SELECT count(*) FROM functions") == 1
    # the other app, the roles and users the package does not carry: untouched
    assert scalar(target, "SELECT count(*) FROM roles") == 4
    assert scalar(target, "SELECT count(*) FROM users") == 4
    assert scalar(target, "SELECT count(*) FROM apps") == 2
    assert "missing" not in pruned.stdout  # the contractors app is on the target


def test_a_taken_role_name_is_a_conflict(repo: Path, tmp_path: Path) -> None:
    target = empty(f"sqlite:///{tmp_path / 'prod.db'}")
    sql(target, "INSERT INTO roles (id, name) VALUES (:i, 'Accountants')", i=uid("other"))
    before = table_digest(target)
    result = run("import", str(pack(repo, tmp_path / "p.zip")), target, "--yes")
    assert result.exit_code == 3 and "Accountants" in result.stderr
    assert table_digest(target) == before


def test_include_users_brings_the_role_holders(repo: Path, tmp_path: Path) -> None:
    package = pack(repo, tmp_path / "p.zip", "--include-users")
    names = {n for n, _ in read_entries(package.read_bytes())}
    users = {n.rsplit("/", 1)[1] for n in names if n.startswith("admin/users/")}
    assert users == {"bob.json", "carol.json", "dave.json"}
    assert "admin/roles/administrators.json" not in names
    assert run("verify", str(package)).exit_code == 0
    entries = dict(read_entries(package.read_bytes()))
    assert all(b"password_hash" not in d for d in entries.values())


def test_pack_refuses_what_would_not_verify(repo: Path, tmp_path: Path) -> None:
    (repo / "admin/roles/accountants.json").unlink()
    result = run("pack", str(repo / APP), "-o", str(tmp_path / "p.zip"))
    assert result.exit_code == 1
    assert all("which is not in the package" in line for line in result.stderr.splitlines())
    assert not (tmp_path / "p.zip").exists()
    wrong = run("pack", str(repo / "admin"), "-o", str(tmp_path / "p.zip"))
    assert wrong.exit_code == 1 and "not an app folder" in wrong.stderr


def test_pack_skips_stray_files_and_refuses_links(repo: Path, tmp_path: Path) -> None:
    (repo / APP / "NOTES.txt").write_text("mine")
    result = run("pack", str(repo / APP), "-o", str(tmp_path / "p.zip"))
    assert result.exit_code == 0 and "NOTES.txt: not packed" in result.stderr
    (repo / APP / "files" / "passwd").symlink_to("/etc/passwd")
    linked = run("pack", str(repo / APP), "-o", str(tmp_path / "q.zip"))
    assert linked.exit_code == 1 and "symbolic link" in linked.stderr


def test_metadata_and_readme(repo: Path, tmp_path: Path) -> None:
    package = pack(
        repo,
        tmp_path / "p.zip",
        "--tag",
        "1.2.0",
        "--environment",
        "prod",
        "--notes",
        "Line one\nLine two",
        "--exported-by",
        "ci@build",
    )
    entries = dict(read_entries(package.read_bytes()))
    meta = json.loads(entries["metadata.json"])
    assert meta["environment"] == "PROD" and meta["exported_by"] == "ci@build"
    assert meta["objects"]["role"] == 3 and meta["objects"]["query"] == 3
    readme = entries["README.md"].decode()
    assert "Line two" in readme and "| query | 3 |" in readme
    assert "appsync import invoices-1.2.0.zip TARGET" in readme
    bad = run("pack", str(repo / APP), "-o", str(tmp_path / "x.zip"), "--tag", "1 2")
    assert bad.exit_code == 1 and "tag" in bad.stderr


def test_integrity_off_allows_a_package_without_checksums(repo: Path, tmp_path: Path) -> None:
    from tests.package_corpus import rezip

    entries = read_entries(pack(repo, tmp_path / "p.zip").read_bytes())
    config = json.dumps({"conflicts": "prompt", "options": {"verify_integrity": False}})
    entries = [(n, config.encode() if n == "import_config.json" else d) for n, d in entries]
    package = tmp_path / "unchecked.zip"
    package.write_bytes(rezip([(n, d) for n, d in entries if n != "checksums.json"]))
    assert run("verify", str(package)).exit_code == 0
    strict = run("verify", str(package), "--verify-integrity")
    assert strict.exit_code == 1 and "checksums.json: required file" in strict.stderr
