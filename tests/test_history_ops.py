"""History-aware operations on SQLite and PostgreSQL: merge, rollback, revert, drift,
capture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import git, run, table_digest, tree_bytes
from tests.sync_helpers import World, make_world, scalar, sql
from tests.test_plan_apply import plan_json

PAGE = "apps/invoices/ui/pages/invoice-list.json"
ROUTE = "SELECT route FROM pages WHERE name = 'Invoice List'"
WIDGETS = "SELECT widgets FROM pages WHERE name = 'Invoice List'"


@pytest.fixture
def synced(tmp_path: Path, db_url: str, second_db: str) -> World:
    world = make_world(tmp_path, db_url, second_db)
    assert world.apply("--yes").exit_code == 0
    return world


def label_in_git(world: World, label: str) -> None:
    path = world.repo / PAGE
    path.write_text(path.read_text().replace('"label": "Invoices"', f'"label": "{label}"'))
    world.commit(f"Label {label}")


def label_on(url: str) -> str:
    widgets = scalar(url, WIDGETS)
    widgets = json.loads(widgets) if isinstance(widgets, str) else widgets
    return next(w["props"]["label"] for w in widgets if w["id"] == "title")


def test_merge_combines_both_sides_and_is_not_reverted(synced: World, tmp_path: Path) -> None:
    sql(synced.prod, "UPDATE pages SET route = '/hotfix' WHERE name = 'Invoice List'")
    label_in_git(synced, "All invoices")
    assert synced.plan().exit_code == 3
    preview = plan_json(synced, "--merge")
    [change] = [c for c in preview["changes"] if c["action"] != "unchanged"]
    assert change["action"] == "update" and change["merged"] is True
    assert "kept from the target: route" in change["reason"]
    assert [(f["path"], f["side"]) for f in change["fields"]] == [
        ("widgets[pane=header,id=title].props.label", "repo")
    ]

    merged = synced.apply("--yes", "--conflicts", "merge")
    assert merged.exit_code == 0, merged.output
    assert scalar(synced.prod, ROUTE) == "/hotfix"
    assert label_on(synced.prod) == "All invoices"

    after = plan_json(synced)
    assert [c["action"] for c in after["changes"]] == ["ahead"]
    assert synced.apply("--yes").exit_code == 0
    assert scalar(synced.prod, ROUTE) == "/hotfix"  # never silently reverted

    assert run("export", synced.prod, "--repo", str(synced.repo), "-m", "Capture").exit_code == 0
    assert json.loads((synced.repo / PAGE).read_text())["route"] == "/hotfix"
    assert synced.plan("--detailed-exitcode").exit_code == 0


def test_write_merged_puts_the_merge_in_the_work_tree(synced: World) -> None:
    sql(synced.prod, "UPDATE pages SET route = '/hotfix' WHERE name = 'Invoice List'")
    label_in_git(synced, "All invoices")
    result = synced.apply("--yes", "--conflicts", "merge", "--write-merged")
    assert result.exit_code == 0, result.output
    assert f"wrote merged {PAGE}" in result.stdout
    doc = json.loads((synced.repo / PAGE).read_text())
    assert doc["route"] == "/hotfix" and doc["widgets"][0]["props"]["label"] == "All invoices"
    synced.commit("Merged hotfix")
    assert synced.plan("--detailed-exitcode").exit_code == 0
    assert run("fmt", "--check", str(synced.repo)).exit_code == 0


def test_same_field_on_both_sides_stays_a_conflict(synced: World) -> None:
    sql(synced.prod, "UPDATE pages SET route = '/prod' WHERE name = 'Invoice List'")
    path = synced.repo / PAGE
    path.write_text(path.read_text().replace('"/invoices"', '"/git"'))
    (synced.repo / "apps/invoices/data/queries/open-invoices.sql").write_text("SELECT 1\n")
    synced.commit("Route and query")
    result = synced.apply("--yes", "--conflicts", "merge")
    assert result.exit_code == 3
    assert "Invoice List" in result.stderr and "route" in result.stderr
    assert scalar(synced.prod, ROUTE) == "/prod"
    open_sql = "SELECT sql FROM queries WHERE name = 'Open Invoices'"
    assert scalar(synced.prod, open_sql) == "SELECT 1\n"  # the rest was applied


def _live_tree(world: World, tmp_path: Path, name: str) -> dict[str, object]:
    """The target's content as a tree, history left out."""
    run("init", str(tmp_path / name))
    assert run("export", world.prod, "--repo", str(tmp_path / name)).exit_code == 0
    return _content(tree_bytes(tmp_path / name))


def _content(files: dict[str, bytes]) -> dict[str, object]:
    out: dict[str, object] = {}
    for path, data in files.items():
        if not path.startswith(("apps/", "admin/")):
            continue
        if path.endswith(".json") and not path.endswith(".data.json"):
            doc = json.loads(data)
            doc.pop("history", None)
            out[path] = doc
        else:
            out[path] = data
    return out


def _tree_at(world: World, ref: str, tmp_path: Path, name: str) -> dict[str, object]:
    folder = tmp_path / name
    git(world.repo, "worktree", "add", "-q", "--detach", str(folder), ref)
    return _content(tree_bytes(folder))


def test_rollback_and_revert(synced: World, tmp_path: Path) -> None:
    first = git(synced.repo, "rev-parse", "HEAD").strip()
    git(synced.repo, "tag", "v1")
    label_in_git(synced, "Step two")
    assert synced.apply("--yes").exit_code == 0
    new_query = synced.repo / "apps/invoices/data/queries/overdue.json"
    doc = json.loads((synced.repo / "apps/invoices/data/queries/open-invoices.json").read_text())
    doc.update(
        id="0b7ed1e0-0000-4000-8000-000000000001",
        name="Overdue",
        history=[],
        sql={"sidecar": "overdue.sql"},
    )
    new_query.write_text(json.dumps(doc))
    (synced.repo / "apps/invoices/data/queries/overdue.sql").write_text("SELECT 'late'\n")
    synced.commit("Step three")
    assert synced.apply("--yes").exit_code == 0
    path = synced.repo / PAGE
    path.write_text(path.read_text().replace('"/invoices"', '"/step-four"'))
    synced.commit("Step four")
    assert synced.apply("--yes").exit_code == 0

    revert = git(synced.repo, "rev-parse", "HEAD~1").strip()
    git(synced.repo, "-c", "user.name=T", "-c", "user.email=t@e", "revert", "--no-edit", "HEAD")
    plan = plan_json(synced)
    assert plan["summary"]["conflict"] == 0 and plan["summary"]["update"] == 1
    [change] = plan["changes"]
    assert [(f["path"], f["old"], f["new"]) for f in change["fields"]] == [
        ("route", "/step-four", "/invoices")
    ]
    assert synced.apply("--yes").exit_code == 0
    assert _live_tree(synced, tmp_path, "after-revert") == _tree_at(synced, revert, tmp_path, "r")

    rolled = run("rollback", synced.prod, "--repo", str(synced.repo), "--to", "v1", "--yes")
    assert rolled.exit_code == 0, rolled.output
    assert "conflict" not in rolled.stdout.lower().replace("0 conflicts", "")
    assert _live_tree(synced, tmp_path, "after-rollback") == _tree_at(synced, first, tmp_path, "f")
    assert scalar(synced.prod, "SELECT count(*) FROM queries WHERE name = 'Overdue'") == 0


def test_drift_names_a_hotfix_and_capture_takes_it_to_a_branch(synced: World) -> None:
    assert (
        run("drift", synced.prod, "--repo", str(synced.repo), "--detailed-exitcode").exit_code == 0
    )
    sql(synced.prod, "UPDATE pages SET route = '/hotfix' WHERE name = 'Invoice List'")
    sql(synced.prod, "DELETE FROM reports WHERE name = 'Contractor Overview'")
    sql(synced.prod, "INSERT INTO roles (id, name) VALUES ('r-new', 'Auditors')")
    before = table_digest(synced.prod)
    drift = run(
        "drift", synced.prod, "--repo", str(synced.repo), "--format", "json", "--detailed-exitcode"
    )
    assert drift.exit_code == 2
    report = json.loads(drift.stdout)
    assert report["summary"] == {"changed": 1, "deleted": 1, "created": 1, "kept": 0}
    changed = next(i for i in report["items"] if i["drift"] == "changed")
    assert changed["path"] == PAGE
    assert [(f["path"], f["old"], f["new"]) for f in changed["fields"]] == [
        ("route", "/invoices", "/hotfix")
    ]
    text = run("drift", synced.prod, "--repo", str(synced.repo))
    assert "Invoice List" in text.stdout and "route" in text.stdout
    assert table_digest(synced.prod) == before

    head = git(synced.repo, "rev-parse", "HEAD").strip()
    files = tree_bytes(synced.repo)
    captured = run(
        "export", synced.prod, "--repo", str(synced.repo), "--branch", "capture/prod-hotfix"
    )
    assert captured.exit_code == 0, captured.output
    assert git(synced.repo, "rev-parse", "HEAD").strip() == head
    assert git(synced.repo, "status", "--porcelain") == ""
    assert tree_bytes(synced.repo) == files
    assert git(synced.repo, "rev-parse", "capture/prod-hotfix~1").strip() == head
    changed_files = git(synced.repo, "diff", "--name-only", head, "capture/prod-hotfix").split()
    assert PAGE in changed_files
    assert "apps/contractors/reports/contractor-overview.json" in changed_files
    assert "admin/roles/auditors.json" in changed_files
    page = json.loads(git(synced.repo, "show", f"capture/prod-hotfix:{PAGE}"))
    assert page["route"] == "/hotfix"
    again = run(
        "export", synced.prod, "--repo", str(synced.repo), "--branch", "capture/prod-hotfix"
    )
    assert again.exit_code == 1 and "already exists" in again.stderr
    clean = synced.plan("--ref", "capture/prod-hotfix", "--prune", "--detailed-exitcode")
    assert clean.exit_code == 0, clean.output
