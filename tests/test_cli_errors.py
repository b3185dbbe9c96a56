"""Bad input: one clear line on stderr, exit 1, no traceback, nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import git, run, table_digest, tree_bytes


@pytest.fixture
def setup(tmp_path: Path) -> tuple[str, Path]:
    url = f"sqlite:///{tmp_path / 'dev.db'}"
    run("instance", "init", url, "--example")
    run("init", str(tmp_path / "repo"))
    return url, tmp_path / "repo"


def assert_one_line_error(result, needle: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("appsync: error: ")
    assert needle in lines[0]
    assert "Traceback" not in result.output


def test_unknown_target(setup: tuple[str, Path]) -> None:
    _, repo = setup
    before = tree_bytes(repo)
    assert_one_line_error(run("export", "prod", "--repo", str(repo)), "unknown target 'prod'")
    assert tree_bytes(repo) == before


def test_unreachable_database(setup: tuple[str, Path]) -> None:
    _, repo = setup
    result = run("export", "postgresql+psycopg://u:hunter2@127.0.0.1:1/db", "--repo", str(repo))
    assert_one_line_error(result, "127.0.0.1:1")
    assert "hunter2" not in result.output


def test_missing_sqlite_file_is_not_created(setup: tuple[str, Path], tmp_path: Path) -> None:
    _, repo = setup
    assert_one_line_error(
        run("export", f"sqlite:///{tmp_path / 'typo.db'}", "--repo", str(repo)),
        "no such database file",
    )
    assert not (tmp_path / "typo.db").exists()


def test_repo_that_is_not_git(setup: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = setup
    plain = tmp_path / "plain"
    plain.mkdir()
    assert_one_line_error(run("export", url, "--repo", str(plain)), "not a Git repository")
    assert list(plain.iterdir()) == []


def test_instance_init_on_a_non_empty_instance(setup: tuple[str, Path]) -> None:
    url, _ = setup
    before = table_digest(url)
    assert_one_line_error(run("instance", "init", url, "--example"), "is not empty")
    assert table_digest(url) == before


def test_not_an_instance(setup: tuple[str, Path], tmp_path: Path) -> None:
    _, repo = setup
    empty = tmp_path / "empty.db"
    run("instance", "init", f"sqlite:///{tmp_path / 'x.db'}")
    empty.write_bytes(b"")
    assert_one_line_error(
        run("export", f"sqlite:///{empty}", "--repo", str(repo)), "not an appsync instance"
    )


def test_unknown_option_is_exit_1() -> None:
    result = run("export", "--frobnicate")
    assert result.exit_code == 1
    assert "No such option" in result.stderr


def test_debug_shows_the_traceback(setup: tuple[str, Path]) -> None:
    _, repo = setup
    with pytest.raises(Exception, match="unknown target"):
        run("--debug", "export", "prod", "--repo", str(repo))


def test_init_refuses_an_existing_repository(setup: tuple[str, Path]) -> None:
    _, repo = setup
    head = git(repo, "rev-parse", "HEAD")
    assert_one_line_error(run("init", str(repo)), "already exists")
    assert git(repo, "rev-parse", "HEAD") == head


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "version: 1\nenvironments:\n  prod:\n    url: sqlite:///p.db\n    colour: red\n",
            "appsync.yaml:5: environments.prod.colour: Extra inputs are not permitted",
        ),
        (
            "version: 1\napps:\n  - billing\n  - 7\n",
            "appsync.yaml:4: apps.1: Input should be a valid string",
        ),
        ("version: 1\nenvironments:\n  prod: [\n", "appsync.yaml:4: invalid YAML: expected"),
        ("environments: !weird\n  prod: 1\n", "appsync.yaml:1: invalid YAML: could not determine"),
        ("version: 1\nsince: 2001-13-45\n", "appsync.yaml: invalid YAML: month must be in 1..12"),
        ("version: !!int abc\n", "appsync.yaml: invalid YAML: invalid literal for int()"),
    ],
)
def test_a_broken_appsync_yaml_names_its_line(
    setup: tuple[str, Path], text: str, error: str
) -> None:
    url, repo = setup
    (repo / "appsync.yaml").write_text(text)
    before, rows = tree_bytes(repo), table_digest(url)
    for command in (["plan", url], ["export", url]):
        assert_one_line_error(run(*command, "--repo", str(repo)), error)
    assert tree_bytes(repo) == before and table_digest(url) == rows
