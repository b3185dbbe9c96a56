"""Directus: bad input and faults, each one clear line before any write (or, after a commit,
a line that says what was committed and what to do)."""

from __future__ import annotations

import http.server
import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from appsync.canonical import canonical_json
from tests.directus_project import build
from tests.directus_server import Directus, Install, running
from tests.helpers import git, run, serve_locally, table_digest

pytestmark = [pytest.mark.directus, pytest.mark.xdist_group("directus-errors")]


@dataclass
class Exported:
    repo: Path
    fresh: Path  # a bootstrapped, never adopted Directus database file


@pytest.fixture(scope="session")  # once: the group's tests may not run back to back
def exported(directus: Install, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    """A project built on a running Directus and exported to a repo, once for the session;
    and a fresh Directus database to copy as a target."""
    root = tmp_path_factory.mktemp("directus-errors")
    repo = root / "repo"
    with running(
        directus, root / "a", database="sqlite", admin_email="a@x.example.com", token="ta"
    ) as a:
        build(a)
        assert run("init", str(repo)).exit_code == 0
        assert run("export", a.url, "--repo", str(repo), "-m", "Project").exit_code == 0
    fresh = Directus(
        directus, root / "b", database="sqlite", admin_email="b@x.example.com", token="tb"
    )
    fresh.bootstrap()
    yield Exported(repo, root / "b" / "directus.db")


@pytest.fixture
def world(exported: Exported, tmp_path: Path) -> tuple[Path, str]:
    """A copy of the exported repo, and an adopted copy of the fresh database as prod."""
    repo = tmp_path / "repo"
    shutil.copytree(exported.repo, repo)
    db = tmp_path / "prod.db"
    shutil.copy(exported.fresh, db)
    url = f"sqlite:///{db}"
    assert run("instance", "adopt", url).exit_code == 0
    return repo, url


def _edit(path: Path, change: Any) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_bytes(canonical_json(document))


def _plan_problems(repo: Path, url: str) -> list[str]:
    result = run("plan", url, "--repo", str(repo))
    assert result.exit_code == 1, result.stdout
    assert "Traceback" not in result.stderr
    return result.stderr.splitlines()


def test_a_relation_to_a_missing_collection_is_refused_in_the_plan(world: tuple[Path, str]) -> None:
    repo, url = world
    before = table_digest(url)
    _edit(
        repo / "apps/directus/data/relations/articles-author.json",
        lambda d: d.update(one_collection="writers"),
    )
    problems = _plan_problems(repo, url)
    assert any("one_collection names collection writers" in p for p in problems)
    assert run("apply", url, "--repo", str(repo), "--yes").exit_code == 1
    assert table_digest(url) == before


def test_a_permission_on_a_missing_collection_is_refused(world: tuple[Path, str]) -> None:
    repo, url = world
    (repo / "apps/directus/data/collections/authors.json").unlink()
    _edit(
        repo / "apps/directus/data/relations/articles-author.json",
        lambda d: d.update(one_collection="directus_users"),
    )
    problems = _plan_problems(repo, url)
    assert any(
        "admin/policies/editors-policy.json: permissions[*].collection names collection authors"
        in p
        for p in problems
    )


def test_an_operation_chain_into_another_flow_is_refused(world: tuple[Path, str]) -> None:
    repo, url = world
    stranger = "5d3c2b1a-0f9e-4d8c-b7a6-958473625140"
    flow = repo / "apps/directus/flows/greeter.json"
    _edit(
        flow,
        lambda d: next(o for o in d["operations"] if o["key"] == "check").update(resolve=stranger),
    )
    problems = _plan_problems(repo, url)
    assert any(
        f"operations[*].resolve names {stranger}, which is not one of its own" in p
        for p in problems
    )


def test_not_adopted_not_directus_unsupported_version(exported: Exported, tmp_path: Path) -> None:
    db = tmp_path / "prod.db"
    shutil.copy(exported.fresh, db)
    url = f"sqlite:///{db}"
    before = db.read_bytes()
    refused = run("plan", url, "--repo", str(exported.repo))
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"appsync: error: {url} is not an appsync instance (missing tables: appsync_audit, "
        f"appsync_history, appsync_lock, appsync_meta, appsync_sync_state); run 'appsync "
        f"instance adopt {url}' first\n"
    )
    assert db.read_bytes() == before
    with sqlite3.connect(db) as connection:
        connection.execute(
            "INSERT INTO directus_migrations (version, name) VALUES ('20991231A', 'Future')"
        )
    newer = run("instance", "adopt", url)
    assert newer.exit_code == 1
    assert "unsupported Directus version (its newest migration is 20991231A" in newer.stderr
    assert "supports Directus 12.4.0" in newer.stderr
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    plain = run("instance", "adopt", f"sqlite:///{other}", "--repo", str(tmp_path))
    assert plain.exit_code == 1
    (tmp_path / "appsync.yaml").write_text(
        f"version: 1\nenvironments:\n  prod: {{url: 'sqlite:///{other}', platform: directus}}\n"
    )
    named = run("instance", "adopt", "prod", "--repo", str(tmp_path))
    assert named.exit_code == 1
    assert "is not a Directus database" in named.stderr


class _FakeDirectus(http.server.BaseHTTPRequestHandler):
    """Speaks just enough of Directus's API: health answers, the cache cannot be cleared."""

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        if status == 503:  # busy for good: asked again at once (the waits: test_directus_api)
            self.send_header("Retry-After", "0")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != "Bearer good":
            self._send(401, {"errors": [{"message": "Invalid user credentials."}]})
        else:
            self._send(200, {"status": "ok", "releaseId": "12.4.0"})

    def do_POST(self) -> None:
        self._send(503, {"errors": [{"message": "Service unavailable"}]})

    do_PATCH = do_POST

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_api() -> Iterator[str]:
    with serve_locally(_FakeDirectus) as url:
        yield url


def test_token_checked_before_any_write_and_notice_after_commit(
    world: tuple[Path, str], fake_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, url = world
    (repo / "appsync.yaml").write_text(
        "version: 1\nplatform: directus\nenvironments:\n"
        f"  prod: {{url: '{url}', api: '{fake_api}', token: '${{PROD_TOKEN}}'}}\n"
    )
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "prod")
    before = table_digest(url)
    unset = run("apply", "prod", "--repo", str(repo), "--yes")
    assert unset.exit_code == 1
    assert (
        unset.stderr
        == "appsync: error: environment 'prod': token: variable PROD_TOKEN is not set\n"
    )
    monkeypatch.setenv("PROD_TOKEN", "wrong")
    wrong = run("apply", "prod", "--repo", str(repo), "--yes")
    assert wrong.exit_code == 1
    assert wrong.stderr.count("\n") == 1
    assert (
        "the token is missing, wrong or not an admin's (Invalid user credentials.)" in wrong.stderr
    )
    assert table_digest(url) == before
    monkeypatch.setenv("PROD_TOKEN", "good")
    applied = run("apply", "prod", "--repo", str(repo), "--yes")
    assert applied.exit_code == 1
    assert "Applied:" in applied.stdout
    assert applied.stderr.splitlines()[-2:] == [
        "appsync: error: applied and committed, but clearing the cache failed: HTTP 503 "
        "Service unavailable; the changes are committed: clear Directus's cache "
        "(POST /utils/cache/clear?system=true) and reload flows, or restart it",
        "appsync: error: applied and committed, but reloading the flows failed: HTTP 503 "
        "Service unavailable; the changes are committed: clear Directus's cache "
        "(POST /utils/cache/clear?system=true) and reload flows, or restart it",
    ]
    assert table_digest(url) != before
    assert run("plan", "prod", "--repo", str(repo), "--detailed-exitcode").exit_code == 0


def test_a_directus_app_travels_as_a_package(exported: Exported, tmp_path: Path) -> None:
    db = tmp_path / "prod.db"
    shutil.copy(exported.fresh, db)
    url = f"sqlite:///{db}"
    assert run("instance", "adopt", url).exit_code == 0
    package = tmp_path / "project.zip"
    packed = run("pack", str(exported.repo / "apps/directus"), "-o", str(package), "--tag", "1.0.0")
    assert packed.exit_code == 0, packed.stderr
    verified = run("verify", str(package))
    assert verified.exit_code == 0, verified.stderr
    metadata = json.loads(__import__("zipfile").ZipFile(package).read("metadata.json"))
    assert metadata["platform"] == "directus"
    imported = run("import", str(package), url, "--yes")
    assert imported.exit_code == 0, imported.stderr
    # The package holds the project and its access rules; users only with --include-users.
    plan = json.loads(run("plan", url, "--repo", str(exported.repo), "--format", "json").stdout)
    writes = {(c["kind"], c["action"]) for c in plan["changes"] if c["action"] != "unmanaged"}
    assert writes == {("user", "create")}
    reference = tmp_path / "ref.db"
    assert run("instance", "init", f"sqlite:///{reference}").exit_code == 0
    wrong = run("import", str(package), f"sqlite:///{reference}", "--yes")
    assert wrong.exit_code == 1
    assert "holds a directus app" in wrong.stderr


def test_dropping_data_says_what_and_how_much(world: tuple[Path, str]) -> None:
    repo, url = world
    assert run("apply", url, "--repo", str(repo), "--yes").exit_code == 0
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        connection.executemany(
            "INSERT INTO articles (title, slug) VALUES (?, ?)", [("A", "a"), ("B", "b")]
        )
    _edit(
        repo / "apps/directus/data/collections/articles.json",
        lambda d: d.update(fields=[f for f in d["fields"] if f["field"] != "body"]),
    )
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "No body")
    plan = json.loads(run("plan", url, "--repo", str(repo), "--format", "json").stdout)
    [change] = [c for c in plan["changes"] if c["action"] == "update"]
    assert (change["risk"], change["risk_reason"]) == (
        "critical",
        "drops columns body of articles (2 rows)",
    )
    assert plan["risk"] == "critical" and plan["risk_reason"] == change["risk_reason"]
    text = run("plan", url, "--repo", str(repo)).stdout
    assert "fields: body removed" in text
    assert "Risk: critical (drops columns body of articles (2 rows))." in text
    assert run("apply", url, "--repo", str(repo), "--yes").exit_code == 0
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        columns = [r[1] for r in connection.execute("PRAGMA table_info(articles)")]
        titles = sorted(r[0] for r in connection.execute("SELECT title FROM articles"))
    assert "body" not in columns and titles == ["A", "B"]
    (repo / "apps/directus/data/collections/articles.json").unlink()
    (repo / "apps/directus/data/relations/articles-author.json").unlink()
    for preset in (repo / "apps/directus/presets").glob("*.json"):
        preset.unlink()
    _edit(
        repo / "admin/policies/editors-policy.json",
        lambda d: d.update(
            permissions=[p for p in d["permissions"] if p["collection"] != "articles"]
        ),
    )
    plan = json.loads(run("plan", url, "--repo", str(repo), "--prune", "--format", "json").stdout)
    dropped = next(c for c in plan["changes"] if c["kind"] == "collection")
    assert dropped["action"] == "delete"
    assert dropped["risk_reason"] == "drops the table articles (2 rows)"
    applied = run("apply", url, "--repo", str(repo), "--yes", "--prune", "--allow-mass-delete")
    assert applied.exit_code == 0, applied.stderr
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    assert "articles" not in tables and "authors" in tables
    assert run("plan", url, "--repo", str(repo), "--detailed-exitcode").exit_code == 0


FLOW = "7e1f0c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
OPERATION = "8f2a1d3b-4c5e-4f60-9b1a-2d3e4f5a6b7c"


def _request_flow(db: Path, header: str, url: str) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute(
            "INSERT INTO directus_flows (id, name, status, trigger, accountability, options) "
            "VALUES (?, 'Notify ERP', 'active', 'manual', 'all', '{}')",
            (FLOW,),
        )
        options = {
            "method": "POST",
            "url": url,
            "headers": [
                {"header": "Authorization", "value": header},
                {"header": "Content-Type", "value": "application/json"},
            ],
            "body": '{"event": "published"}',
        }
        connection.execute(
            "INSERT INTO directus_operations (id, key, name, type, position_x, position_y, "
            "options, flow) VALUES (?, 'post', 'Post', 'request', 19, 1, ?, ?)",
            (OPERATION, json.dumps(options), FLOW),
        )
        connection.execute(
            "UPDATE directus_flows SET operation = ? WHERE id = ?", (OPERATION, FLOW)
        )


def _operation_options(db: Path) -> dict[str, Any]:
    with sqlite3.connect(db) as connection:
        row = connection.execute(
            "SELECT options FROM directus_operations WHERE id = ?", (OPERATION,)
        ).fetchone()
    return dict(json.loads(row[0]))


def test_credentials_inside_definitions_never_leave_their_instance(
    exported: Exported, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev, prod = tmp_path / "dev.db", tmp_path / "prod.db"
    shutil.copy(exported.fresh, dev)
    shutil.copy(exported.fresh, prod)
    _request_flow(dev, "Bearer dev-s3cr3t", "https://erp.example.com/hook?token=t0k3n&x=1")
    repo = tmp_path / "repo"
    assert run("init", str(repo)).exit_code == 0
    (repo / "appsync.yaml").write_text(
        "version: 1\nplatform: directus\nenvironments:\n"
        f"  dev: {{url: 'sqlite:///{dev}'}}\n"
        f"  prod:\n    url: 'sqlite:///{prod}'\n"
        "    bindings: {ERP_TOKEN: '${PROD_ERP_TOKEN}'}\n"
    )
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "Envs")
    assert run("export", "dev", "--repo", str(repo), "-m", "Flows").exit_code == 0
    tree = "\n".join(p.read_text() for p in repo.rglob("*.json") if ".git" not in p.parts)
    assert "dev-s3cr3t" not in tree and "t0k3n" not in tree
    flow = json.loads((repo / "apps/directus/flows/notify-erp.json").read_text())
    headers = flow["operations"][0]["options"]["headers"]
    assert headers[0] == {"header": "Authorization", "value": "${secret}"}
    assert headers[1] == {"header": "Content-Type", "value": "application/json"}  # not a secret
    assert flow["operations"][0]["options"]["url"] == "${secret}"
    # Nothing travels in a plan either; the target lacks the values: say so.
    monkeypatch.setenv("PROD_ERP_TOKEN", "Bearer prod-from-vault")
    assert run("instance", "adopt", "prod", "--repo", str(repo)).exit_code == 0
    planned = run("plan", "prod", "--repo", str(repo), "--format", "json")
    assert "dev-s3cr3t" not in planned.stdout and "t0k3n" not in planned.stdout
    warnings = json.loads(planned.stdout)["warnings"]
    assert any(
        "operations[*].options.headers[*].value is a secret that prod has no value for" in w
        for w in warnings
    )
    assert run("apply", "prod", "--repo", str(repo), "--yes").exit_code == 0
    assert "${secret}" not in json.dumps(_operation_options(prod))  # never written
    # Set on prod by hand, as the plan said: in sync, and kept through later changes.
    options = _operation_options(prod)
    options["headers"][0]["value"] = "Bearer prod-by-hand"
    options["url"] = "https://erp.example.com/hook?token=prod-t0k3n&x=1"
    with sqlite3.connect(prod) as connection:
        connection.execute(
            "UPDATE directus_operations SET options = ? WHERE id = ?",
            (json.dumps(options), OPERATION),
        )
    assert run("plan", "prod", "--repo", str(repo), "--detailed-exitcode").exit_code == 0
    path = repo / "apps/directus/flows/notify-erp.json"
    _edit(path, lambda d: d["operations"][0]["options"].update(body='{"event": "changed"}'))
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "New body")
    assert run("apply", "prod", "--repo", str(repo), "--yes").exit_code == 0
    after = _operation_options(prod)
    assert after["headers"][0]["value"] == "Bearer prod-by-hand"
    assert after["body"] == '{"event": "changed"}'
    # Bound from a variable: apply writes the value, which is never shown or recorded.
    _edit(
        path,
        lambda d: d["operations"][0]["options"]["headers"][0].update(value="${binding:ERP_TOKEN}"),
    )
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "Bound")
    applied = run("apply", "prod", "--repo", str(repo), "--yes")
    assert applied.exit_code == 0, applied.stderr
    assert "prod-from-vault" not in applied.stdout + applied.stderr
    assert _operation_options(prod)["headers"][0]["value"] == "Bearer prod-from-vault"
    with sqlite3.connect(prod) as connection:
        recorded = connection.execute("SELECT value FROM appsync_meta").fetchall()
        history = connection.execute("SELECT content FROM appsync_history").fetchall()
    assert "prod-from-vault" not in json.dumps([*recorded, *history])
    assert run("plan", "prod", "--repo", str(repo), "--detailed-exitcode").exit_code == 0


def test_a_permission_granted_twice_on_the_instance_is_refused_by_export(
    world: tuple[Path, str], tmp_path: Path
) -> None:
    """Directus lets a policy hold two rows for one collection and action; a tree keys them
    by both and cannot tell them apart: export refuses, naming them, and writes nothing."""
    repo, url = world
    assert run("apply", url, "--repo", str(repo), "--yes").exit_code == 0
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        connection.execute(
            "INSERT INTO directus_permissions (collection, action, fields, policy) "
            "SELECT collection, action, fields, policy FROM directus_permissions "
            "WHERE policy IS NOT NULL ORDER BY id LIMIT 1"
        )
    head = git(repo, "rev-parse", "HEAD")
    result = run("export", url, "--repo", str(repo))
    assert result.exit_code == 1, result.stdout
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert "permissions[" in result.stderr and "repeats collection=" in result.stderr
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""
    # A first export into a new repository, refused, leaves appsync.yaml as init wrote it
    # (the platform is recorded only by an export that goes through).
    fresh = tmp_path / "fresh"
    assert run("init", str(fresh)).exit_code == 0
    config = (fresh / "appsync.yaml").read_bytes()
    assert run("export", url, "--repo", str(fresh)).exit_code == 1
    assert (fresh / "appsync.yaml").read_bytes() == config
    assert git(fresh, "status", "--porcelain") == ""
