"""Passwords never go into appsync.yaml by default, and never onto the screen (issue 10,
section 1). Through the CLI on a real repository; masking by SQLAlchemy's URL parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appsync.instance.connect import literal_password, mask_url
from tests.helpers import git, run

STAGING = "postgresql+psycopg://app:Sup3rSecret@db.internal/staging"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    assert run("init", str(path)).exit_code == 0
    return path


def test_a_literal_password_is_refused_with_the_form_to_use(repo: Path) -> None:
    before = (repo / "appsync.yaml").read_bytes()
    result = run("env", "add", "staging", "--url", STAGING, "--repo", str(repo))
    assert result.exit_code == 1
    assert "Sup3rSecret" not in result.output + result.stderr
    line = result.stderr.strip()
    assert line.startswith("appsync: error: the URL for environment 'staging' holds a password")
    assert (
        "--url 'postgresql+psycopg://app:${APPSYNC_STAGING_PASSWORD}@db.internal/staging'" in line
    )
    assert "--url '${APPSYNC_STAGING_URL}'" in line and "--allow-literal-password" in line
    assert (repo / "appsync.yaml").read_bytes() == before


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://app:p@ss@db.internal/staging",  # an unescaped @ in it
        "postgresql+psycopg://app:p%40ss@db.internal/staging",
        "postgresql://app:a:b@db/x",
        "postgresql://app:pa/ss@db/x",
        "postgresql://db.internal/staging?password=Sup3rSecret",
        "postgresql://app:prefix${APPSYNC_PW}@db/x",  # a literal part is still a literal
    ],
)
def test_every_way_of_writing_a_password_is_refused(repo: Path, url: str) -> None:
    result = run("env", "add", "staging", "--url", url, "--repo", str(repo))
    assert result.exit_code == 1 and "holds a password in clear" in result.stderr
    assert "${APPSYNC_STAGING_PASSWORD}" in result.stderr


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://app:${APPSYNC_STAGING_PASSWORD}@db.internal/staging",
            "postgresql+psycopg://app:${APPSYNC_STAGING_PASSWORD}@db.internal/staging",
        ),
        ("${APPSYNC_STAGING_URL}", "${APPSYNC_STAGING_URL}"),
        ("postgresql://${U}:${P}@${H}:5432/${D}", "postgresql://${U}:${P}@${H}:5432/${D}"),
        (
            "postgresql+psycopg://app@db.internal/staging",
            "postgresql+psycopg://app@db.internal/staging",
        ),
        ("sqlite:///dev.db", "sqlite:///dev.db"),
    ],
)
def test_variables_and_urls_without_a_password_are_written_and_shown(
    repo: Path, url: str, shown: str
) -> None:
    result = run("env", "add", "staging", "--url", url, "--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert f"Added environment staging ({shown})." in result.output
    listed = run("env", "list", "--repo", str(repo))
    assert shown in listed.output and listed.stderr == ""


def test_allow_literal_password_writes_it_but_never_shows_it(repo: Path) -> None:
    result = run(
        "env", "add", "staging", "--url", STAGING, "--allow-literal-password", "--repo", str(repo)
    )
    assert result.exit_code == 0
    assert "Sup3rSecret" in (repo / "appsync.yaml").read_text()
    assert "Sup3rSecret" not in result.output
    listed = run("env", "list", "--repo", str(repo))
    assert "app:***@db.internal/staging" in listed.output and "Sup3rSecret" not in listed.output
    assert "warning: environment 'staging': its URL in appsync.yaml holds a password" in (
        listed.stderr
    )
    as_json = json.loads(run("env", "list", "--repo", str(repo), "--format", "json").stdout)
    assert as_json[0]["literal_password"] is True and "Sup3rSecret" not in str(as_json)


def test_a_hand_edited_password_is_masked_and_flagged(repo: Path) -> None:
    (repo / "appsync.yaml").write_text(
        "version: 1\nenvironments:\n  prod:\n"
        "    url: postgresql+psycopg://app:p@ss:w/rd@db.internal/prod?sslmode=require\n"
    )
    listed = run("env", "list", "--repo", str(repo))
    assert listed.exit_code == 0
    # Not a URL SQLAlchemy can read: everything after the scheme is hidden.
    assert listed.stdout == "prod         postgresql+psycopg://***\n"
    assert "holds a password in clear" in listed.stderr
    # A plan against it never shows the password either (the connection fails: exit 1).
    failed = run("plan", "prod", "--repo", str(repo))
    assert failed.exit_code == 1
    assert "p@ss" not in failed.stderr and "w/rd" not in failed.stderr, failed.stderr


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://app:p@ss@db/x", "postgresql://app:***@db/x"),
        ("postgresql://app:p%40ss@db/x", "postgresql://app:***@db/x"),
        (
            "postgresql://db/x?password=s&sslmode=require",
            "postgresql://db/x?password=***&sslmode=require",
        ),
        ("postgresql://app:${PW}@db/x", "postgresql://app:${PW}@db/x"),
        ("not a url", "not a url"),
        ("postgresql://app:p@ss:w/rd@db/x", "postgresql://***"),
    ],
)
def test_mask_url(text: str, masked: str) -> None:
    assert mask_url(text) == masked
    assert literal_password(text) == ("***" in masked)


def test_the_password_never_reaches_git(repo: Path, tmp_path: Path) -> None:
    """Through env add and an export, the pieces of the story in issue 10."""
    url = f"sqlite:///{tmp_path / 'dev.db'}"
    assert run("instance", "init", url, "--example").exit_code == 0
    assert run("env", "add", "staging", "--url", STAGING, "--repo", str(repo)).exit_code == 1
    assert run("export", url, "--repo", str(repo)).exit_code == 0
    log = git(repo, "log", "-p", "--all")
    assert "Sup3rSecret" not in log


def test_an_unescaped_at_in_a_password_never_shows_in_a_connection_error(repo: Path) -> None:
    (repo / "appsync.yaml").write_text(
        "version: 1\nenvironments:\n  prod:\n"
        "    url: postgresql+psycopg://app:p@ss@127.0.0.1:1/prod\n"
    )
    result = run("plan", "prod", "--repo", str(repo))
    assert result.exit_code == 1
    assert "postgresql+psycopg://app:***@127.0.0.1:1/prod" in result.stderr, result.stderr
    assert "ss@" not in result.stderr and "p@ss" not in result.stderr


def test_a_password_parameter_never_shows_in_a_connection_error(repo: Path) -> None:
    url = "postgresql+psycopg://app@127.0.0.1:1/prod?password=Sup3rSecret&connect_timeout=2"
    result = run("plan", url, "--repo", str(repo))
    assert result.exit_code == 1
    assert "password=***" in result.stderr and "Sup3rSecret" not in result.stderr, result.stderr
