"""Plan and apply on real SQLite and PostgreSQL: the stories of the plan/apply issue."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from appsync.instance.example import uid
from appsync.plan.model import seal
from tests.helpers import run, table_digest, tree_bytes
from tests.sync_helpers import World, freeze_reports, make_world, scalar, sql

Q_TOTALS = uid("query/monthly-totals")
SQL_FILE = "apps/invoices/data/queries/monthly-totals.sql"


@pytest.fixture
def world(tmp_path: Path, db_url: str, second_db: str) -> World:
    return make_world(tmp_path, db_url, second_db)


@pytest.fixture
def synced(world: World) -> World:
    result = world.apply("--yes")
    assert result.exit_code == 0, result.output
    return world


def plan_json(world: World, *args: str) -> dict:
    result = world.plan("--format", "json", *args)
    assert result.exit_code in (0, 2, 3), result.output
    return json.loads(result.stdout)


def test_first_apply_creates_everything_then_nothing_changes(world: World, tmp_path: Path) -> None:
    plan = plan_json(world)
    assert plan["format_version"] == 1
    assert plan["summary"]["create"] == len(plan["changes"]) > 20
    assert {c["action"] for c in plan["changes"]} == {"create"}
    assert set(plan) >= {"source", "target", "summary", "risk", "changes"}
    assert plan["source"]["dirty"] is False and len(plan["source"]["commit"]) == 40

    applied = world.apply("--yes")
    assert applied.exit_code == 0, applied.output
    assert world.plan("--detailed-exitcode").exit_code == 0
    before = table_digest(world.prod)
    again = world.apply("--yes")
    assert again.exit_code == 0 and "Nothing to apply" in again.stdout
    assert table_digest(world.prod) == before

    run("init", str(tmp_path / "from-prod"))
    assert run("export", world.prod, "--repo", str(tmp_path / "from-prod")).exit_code == 0
    ours, theirs = tree_bytes(world.repo), tree_bytes(tmp_path / "from-prod")

    def content(files: dict[str, bytes]) -> dict[str, object]:
        out: dict[str, object] = {}
        for path, data in files.items():
            if path.endswith(".json") and "/" in path and not path.endswith(".data.json"):
                doc = json.loads(data)
                doc.pop("history", None)
                out[path] = doc
            elif "/" in path:
                out[path] = data
        return out

    assert content(ours) == content(theirs)


def test_one_sql_edit_is_one_update(synced: World) -> None:
    (synced.repo / SQL_FILE).write_text("SELECT 1 AS one\n")
    synced.commit("Simplify totals")
    plan = plan_json(synced)
    assert plan["summary"]["update"] == 1 and len(plan["changes"]) == 1
    change = plan["changes"][0]
    assert change["kind"] == "query" and change["id"] == Q_TOTALS
    assert change["fields"] == [
        {
            "path": "sql",
            "old": scalar(synced.prod, "SELECT sql FROM queries WHERE id = :i", i=Q_TOTALS),
            "new": "SELECT 1 AS one\n",
            "side": None,
            "op": None,
            "item": None,
            "within": None,
        }
    ]
    text = synced.plan()
    assert "monthly-totals" in text.stdout.lower() or "Monthly Totals" in text.stdout
    assert synced.plan("--detailed-exitcode").exit_code == 2
    before = table_digest(synced.prod)
    assert synced.apply("--yes").exit_code == 0
    after = table_digest(synced.prod)
    changed = {t for t in after if after[t] != before[t]}
    assert changed == {"queries", "appsync_history", "appsync_sync_state", "appsync_audit"}
    assert scalar(synced.prod, "SELECT sql FROM queries WHERE id = :i", i=Q_TOTALS) == (
        "SELECT 1 AS one\n"
    )
    assert synced.plan("--detailed-exitcode").exit_code == 0


def test_conflict_prompt_skip_overwrite(synced: World) -> None:
    sql(synced.prod, "UPDATE queries SET sql = 'SELECT 2 -- prod hotfix' WHERE id = :i", i=Q_TOTALS)
    (synced.repo / SQL_FILE).write_text("SELECT 3 -- from git\n")
    (synced.repo / "apps/invoices/ui/pages/invoice-list.json").write_text(
        (synced.repo / "apps/invoices/ui/pages/invoice-list.json")
        .read_text()
        .replace('"/invoices"', '"/all-invoices"')
    )
    synced.commit("Two changes")

    planned = synced.plan()
    assert planned.exit_code == 3
    assert "Monthly Totals" in planned.stderr

    before = table_digest(synced.prod)
    refused = synced.apply("--yes")
    assert refused.exit_code == 3 and "Monthly Totals" in refused.stderr
    assert table_digest(synced.prod) == before

    skipped = synced.apply("--yes", "--conflicts", "skip")
    assert skipped.exit_code == 0, skipped.output
    query = "SELECT sql FROM queries WHERE id = :i"
    assert scalar(synced.prod, query, i=Q_TOTALS) == "SELECT 2 -- prod hotfix"
    assert scalar(synced.prod, "SELECT route FROM pages WHERE name = 'Invoice List'") == (
        "/all-invoices"
    )

    overwritten = synced.apply("--yes", "--conflicts", "overwrite")
    assert overwritten.exit_code == 0, overwritten.output
    assert scalar(synced.prod, query, i=Q_TOTALS) == "SELECT 3 -- from git\n"
    assert synced.plan("--detailed-exitcode").exit_code == 0


def test_page_edited_on_prod_only_is_ahead_and_kept(synced: World) -> None:
    sql(synced.prod, "UPDATE pages SET route = '/hotfix' WHERE name = 'Approval Queue'")
    plan = plan_json(synced)
    [change] = plan["changes"]
    assert change["action"] == "ahead" and plan["summary"]["ahead"] == 1
    # Out of sync is visible: the target holds what Git lacks (a nightly check catches it).
    assert synced.plan("--detailed-exitcode").exit_code == 2
    assert synced.apply("--yes").exit_code == 0
    route = "SELECT route FROM pages WHERE name = 'Approval Queue'"
    assert scalar(synced.prod, route) == "/hotfix"
    assert synced.apply("--yes", "--conflicts", "overwrite").exit_code == 0
    assert scalar(synced.prod, route) == "/invoices/queue"


def test_saved_plan_is_stale_only_when_a_touched_object_changed(
    synced: World, tmp_path: Path
) -> None:
    (synced.repo / SQL_FILE).write_text("SELECT 'reviewed'\n")
    synced.commit("Reviewed change")
    saved = tmp_path / "plan.json"
    assert synced.plan("--out", str(saved), "--detailed-exitcode").exit_code == 2

    sql(synced.prod, "UPDATE pages SET route = '/elsewhere' WHERE name = 'Approval Queue'")
    ok = run("apply", synced.prod, str(saved), "--repo", str(synced.repo))
    assert ok.exit_code == 0, ok.output
    assert scalar(synced.prod, "SELECT sql FROM queries WHERE id = :i", i=Q_TOTALS) == (
        "SELECT 'reviewed'\n"
    )

    (synced.repo / SQL_FILE).write_text("SELECT 'second'\n")
    synced.commit("Second change")
    assert synced.plan("--out", str(saved)).exit_code == 0
    sql(synced.prod, "UPDATE queries SET sql = 'SELECT now()' WHERE id = :i", i=Q_TOTALS)
    before = table_digest(synced.prod)
    stale = run("apply", synced.prod, str(saved))
    assert stale.exit_code == 4
    assert "Monthly Totals" in stale.stderr and Q_TOTALS in stale.stderr
    assert table_digest(synced.prod) == before


def test_orphaned_pruned_and_unmanaged(synced: World) -> None:
    vat = uid("function/calculate-vat")
    for name in ("calculate-vat.json", "calculate-vat.js"):
        (synced.repo / "apps/invoices/functions" / name).unlink()
    synced.commit("Drop calculateVat")
    sql(synced.prod, "INSERT INTO roles (id, name) VALUES ('r-made-on-prod', 'Auditors')")
    plan = plan_json(synced)
    actions = {c["id"]: c["action"] for c in plan["changes"]}
    assert actions[vat] == "orphaned" and actions["r-made-on-prod"] == "unmanaged"
    assert synced.apply("--yes").exit_code == 0
    count = "SELECT count(*) FROM functions WHERE id = :i"
    assert scalar(synced.prod, count, i=vat) == 1

    pruned = synced.apply("--yes", "--prune")
    assert pruned.exit_code == 0, pruned.output
    assert scalar(synced.prod, count, i=vat) == 0
    assert scalar(synced.prod, "SELECT count(*) FROM roles WHERE id = 'r-made-on-prod'") == 1
    after = plan_json(synced, "--prune")
    assert [c["action"] for c in after["changes"]] == ["unmanaged"]


def test_pruning_a_referenced_object_is_refused(synced: World) -> None:
    (synced.repo / SQL_FILE).unlink()
    (synced.repo / SQL_FILE.replace(".sql", ".json")).unlink()
    synced.commit("Drop totals query but not the report using it")
    assert synced.plan().exit_code == 0  # without --prune the query stays on the target
    before = table_digest(synced.prod)
    refused = synced.apply("--yes", "--prune")
    assert refused.exit_code == 1
    assert "monthly-invoice-totals.json" in refused.stderr and Q_TOTALS in refused.stderr
    assert table_digest(synced.prod) == before


def test_dry_run_changes_nothing_and_audit_grows_per_real_apply(world: World) -> None:
    before = table_digest(world.prod)
    dry = world.apply("--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Dry run" in dry.stdout and "queries:" in dry.stdout and " ms" in dry.stdout
    assert table_digest(world.prod) == before
    assert scalar(world.prod, "SELECT count(*) FROM appsync_audit") == 0
    assert world.apply("--yes").exit_code == 0
    assert scalar(world.prod, "SELECT count(*) FROM appsync_audit") == 1
    (world.repo / SQL_FILE).write_text("SELECT 4\n")
    world.commit("Edit")
    assert world.apply("--yes").exit_code == 0
    assert scalar(world.prod, "SELECT count(*) FROM appsync_audit") == 2
    log = run("log", world.prod, "--format", "json")
    entries = json.loads(log.stdout)
    assert [e["counts"]["update"] for e in entries] == [1, 0]
    assert entries[0]["commit"] and entries[0]["origin"] == f"git:{entries[0]['commit']}"
    assert "applied" in run("log", world.prod).stdout
    history = run("log", world.prod, "--object", Q_TOTALS, "--format", "json")
    revs = json.loads(history.stdout)
    assert len(revs) == 2 and revs[0]["origin"].startswith("git:")


def test_records_history_and_sync_state(synced: World) -> None:
    count = scalar(synced.prod, "SELECT count(*) FROM appsync_sync_state")
    assert count == scalar(synced.prod, "SELECT count(*) FROM appsync_history") > 20
    head = scalar(synced.prod, "SELECT origin FROM appsync_sync_state LIMIT 1")
    assert str(head).startswith("git:")


def test_secrets_on_the_target_survive(synced: World) -> None:
    sql(synced.prod, "UPDATE users SET password_hash = 'prod-hash' WHERE login = 'bob'")
    sql(synced.prod, "UPDATE connectors SET credentials = 'prod-creds'")
    assert scalar(synced.prod, "SELECT password_hash FROM users WHERE login = 'alice'") is None
    bob = synced.repo / "admin/users/bob.json"
    bob.write_text(bob.read_text().replace("Bob Booker", "Robert Booker"))
    conn = synced.repo / "apps/invoices/connectors/accounting-api.json"
    conn.write_text(conn.read_text().replace("/api/v2", "/api/v3"))
    synced.commit("Rename bob, bump API")
    assert synced.apply("--yes").exit_code == 0
    assert scalar(synced.prod, "SELECT name FROM users WHERE login = 'bob'") == "Robert Booker"
    assert scalar(synced.prod, "SELECT password_hash FROM users WHERE login = 'bob'") == (
        "prod-hash"
    )
    assert scalar(synced.prod, "SELECT credentials FROM connectors") == "prod-creds"


def test_sqlite_lock_row_names_the_holder(tmp_path: Path) -> None:
    world = make_world(tmp_path, f"sqlite:///{tmp_path / 'd.db'}", f"sqlite:///{tmp_path / 'p.db'}")
    sql(
        world.prod,
        "INSERT INTO appsync_lock (name, holder, host, pid, command, acquired_at) "
        "VALUES ('apply', 'carol', :h, :p, 'apply --yes', '2026-11-21T10:00:00Z')",
        h=socket.gethostname(),
        p=os.getpid(),
    )
    before = table_digest(world.prod)
    held = world.apply("--yes", "--lock-timeout", "0.5")
    assert held.exit_code == 4
    assert "carol@" in held.stderr and "2026-11-21T10:00:00Z" in held.stderr
    assert "apply --yes" in held.stderr
    assert table_digest(world.prod) == before


@pytest.mark.postgres
def test_postgres_advisory_lock(tmp_path: Path, pg_server) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine, text

    world = make_world(tmp_path, pg_server.new_database(), pg_server.new_database())
    engine = create_engine(world.prod)
    with engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": 0x61707073796E63})
        holder.execute(
            text(
                "INSERT INTO appsync_lock VALUES ('apply', 'dave', 'ci-runner-7', 42, "
                "'apply plan.json', '2026-11-21T09:00:00Z')"
            )
        )
        holder.commit()
        held = world.apply("--yes", "--lock-timeout", "0.3")
        assert held.exit_code == 4
        assert "dave@ci-runner-7 (pid 42)" in held.stderr and "apply plan.json" in held.stderr
        holder.execute(text("DELETE FROM appsync_lock"))
        holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": 0x61707073796E63})
        holder.commit()
    engine.dispose()
    assert world.apply("--yes").exit_code == 0


def test_batch_failure_names_committed_units(world: World) -> None:
    freeze_reports(world.prod)
    failed = world.apply("--yes", "--transaction", "batch")
    assert failed.exit_code == 1
    assert "files+reports" in failed.stderr and "reports are frozen" in failed.stderr
    assert "committed units: roles+users, ui, data+functions" in failed.stderr
    assert scalar(world.prod, "SELECT count(*) FROM pages") == 5
    assert scalar(world.prod, "SELECT count(*) FROM files") == 0
    # Each committed unit wrote its own audit row with its data; the failure is recorded last.
    engine = create_engine(world.prod)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT status, command FROM appsync_audit ORDER BY seq")
            ).all()
    finally:
        engine.dispose()
    assert [r.status for r in rows] == ["applied", "applied", "applied", "partial"]
    assert [r.command for r in rows[:3]] == [
        "apply [unit 1/4: roles+users]",
        "apply [unit 2/4: ui]",
        "apply [unit 3/4: data+functions]",
    ]


def test_mass_delete_needs_permission(synced: World) -> None:
    import shutil

    shutil.rmtree(synced.repo / "apps/contractors")
    synced.commit("Drop contractors")
    refused = synced.apply("--yes", "--prune")
    assert refused.exit_code == 1 and "--allow-mass-delete" in refused.stderr
    assert scalar(synced.prod, "SELECT count(*) FROM apps") == 2
    allowed = synced.apply("--yes", "--prune", "--allow-mass-delete")
    assert allowed.exit_code == 0, allowed.output
    assert scalar(synced.prod, "SELECT count(*) FROM apps") == 1


def test_apply_without_yes_and_without_a_terminal_refuses(world: World) -> None:
    before = table_digest(world.prod)
    result = world.apply()
    assert result.exit_code == 1 and "--yes" in result.stderr
    assert table_digest(world.prod) == before


def test_plan_from_a_ref_and_a_dirty_work_tree(synced: World) -> None:
    (synced.repo / SQL_FILE).write_text("SELECT 'dirty'\n")
    dirty = plan_json(synced)
    assert dirty["source"]["dirty"] is True and dirty["summary"]["update"] == 1
    clean = plan_json(synced, "--ref", "HEAD")
    assert clean["source"]["dirty"] is False and clean["summary"]["update"] == 0
    bad = synced.plan("--ref", "no-such-branch")
    assert bad.exit_code == 1 and "unknown revision" in bad.stderr


def test_invalid_tree_is_refused_with_every_problem(synced: World) -> None:
    page = synced.repo / "apps/invoices/ui/pages/invoice-detail.json"
    doc = json.loads(page.read_text())
    doc["parent_id"] = "no-such-page"
    doc["widgets"].append(dict(doc["widgets"][0]))
    page.write_text(json.dumps(doc))
    before = table_digest(synced.prod)
    result = synced.apply("--yes")
    assert result.exit_code == 1
    assert "no-such-page" in result.stderr and "repeats id" in result.stderr
    assert table_digest(synced.prod) == before


def test_saved_plan_tampering_reapply_and_other_instance(synced: World, tmp_path: Path) -> None:
    (synced.repo / SQL_FILE).write_text("SELECT 'reviewed'\n")
    synced.commit("Reviewed change")
    saved = tmp_path / "plan.json"
    synced.plan("--out", str(saved))
    doc = json.loads(saved.read_text())
    doc["changes"][0]["desired"]["sql"] = "DROP TABLE invoices"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc))
    before = table_digest(synced.prod)
    refused = run("apply", synced.prod, str(tampered))
    assert refused.exit_code == 1 and "changed after it was made" in refused.stderr
    # Whoever recomputes the digest still cannot change content: it must hash to its rev.
    doc.pop("digest")
    doc = {"digest": seal(doc), **doc}
    tampered.write_text(json.dumps(doc))
    refused = run("apply", synced.prod, str(tampered))
    assert refused.exit_code == 1 and "altered" in refused.stderr
    assert table_digest(synced.prod) == before

    other = tmp_path / "elsewhere"
    other.mkdir()
    copy = f"sqlite:///{other / 'prod.db'}"
    run("instance", "init", copy)
    elsewhere = run("apply", copy, str(saved))
    assert elsewhere.exit_code == 1 and "another instance" in elsewhere.stderr

    assert run("apply", synced.prod, str(saved)).exit_code == 0
    again = run("apply", synced.prod, str(saved))
    assert again.exit_code == 4 and "already been applied" in again.stderr


def test_skip_records_the_target_as_agreed(synced: World) -> None:
    sql(synced.prod, "UPDATE queries SET sql = 'SELECT 2' WHERE id = :i", i=Q_TOTALS)
    (synced.repo / SQL_FILE).write_text("SELECT 3\n")
    synced.commit("Conflicting edit")
    assert synced.apply("--yes", "--conflicts", "skip").exit_code == 0
    after = plan_json(synced)
    assert [c["action"] for c in after["changes"]] == ["ahead"]
    assert synced.plan("--detailed-exitcode").exit_code == 2  # the kept hotfix is visible
    drift = run("drift", synced.prod, "--repo", str(synced.repo), "--detailed-exitcode")
    assert drift.exit_code == 2 and "kept on the target, not in Git yet" in drift.stdout


def test_skipped_missing_objects_take_their_dependents_along(world: World) -> None:
    sql(world.prod, "INSERT INTO roles (id, name) VALUES ('other-id', 'Viewers')")
    result = world.apply("--yes", "--conflicts", "skip")
    assert result.exit_code == 0, result.output
    viewers = uid("role/viewer")
    assert scalar(world.prod, "SELECT count(*) FROM roles WHERE id = :i", i=viewers) == 0
    assert "refers to role Viewers, which was skipped" in result.stderr
    rows = scalar(
        world.prod,
        "SELECT count(*) FROM queries WHERE CAST(allowed_roles AS TEXT) LIKE :p",
        p=f"%{viewers}%",
    )
    assert rows == 0  # nothing on the target points at the role that is not there
    assert scalar(world.prod, "SELECT count(*) FROM roles") == 4  # 3 of ours + theirs
    assert scalar(world.prod, "SELECT count(*) FROM apps") == 2  # the rest still applied


def test_failed_full_apply_audits_nothing_written(world: World) -> None:
    freeze_reports(world.prod)
    failed = world.apply("--yes")
    assert failed.exit_code == 1 and "committed units: none" in failed.stderr
    assert scalar(world.prod, "SELECT count(*) FROM pages") == 0
    log = json.loads(run("log", world.prod, "--format", "json").stdout)
    assert log[0]["status"] == "failed" and log[0]["counts"]["create"] == 0
