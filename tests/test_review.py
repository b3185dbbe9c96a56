"""Plans a reviewer can act on (issue 12 §2): each change's risk and its cause, keyed lists
diffed by key and sets by member, big plans that keep what matters, names GitHub would
turn into mentions escaped."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from appsync.canonical import canonical_json
from appsync.plan.model import Change, FieldDiff, Plan, Source, TargetInfo, empty_summary
from appsync.plan.render import render_markdown
from tests.helpers import commit_all, run


@pytest.fixture
def synced(tmp_path: Path) -> tuple[Path, str]:
    dev, prod = f"sqlite:///{tmp_path / 'dev.db'}", f"sqlite:///{tmp_path / 'prod.db'}"
    assert run("instance", "init", dev, "--example").exit_code == 0
    assert run("instance", "init", prod).exit_code == 0
    repo = tmp_path / "repo"
    assert run("init", str(repo)).exit_code == 0
    assert run("export", dev, "--repo", str(repo), "-m", "Export").exit_code == 0
    assert run("apply", prod, "--repo", str(repo), "--yes").exit_code == 0
    return repo, prod


def _edit(path: Path, change: Any) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_bytes(canonical_json(document))


def test_keyed_lists_by_key_sets_by_member_and_risk_with_its_cause(
    synced: tuple[Path, str],
) -> None:
    repo, prod = synced
    _edit(
        repo / "apps/invoices/data/tables/invoices.json",
        lambda d: d.update(columns=[c for c in d["columns"] if c["name"] != "legacy_code"]),
    )
    _edit(
        repo / "apps/invoices/ui/pages/invoice-list.json",
        lambda d: d["widgets"].append(
            {"id": "export", "pane": "toolbar", "type": "button", "props": {"label": "Export"}}
        ),
    )
    _edit(repo / "admin/roles/accountants.json", lambda d: d["grants"].append("invoices:export"))
    commit_all(repo, "Review me")
    text = run("plan", prod, "--repo", str(repo)).stdout
    assert "columns: legacy_code removed" in text
    assert "widgets: export added (pane toolbar)" in text
    assert 'grants: + "invoices:export"' in text
    assert "grants[" not in text and "columns[5]" not in text
    assert "[critical: drops column legacy_code of table invoices]" in text
    assert "Risk: critical (drops column legacy_code of table invoices)." in text
    plan = json.loads(run("plan", prod, "--repo", str(repo), "--format", "json").stdout)
    risks = {c["name"]: (c["risk"], c["risk_reason"]) for c in plan["changes"]}
    assert risks["Accountants"] == ("high", "changes role Accountants")
    assert risks["Invoice List"] == ("low", "changes page Invoice List")
    markdown = run("plan", prod, "--repo", str(repo), "--format", "markdown").stdout
    assert "risk **critical** (drops column legacy&#95;code of table invoices)" in markdown
    assert "*critical: drops column legacy&#95;code of table invoices*" in markdown


def _change(i: int, action: str = "update", **kw: Any) -> Change:
    values: dict[str, Any] = {
        "app": f"App {i % 4}",
        "kind": "query",
        "id": f"id-{i:05d}",
        "name": f"Q{i:05d}",
        "path": f"apps/app-{i % 4}/data/queries/q{i:05d}.json",
        "action": action,
        "risk": "medium",
        "risk_reason": f"changes query Q{i:05d}",
        "fields": (
            FieldDiff(path="sql", old="select 1\n" * 40, new="select 2\n" * 40),
            FieldDiff(path="parameters", old=[1] * 50, new=[2] * 50),
        ),
    }
    values.update(kw)
    return Change(**values)


def test_a_big_plan_keeps_the_conflicts_details_and_counts_the_rest_per_app() -> None:
    changes = [_change(i) for i in range(1800)]
    changes[1234] = _change(1234, "conflict", risk="critical", reason="both sides changed it")
    changes[77] = _change(77, "delete", risk="high", fields=())
    summary = {**empty_summary(), "update": 1798, "conflict": 1, "delete": 1}
    plan = Plan(
        source=Source(commit="0" * 40, ref="main"),
        target=TargetInfo(name="prod"),
        summary=summary,
        risk="critical",
        changes=tuple(changes),
    )
    md = render_markdown(plan)
    assert len(md) < 60000
    conflict = md[md.index("**Q01234**") :].split("\n- `", 1)[0]
    assert "```diff" in conflict and "select 2" in conflict
    assert "**Q00077**" in md
    hidden = [int(n) for n in re.findall(r"… and (\d+) more changes? not shown", md)]
    assert len(hidden) == 4 and sum(hidden) + md.count("\n- `") == 1800
    assert "the JSON plan, uploaded with this run, has every change" in md
    for app in range(4):  # in path order inside each app
        section = md[md.index(f"<b>app App {app}</b>") :].split("</details>")[0]
        names = re.findall(r"\*\*Q(\d{5})\*\*", section)
        assert names == sorted(names)


def test_names_github_would_link_are_escaped() -> None:
    plan = Plan(
        source=Source(ref="main"),
        target=TargetInfo(name="prod"),
        summary={**empty_summary(), "create": 1},
        risk="low",
        changes=(_change(1, "create", name="Ping @finance-team about #12", app="ops @team"),),
    )
    md = render_markdown(plan)
    assert "@finance-team" not in md and "#12" not in md and "@team" not in md
    assert "&#64;finance-team about &#35;12" in md


def test_selection_plans_and_applies_part_and_says_so(tmp_path: Path) -> None:
    dev, prod = f"sqlite:///{tmp_path / 'dev.db'}", f"sqlite:///{tmp_path / 'prod.db'}"
    assert run("instance", "init", dev, "--example").exit_code == 0
    assert run("instance", "init", prod).exit_code == 0
    repo = tmp_path / "repo"
    assert run("init", str(repo)).exit_code == 0
    assert run("export", dev, "--repo", str(repo), "-m", "Export").exit_code == 0
    r = ("--repo", str(repo))
    by_app = json.loads(run("plan", prod, *r, "--app", "contractors", "--format", "json").stdout)
    assert {c["app"] for c in by_app["changes"]} == {"contractors"}
    assert by_app["warnings"][0].startswith("partial plan (--app contractors)")
    wrong = run("plan", prod, *r, "--target", "role/" + by_app["changes"][0]["id"])
    assert wrong.exit_code == 1 and "no such object in the repo or on the target" in wrong.stderr
    accountants = "role/" + next(
        json.loads(p.read_text())["id"]
        for p in (repo / "admin/roles").glob("*.json")
        if "accountants" in p.name
    )
    one = json.loads(run("plan", prod, *r, "--format", "json", "--target", accountants).stdout)
    assert [c["name"] for c in one["changes"]] == ["Accountants"]
    roles = run("plan", prod, *r, "--target", "admin/roles", "--format", "json")
    assert {c["kind"] for c in json.loads(roles.stdout)["changes"]} == {"role"}
    applied = run("apply", prod, *r, "--yes", "--target", "admin/roles")
    assert applied.exit_code == 0, applied.stderr
    assert "Applied: 4 created" in applied.stdout
    rest = json.loads(run("plan", prod, *r, "--format", "json").stdout)
    assert rest["summary"]["create"] == 25 and rest["summary"]["unchanged"] == 4
    unknown = run("plan", prod, *r, "--app", "nope")
    assert unknown.exit_code == 1 and "--app nope: no such app" in unknown.stderr


def _appsync(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "appsync", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_long_work_reports_progress_in_a_log(synced: tuple[Path, str]) -> None:
    repo, prod = synced
    (repo / "apps/invoices/data/queries/monthly-totals.sql").write_text("SELECT 1\n")
    commit_all(repo, "Change")
    env = {"APPSYNC_PROGRESS_INTERVAL": "0.001"}
    planned = _appsync("plan", prod, "--repo", str(repo), env=env)
    assert planned.returncode == 0, planned.stderr
    assert re.search(r"^reading objects: \d+ \(\d+\.\d s\)$", planned.stderr, re.M)
    applied = _appsync("apply", prod, "--repo", str(repo), "--yes", env=env)
    assert applied.returncode == 0, applied.stderr
    assert re.search(r"^applying: 1/1 \(\d+\.\d s\)$", applied.stderr, re.M)
    quiet = _appsync("plan", prod, "--repo", str(repo), env={})
    assert "reading objects" not in quiet.stderr  # short work in a log stays quiet


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    main, replica = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "appsync", *args],
            stdout=replica,
            stderr=replica,
            env={**os.environ, **env},
            timeout=120,
        )
        os.close(replica)
        replica = -1
        chunks = []
        while True:
            try:
                data = os.read(main, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        assert done.returncode in (0, 2)
        return b"".join(chunks).decode(errors="replace")
    finally:
        os.close(main)
        if replica >= 0:
            os.close(replica)


def test_colour_on_a_terminal_only_and_never_with_no_color(synced: tuple[Path, str]) -> None:
    repo, prod = synced
    (repo / "apps/invoices/data/queries/monthly-totals.sql").write_text("SELECT 1\n")
    commit_all(repo, "Change")
    args = ["plan", prod, "--repo", str(repo)]
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = _on_a_terminal(args, {**env, "TERM": "xterm"})
    assert "\x1b[" in coloured and "~ query" in re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    plain = _on_a_terminal(args, {**env, "NO_COLOR": "1"})
    assert "\x1b[" not in plain and "~ query" in plain
    piped = _appsync(*args, env={})
    assert "\x1b[" not in piped.stdout
