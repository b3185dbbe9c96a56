"""Sync semantics a team meets day to day (issue 9): bindings act only where they belong,
identity is the id everywhere, conflict keys hold on every write, export writes only what
changed, and a plan's risk is its changes' — each as a user meets it, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from appsync.canonical import canonical_json
from appsync.instance.example import uid
from tests.helpers import commit_all, git, run, table_digest
from tests.sync_helpers import scalar, sql

CONNECTOR = "apps/invoices/connectors/accounting-api.json"
DEV_URL = "https://erp.dev.example.com/api/v2"


@dataclass
class Envs:
    repo: Path
    dev: str
    prod: str

    def run(self, *args: str) -> Any:
        return run(*args, "--repo", str(self.repo))

    def plan(self, target: str = "prod", *args: str) -> dict[str, Any]:
        result = self.run("plan", target, "--format", "json", *args)
        assert result.exit_code in (0, 2, 3), result.stderr
        plan: dict[str, Any] = json.loads(result.stdout)
        return plan

    def write_config(self, dev: dict[str, str], prod: dict[str, str], apps: str = "[]") -> None:
        def block(name: str, url: str, bindings: dict[str, str]) -> str:
            lines = [f"  {name}:", f"    url: '{url}'"]
            if bindings:
                lines.append("    bindings:")
                lines += [f"      {k}: '{v}'" for k, v in bindings.items()]
            return "\n".join(lines)

        (self.repo / "appsync.yaml").write_text(
            "version: 1\nenvironments:\n"
            + block("dev", self.dev, dev)
            + "\n"
            + block("prod", self.prod, prod)
            + f"\napps: {apps}\n"
        )
        commit_all(self.repo, "Environments")


@pytest.fixture
def envs(tmp_path: Path, db_url: str, second_db: str) -> Envs:
    assert run("instance", "init", db_url, "--example").exit_code == 0
    assert run("instance", "init", second_db).exit_code == 0
    repo = tmp_path / "repo"
    assert run("init", str(repo)).exit_code == 0
    return Envs(repo, db_url, second_db)


def _edit(path: Path, change: Any) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_bytes(canonical_json(document))


# ------------------------------------------------------------------------------ bindings


@pytest.mark.parametrize("value", ["17", "1", "2", "example.com", "dev.example.com", "v2"])
def test_bindings_never_touch_ids_keys_or_longer_tokens(envs: Envs, value: str) -> None:
    envs.write_config({"ERP_CREDENTIAL_ID": value}, {"ERP_CREDENTIAL_ID": "42"})
    exported = envs.run("export", "dev", "-m", "Export")
    assert exported.exit_code == 0, exported.stderr
    tree = {
        p.relative_to(envs.repo).as_posix(): p.read_text()
        for p in envs.repo.rglob("*.json")
        if ".git" not in p.parts
    }
    assert not [p for p, text in tree.items() if "${binding:" in text]
    connector = json.loads(tree[CONNECTOR])
    assert connector["base_url"] == DEV_URL
    assert connector["id"] == uid("connector/accounting")
    applied = envs.run("apply", "prod", "--yes")
    assert applied.exit_code == 0, applied.stderr
    assert envs.plan()["summary"]["create"] == 0
    base = scalar(envs.prod, "SELECT base_url FROM connectors")
    assert base == DEV_URL


def test_a_url_binding_is_recognised_as_a_whole_url_inside_a_bindable_field(envs: Envs) -> None:
    envs.write_config({"ERP": "https://erp.dev.example.com"}, {"ERP": "https://erp.example.com"})
    assert envs.run("export", "dev", "-m", "Export").exit_code == 0
    connector = json.loads((envs.repo / CONNECTOR).read_text())
    assert connector["base_url"] == "${binding:ERP}/api/v2"
    assert envs.run("apply", "prod", "--yes").exit_code == 0
    assert scalar(envs.prod, "SELECT base_url FROM connectors") == "https://erp.example.com/api/v2"
    # A placeholder outside the fields that take bindings is refused before any write.
    before = table_digest(envs.prod)
    _edit(envs.repo / CONNECTOR, lambda d: d.update(type="${binding:ERP}"))
    commit_all(envs.repo, "Misplaced")
    refused = envs.run("apply", "prod", "--yes")
    assert refused.exit_code == 1
    assert "is in a field that takes no bindings" in refused.stderr
    assert table_digest(envs.prod) == before


def test_a_changed_binding_value_is_an_update_and_then_nothing(envs: Envs) -> None:
    envs.write_config({"ERP_URL": DEV_URL}, {"ERP_URL": "https://erp.example.com/api/v2"})
    assert envs.run("export", "dev", "-m", "Export").exit_code == 0
    assert envs.run("apply", "prod", "--yes").exit_code == 0
    envs.write_config({"ERP_URL": DEV_URL}, {"ERP_URL": "https://erp2.example.com/api/v3"})
    plan = envs.plan("prod", "--detailed-exitcode")
    [change] = [c for c in plan["changes"] if c["action"] != "unchanged"]
    assert (change["kind"], change["action"]) == ("connector", "update")
    assert change["reason"] == (
        "binding ERP_URL changed: https://erp.example.com/api/v2 -> https://erp2.example.com/api/v3"
    )
    assert [(f["path"], f["old"], f["new"]) for f in change["fields"]] == [
        ("base_url", "https://erp.example.com/api/v2", "https://erp2.example.com/api/v3")
    ]
    assert envs.run("apply", "prod", "--yes").exit_code == 0
    assert scalar(envs.prod, "SELECT base_url FROM connectors") == "https://erp2.example.com/api/v3"
    assert envs.run("plan", "prod", "--detailed-exitcode").exit_code == 0
    assert envs.run("drift", "prod", "--detailed-exitcode").exit_code == 0
    head = git(envs.repo, "rev-parse", "HEAD")
    assert envs.run("export", "prod").stdout.startswith("No changes")
    assert git(envs.repo, "rev-parse", "HEAD") == head


def test_a_saved_plan_keeps_its_bindings(envs: Envs, tmp_path: Path) -> None:
    envs.write_config({"ERP_URL": DEV_URL}, {"ERP_URL": "https://erp.qa.example.com"})
    assert envs.run("export", "dev", "-m", "Export").exit_code == 0
    saved = tmp_path / "prod.json"
    assert envs.run("plan", "prod", "--format", "json", "--out", str(saved)).exit_code == 0
    plan = json.loads(saved.read_text())
    assert plan["bindings"] == {
        "environment": "prod",
        "values": {"ERP_URL": "https://erp.qa.example.com"},
    }
    before = table_digest(envs.prod)
    bare = run("apply", envs.prod, str(saved), "--repo", str(envs.repo))
    assert bare.exit_code == 1
    assert "needs bindings (ERP_URL) of environment 'prod'" in bare.stderr
    envs.write_config({"ERP_URL": DEV_URL}, {"ERP_URL": "https://erp.other.example.com"})
    other = envs.run("apply", "prod", str(saved))
    assert other.exit_code == 1
    assert "was made with other values of ERP_URL" in other.stderr
    assert table_digest(envs.prod) == before
    envs.write_config({"ERP_URL": DEV_URL}, {"ERP_URL": "https://erp.qa.example.com"})
    assert envs.run("apply", "prod", str(saved)).exit_code == 0
    assert scalar(envs.prod, "SELECT base_url FROM connectors") == "https://erp.qa.example.com"


# ------------------------------------------------------------------------------ identity


def test_an_app_renamed_on_the_target_stays_in_scope(envs: Envs) -> None:
    envs.write_config({}, {}, apps="[invoices, contractors]")
    assert envs.run("export", "dev", "-m", "Export").exit_code == 0
    assert envs.run("apply", "prod", "--yes").exit_code == 0
    sql(envs.prod, "UPDATE apps SET name = 'Contractor Hub' WHERE name = 'contractors'")
    plan = envs.plan()
    actions = {(c["kind"], c["action"]) for c in plan["changes"]}
    assert actions == {("app", "ahead")}
    assert plan["summary"]["create"] == 0
    exported = envs.run("export", "prod", "-m", "Capture the rename")
    assert exported.exit_code == 0, exported.stderr
    assert (envs.repo / "apps/contractor-hub/app.json").is_file()
    assert not (envs.repo / "apps/contractors").exists()
    assert envs.run("plan", "prod", "--detailed-exitcode").exit_code == 0
    # Renamed back in Git (the list still says contractors): an update, shown as a move.
    _edit(envs.repo / "apps/contractor-hub/app.json", lambda d: d.update(name="contractors"))
    commit_all(envs.repo, "Rename back")
    [change] = envs.plan()["changes"]
    assert (change["kind"], change["action"]) == ("app", "update")
    assert envs.run("apply", "prod", "--yes").exit_code == 0
    assert scalar(envs.prod, "SELECT count(*) FROM apps WHERE name = 'contractors'") == 1


# -------------------------------------------------------------------------- conflict keys


def _role_file(envs: Envs, name: str) -> Path:
    for path in (envs.repo / "admin/roles").glob("*.json"):
        if json.loads(path.read_text())["name"] == name:
            return path
    raise AssertionError(name)


@pytest.fixture
def synced(envs: Envs) -> Envs:
    envs.write_config({}, {})
    assert envs.run("export", "dev", "-m", "Export").exit_code == 0
    assert envs.run("apply", "prod", "--yes").exit_code == 0
    return envs


def test_a_rename_to_a_name_the_target_holds_is_a_conflict(synced: Envs) -> None:
    auditors = uid("role/auditors-made-on-prod")
    sql(synced.prod, "INSERT INTO roles (id, name) VALUES (:i, 'Auditors')", i=auditors)
    _edit(_role_file(synced, "Viewers"), lambda d: d.update(name="Auditors"))
    commit_all(synced.repo, "Clash")
    before = table_digest(synced.prod)
    plan = synced.run("plan", "prod")
    assert plan.exit_code == 3
    assert f"role name 'Auditors' is taken by {auditors}" in plan.stdout
    applied = synced.run("apply", "prod", "--yes", "--conflicts", "overwrite")
    assert applied.exit_code == 3
    assert table_digest(synced.prod) == before


def test_a_rename_and_a_reuse_of_the_old_name_apply_in_order(synced: Envs) -> None:
    _edit(_role_file(synced, "Viewers"), lambda d: d.update(name="Readers"))
    new = synced.repo / "admin/roles/viewers-2.json"
    new.write_bytes(
        canonical_json(
            {
                "id": uid("role/new-viewers"),
                "name": "Viewers",
                "description": "",
                "grants": [],
                "history": [],
            }
        )
    )
    commit_all(synced.repo, "Readers, and new Viewers")
    assert synced.run("plan", "prod").exit_code == 0
    applied = synced.run("apply", "prod", "--yes")
    assert applied.exit_code == 0, applied.stderr
    assert synced.run("plan", "prod", "--detailed-exitcode").exit_code == 0


def test_two_roles_swap_names(synced: Envs) -> None:
    viewers, accountants = _role_file(synced, "Viewers"), _role_file(synced, "Accountants")
    _edit(viewers, lambda d: d.update(name="Accountants"))
    _edit(accountants, lambda d: d.update(name="Viewers"))
    commit_all(synced.repo, "Swap")
    assert synced.run("plan", "prod").exit_code == 0
    applied = synced.run("apply", "prod", "--yes")
    assert applied.exit_code == 0, applied.stderr
    assert scalar(synced.prod, "SELECT name FROM roles WHERE id = :i", i=uid("role/viewer")) == (
        "Accountants"
    )
    assert synced.run("plan", "prod", "--detailed-exitcode").exit_code == 0


def test_a_failed_write_names_the_object(synced: Envs) -> None:
    sql(synced.prod, "CREATE UNIQUE INDEX uq_pages_route ON pages (route)")
    queue = synced.repo / "apps/invoices/ui/pages/approval-queue.json"
    _edit(queue, lambda d: d.update(route="/invoices"))
    commit_all(synced.repo, "Same route")
    failed = synced.run("apply", "prod", "--yes")
    assert failed.exit_code == 1
    assert "('" not in failed.stderr and "uq_pages_route" not in failed.stderr
    assert (
        "update of page Approval Queue (apps/invoices/ui/pages/approval-queue.json): route"
        in failed.stderr
    )
    assert "is already used by another row (it must be unique)" in failed.stderr


# ---------------------------------------------------------------------- export and merges


def test_exports_of_every_environment_after_one_merged_change_commit_nothing(
    envs: Envs, tmp_path: Path
) -> None:
    staging = f"sqlite:///{tmp_path / 'staging.db'}"
    assert run("instance", "init", staging).exit_code == 0
    envs.write_config({}, {})
    config = envs.repo / "appsync.yaml"
    config.write_text(
        config.read_text().replace("apps:", f"  staging:\n    url: '{staging}'\napps:")
    )
    commit_all(envs.repo, "Staging")
    assert envs.run("export", "dev", "-m", "Export").exit_code == 0
    sql_file = envs.repo / "apps/invoices/data/queries/monthly-totals.sql"
    sql_file.write_text("SELECT 1 AS one\n")
    commit_all(envs.repo, "Simpler totals")
    for target in ("staging", "prod", "dev"):
        assert envs.run("apply", target, "--yes").exit_code == 0
    head = git(envs.repo, "rev-parse", "HEAD")
    for target in ("dev", "staging", "prod"):
        result = envs.run("export", target)
        assert result.exit_code == 0
        assert result.stdout.startswith("No changes"), (target, result.stdout)
    assert git(envs.repo, "rev-parse", "HEAD") == head
    assert git(envs.repo, "status", "--porcelain") == ""


def test_a_clean_merge_has_the_risk_of_what_is_left(synced: Envs) -> None:
    sql(synced.prod, "UPDATE pages SET route = '/hotfix' WHERE name = 'Invoice List'")
    page = synced.repo / "apps/invoices/ui/pages/invoice-list.json"
    _edit(page, lambda d: d["widgets"][0]["props"].update(label="All invoices"))
    commit_all(synced.repo, "Label")
    plain = synced.plan()
    assert plain["risk"] == "critical"
    merged = synced.plan("prod", "--merge")
    [change] = merged["changes"]
    assert change["action"] == "update" and change["merged"] is True
    assert (merged["risk"], merged["risk_reason"]) == ("low", "merges page Invoice List")
    assert merged["summary"]["conflict"] == 0 and merged["summary"]["update"] == 1
