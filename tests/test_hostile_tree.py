"""Hostile or broken trees (issue 10, section 2): deep JSON, links and special files, size
bounds. Each case through the CLI on a real Git repository and a real SQLite instance, in
the work tree and at a ``--ref`` alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from appsync.canonical.jsonform import MAX_DEPTH, parse_json
from appsync.errors import TreeError
from tests.helpers import commit_all, git, run

PAGE = "apps/invoices/ui/pages/invoice-list.json"
SQL = "apps/invoices/data/queries/open-invoices.sql"


@pytest.fixture
def world(tmp_path: Path) -> tuple[str, Path]:
    """An example instance exported into a repository."""
    url = f"sqlite:///{tmp_path / 'dev.db'}"
    assert run("instance", "init", url, "--example").exit_code == 0
    repo = tmp_path / "repo"
    assert run("init", str(repo)).exit_code == 0
    assert run("export", url, "--repo", str(repo)).exit_code == 0
    return url, repo


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
