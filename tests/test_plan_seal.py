"""A saved plan cannot be changed after it was made (issue 10, section 1): actions, ids,
paths and options, not only contents. Real plans from real instances, applied through the
CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run, table_digest
from tests.sync_helpers import World, make_world, scalar

SQL_FILE = "apps/invoices/data/queries/monthly-totals.sql"


@pytest.fixture
def saved(tmp_path: Path, db_url: str, second_db: str) -> tuple[World, Path]:
    """prod in sync with the repo, then one reviewed change to a query: a plan with one
    update, saved with --out."""
    return make_saved(tmp_path, db_url, second_db)


@pytest.fixture
def saved_sqlite(tmp_path: Path) -> tuple[World, Path]:
    """The same on SQLite only, for the many variations."""
    return make_saved(
        tmp_path, f"sqlite:///{tmp_path / 'dev.db'}", f"sqlite:///{tmp_path / 'prod.db'}"
    )


def make_saved(tmp_path: Path, db_url: str, second_db: str) -> tuple[World, Path]:
    world = make_world(tmp_path, db_url, second_db)
    assert world.apply("--yes").exit_code == 0
    (world.repo / SQL_FILE).write_text("SELECT 'reviewed'\n")
    world.commit("Reviewed change")
    path = tmp_path / "plan.json"
    assert world.plan("--out", str(path)).exit_code == 0
    return world, path


def rewrite(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document, indent=2))


def the_update(document: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in document["changes"] if c["action"] == "update")


def test_update_edited_into_delete_is_refused(saved: tuple[World, Path]) -> None:
    world, path = saved
    rewrite(path, lambda d: the_update(d).update(action="delete"))
    before = table_digest(world.prod)
    result = run("apply", world.prod, str(path))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"appsync: error: {path}: the plan was changed after it was made or damaged (its "
        "digest does not match): make the plan again with 'appsync plan --out' and review "
        "that one"
    )
    assert table_digest(world.prod) == before
    assert scalar(world.prod, "SELECT count(*) FROM queries") == 4


EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "an id": lambda d: the_update(d).update(id="00000000-0000-0000-0000-000000000000"),
    "a path": lambda d: the_update(d).update(path="apps/invoices/data/queries/other.json"),
    "the prune option": lambda d: d.update(prune=True),
    "the target url": lambda d: d["target"].update(url="sqlite:///elsewhere.db"),
    "the source": lambda d: d["source"].update(dirty=False, commit="0" * 40),
    "a field diff": lambda d: the_update(d)["fields"][0].update(new="SELECT 1"),
    "the risk": lambda d: d.update(risk="low"),
    "a warning added": lambda d: d.update(warnings=[*d["warnings"], "all is fine"]),
    "a change dropped": lambda d: d.update(changes=[]),
    "a key added": lambda d: d.update(note="harmless?"),
    "the live counts": lambda d: d.update(live_counts={}),
    "the content": lambda d: the_update(d)["desired"].update(sql="DROP TABLE invoices"),
    "the digest removed": lambda d: d.pop("digest"),
    "the digest garbled": lambda d: d.update(digest="sha256:" + "0" * 64),
}


@pytest.mark.parametrize("what", sorted(EDITS))
def test_any_change_to_a_saved_plan_is_refused(saved_sqlite: tuple[World, Path], what: str) -> None:
    world, path = saved_sqlite
    rewrite(path, EDITS[what])
    before = table_digest(world.prod)
    result = run("apply", world.prod, str(path))
    assert result.exit_code == 1, result.output
    assert "changed after it was made" in result.stderr or "no digest" in result.stderr
    assert table_digest(world.prod) == before


def test_layout_alone_is_not_a_change(saved_sqlite: tuple[World, Path]) -> None:
    """Reindented, keys reordered: the same plan (the digest is over its JCS form)."""
    world, path = saved_sqlite
    document = json.loads(path.read_text())
    path.write_text(json.dumps(dict(reversed(list(document.items()))), separators=(",", ":")))
    result = run("apply", world.prod, str(path))
    assert result.exit_code == 0, result.output
    assert scalar(world.prod, "SELECT sql FROM queries WHERE name = 'Monthly Totals'") == (
        "SELECT 'reviewed'\n"
    )


def test_a_deeply_nested_plan_file_is_exit_1(saved_sqlite: tuple[World, Path]) -> None:
    world, path = saved_sqlite
    path.write_text("[" * 100_000 + "]" * 100_000)
    result = run("apply", world.prod, str(path))
    assert result.exit_code == 1
    assert "JSON nested deeper than 72 levels (not a plan file)" in result.stderr
    assert "internal error" not in result.stderr


def test_a_keyed_plan_needs_the_key(
    tmp_path: Path, db_url: str, second_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With APPSYNC_PLAN_KEY the digest is an HMAC: someone who edits the file cannot make
    a digest that passes, not even by recomputing a plain one."""
    world = make_world(tmp_path, db_url, second_db)
    monkeypatch.setenv("APPSYNC_PLAN_KEY", "ci-secret")
    path = tmp_path / "plan.json"
    assert world.plan("--out", str(path)).exit_code == 0
    assert json.loads(path.read_text())["digest"].startswith("hmac-sha256:")
    before = table_digest(world.prod)

    monkeypatch.delenv("APPSYNC_PLAN_KEY")
    result = run("apply", world.prod, str(path))
    assert result.exit_code == 1 and "sealed with APPSYNC_PLAN_KEY: set it" in result.stderr

    monkeypatch.setenv("APPSYNC_PLAN_KEY", "another")
    result = run("apply", world.prod, str(path))
    assert result.exit_code == 1 and "or sealed with another key" in result.stderr

    from appsync.plan.model import seal

    monkeypatch.delenv("APPSYNC_PLAN_KEY")
    document = json.loads(path.read_text())
    document.pop("digest")
    document["prune"] = True
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({"digest": seal(document), **document}))
    monkeypatch.setenv("APPSYNC_PLAN_KEY", "ci-secret")
    result = run("apply", world.prod, str(forged))
    assert result.exit_code == 1 and "was not sealed with it" in result.stderr
    assert table_digest(world.prod) == before

    assert run("apply", world.prod, str(path)).exit_code == 0
