"""The GitOps workflow: appsync.yaml environments, env add/remove, bindings, protection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appsync.instance.example import uid
from tests.helpers import commit_all, git, run, table_digest
from tests.sync_helpers import scalar, sql

COMMENTED = """\
# Our team's appsync configuration.
version: 1   # format version

# Where our apps live.
environments:
  # The developers' instance.
  dev:
    url: sqlite:///dev.db   # local file

    # nothing else yet


# Apps we sync (keep sorted!)
apps:
  - invoices   # finance
  - contractors

"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    assert run("init", str(tmp_path / "myapps")).exit_code == 0
    return tmp_path / "myapps"


def test_env_add_and_remove_keep_every_comment_and_blank_line(repo: Path) -> None:
    config = repo / "appsync.yaml"
    config.write_text(COMMENTED)
    added = run(
        "env",
        "add",
        "prod",
        "--url",
        "${APPSYNC_PROD_URL}",
        "--protected",
        "--binding",
        "ERP_URL=https://erp.example.com",
        "--repo",
        str(repo),
    )
    assert added.exit_code == 0, added.output
    text = config.read_text()
    for line in COMMENTED.splitlines():
        assert line in text.splitlines(), line
    assert text.count("\n\n") == COMMENTED.count("\n\n")
    assert text.index("prod:") < text.index("# Apps we sync")
    listed = run("env", "list", "--repo", str(repo), "--format", "json")
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["prod"]["protected"] is True and rows["prod"]["bindings"] == ["ERP_URL"]
    assert run("env", "remove", "prod", "--repo", str(repo)).exit_code == 0
    assert config.read_text() == COMMENTED
    again = run("env", "add", "dev", "--url", "sqlite:///x.db", "--repo", str(repo))
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert config.read_text() == COMMENTED


def test_env_add_to_a_new_repo_then_remove_restores_the_template(repo: Path) -> None:
    original = (repo / "appsync.yaml").read_text()
    for name in ("dev", "staging", "prod"):
        assert (
            run("env", "add", name, "--url", f"sqlite:///{name}.db", "--repo", str(repo)).exit_code
            == 0
        )
    text = (repo / "appsync.yaml").read_text()
    assert text.index("prod:") < text.index("# Apps to sync")
    for name in ("staging", "prod", "dev"):
        assert run("env", "remove", name, "--repo", str(repo)).exit_code == 0
    assert (repo / "appsync.yaml").read_text() == original


def test_env_list_masks_passwords(repo: Path) -> None:
    url = "postgresql+psycopg://app:s3cret@db/prod"
    run("env", "add", "pg", "--url", url, "--allow-literal-password", "--repo", str(repo))
    listed = run("env", "list", "--repo", str(repo))
    assert "s3cret" not in listed.output and "app:***@db" in listed.output


def test_invalid_config_names_file_line_and_key(repo: Path) -> None:
    (repo / "appsync.yaml").write_text(
        "version: 1\nenvironments:\n  dev:\n    url: sqlite:///d.db\n    protectd: true\n"
    )
    result = run("plan", "dev", "--repo", str(repo))
    assert result.exit_code == 1
    assert f"{repo / 'appsync.yaml'}:5: environments.dev.protectd" in result.stderr


def test_unset_variable_is_named(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APPSYNC_NOPE_URL", raising=False)
    run("env", "add", "prod", "--url", "${APPSYNC_NOPE_URL}", "--repo", str(repo))
    result = run("plan", "prod", "--repo", str(repo))
    assert result.exit_code == 1 and "APPSYNC_NOPE_URL is not set" in result.stderr


def test_empty_variable_is_named(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GitHub gives a job that may not read a secret an empty string, not an unset variable."""
    monkeypatch.setenv("APPSYNC_NOPE_URL", "")
    run("env", "add", "prod", "--url", "${APPSYNC_NOPE_URL}", "--repo", str(repo))
    result = run("plan", "prod", "--repo", str(repo))
    assert result.exit_code == 1
    assert result.stderr == (
        "appsync: error: environment 'prod': variable APPSYNC_NOPE_URL is empty "
        "(in CI: is its secret available to this job?)\n"
    )


@pytest.fixture
def bound(repo: Path, db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict:
    """dev exported with its ERP URL as a binding; an empty prod environment."""
    if db_url.startswith("sqlite"):
        prod = f"sqlite:///{tmp_path / 'prod.db'}"
    else:
        prod = request.getfixturevalue("pg_server").new_database()
    run("instance", "init", db_url, "--example")
    run("instance", "init", prod)
    dev_value = "https://erp.dev.example.com/api/v2"
    assert (
        run(
            "env",
            "add",
            "dev",
            "--url",
            db_url,
            "--binding",
            f"ERP_URL={dev_value}",
            "--repo",
            str(repo),
        ).exit_code
        == 0
    )
    assert (
        run("env", "add", "prod", "--url", prod, "--protected", "--repo", str(repo)).exit_code == 0
    )
    commit_all(repo, "Add dev and prod")  # export commits only the tree files it writes
    assert run("export", "dev", "--repo", str(repo), "-m", "Import from dev").exit_code == 0
    return {"repo": repo, "dev": db_url, "prod": prod}


def test_bindings_placeholder_missing_and_substituted(bound: dict) -> None:
    repo, prod = bound["repo"], bound["prod"]
    connector = json.loads((repo / "apps/invoices/connectors/accounting-api.json").read_text())
    assert connector["base_url"] == "${binding:ERP_URL}"

    before = table_digest(prod)
    for command in ("plan", "apply"):
        args = [command, "prod", "--repo", str(repo)] + (["--yes"] if command == "apply" else [])
        result = run(*args)
        assert result.exit_code == 1, result.output
        assert "binding 'ERP_URL' has no value for environment 'prod'" in result.stderr
        assert "accounting-api.json" in result.stderr
    assert table_digest(prod) == before

    run("env", "remove", "prod", "--repo", str(repo))
    run(
        "env",
        "add",
        "prod",
        "--url",
        prod,
        "--protected",
        "--binding",
        "ERP_URL=https://erp.example.com/api/v2",
        "--repo",
        str(repo),
    )
    commit_all(repo, "prod binding")
    applied = run("apply", "prod", "--repo", str(repo), "--yes")
    assert applied.exit_code == 0, applied.output
    assert scalar(prod, "SELECT base_url FROM connectors") == "https://erp.example.com/api/v2"
    assert run("plan", "prod", "--repo", str(repo), "--detailed-exitcode").exit_code == 0
    head = git(repo, "rev-parse", "HEAD")
    assert run("export", "prod", "--repo", str(repo)).exit_code == 0
    connector = json.loads((repo / "apps/invoices/connectors/accounting-api.json").read_text())
    assert connector["base_url"] == "${binding:ERP_URL}"
    assert git(repo, "rev-parse", "HEAD") == head  # prod exports to the same tree: no commit


def test_protected_environment(bound: dict) -> None:
    repo, prod = bound["repo"], bound["prod"]
    run("env", "remove", "prod", "--repo", str(repo))
    run(
        "env",
        "add",
        "prod",
        "--url",
        prod,
        "--protected",
        "--binding",
        "ERP_URL=https://x",
        "--repo",
        str(repo),
    )
    commit_all(repo, "prod")
    sql_file = repo / "apps/invoices/data/queries/open-invoices.sql"
    sql_file.write_text("SELECT 'uncommitted'\n")
    before = table_digest(prod)
    dirty = run("apply", "prod", "--repo", str(repo), "--yes")
    assert dirty.exit_code == 1 and "protected" in dirty.stderr and "clean commit" in dirty.stderr
    assert table_digest(prod) == before
    assert run("apply", "prod", "--repo", str(repo), "--yes", "--ref", "HEAD").exit_code == 0
    commit_all(repo, "now committed")
    overwrite = run("apply", "prod", "--repo", str(repo), "--yes", "--conflicts", "overwrite")
    assert overwrite.exit_code == 1 and "--force" in overwrite.stderr
    forced = run(
        "apply", "prod", "--repo", str(repo), "--yes", "--conflicts", "overwrite", "--force"
    )
    assert forced.exit_code == 0, forced.output
    assert (
        scalar(prod, "SELECT sql FROM queries WHERE id = :i", i=uid("query/open-invoices"))
        == "SELECT 'uncommitted'\n"
    )


def test_environment_defaults_apply(bound: dict) -> None:
    repo, prod = bound["repo"], bound["prod"]
    run("env", "remove", "prod", "--repo", str(repo))
    run(
        "env",
        "add",
        "prod",
        "--url",
        prod,
        "--conflicts",
        "skip",
        "--binding",
        "ERP_URL=https://x",
        "--repo",
        str(repo),
    )
    commit_all(repo, "prod defaults to skip")
    assert run("apply", "prod", "--repo", str(repo), "--yes").exit_code == 0
    sql(prod, "UPDATE queries SET sql = 'prod' WHERE id = :i", i=uid("query/open-invoices"))
    (repo / "apps/invoices/data/queries/open-invoices.sql").write_text("SELECT 'git'\n")
    commit_all(repo, "conflicting edit")
    result = run("apply", "prod", "--repo", str(repo), "--yes")
    assert result.exit_code == 0, result.output  # skip, from appsync.yaml, not prompt
    assert (
        scalar(prod, "SELECT sql FROM queries WHERE id = :i", i=uid("query/open-invoices"))
        == "prod"
    )
