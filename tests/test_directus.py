"""Directus, for real: projects built through Directus's REST API, exported to Git, adopted
and applied to another Directus on the other database engine, and checked through that
instance's own API — without restarting it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appsync.canonical import canonical_json
from tests.conftest import PgServer
from tests.directus_project import AUTHOR_ID, build
from tests.directus_server import Directus, Install, Spec, running_together
from tests.helpers import git, run, table_digest

pytestmark = pytest.mark.directus

CONFIG = """\
version: 1
platform: directus
environments:
  dev:
    url: {dev}
    api: {dev_api}
    token: ${{DEV_DIRECTUS_TOKEN}}
  prod:
    url: {prod}
    api: {prod_api}
    token: ${{PROD_DIRECTUS_TOKEN}}
apps: []
"""


def _database(engine: str, request: pytest.FixtureRequest) -> str:
    if engine == "sqlite":
        return "sqlite"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.new_database()


@pytest.fixture
def pair(
    request: pytest.FixtureRequest,
    directus: Install,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Directus, Directus, Path]]:
    """Instance A (dev) and B (prod) on the engines of the test's parameter, and a repo
    whose appsync.yaml names both."""
    dev_engine, prod_engine = request.param
    dev_db, prod_db = _database(dev_engine, request), _database(prod_engine, request)
    with running_together(
        directus,
        Spec(tmp_path / "a", dev_db, "admin@a.example.com", "token-a"),
        Spec(tmp_path / "b", prod_db, "admin@b.example.com", "token-b"),
    ) as (a, b):
        monkeypatch.setenv("DEV_DIRECTUS_TOKEN", a.token)
        monkeypatch.setenv("PROD_DIRECTUS_TOKEN", b.token)
        repo = tmp_path / "repo"
        assert run("init", str(repo)).exit_code == 0
        (repo / "appsync.yaml").write_text(
            CONFIG.format(dev=a.url, dev_api=a.api, prod=b.url, prod_api=b.api), encoding="utf-8"
        )
        git(repo, "add", "-A")
        git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "Environments")
        yield a, b, repo


def _plan(repo: Path, *args: str) -> dict[str, Any]:
    result = run("plan", "prod", "--repo", str(repo), "--format", "json", *args)
    assert result.exit_code in (0, 2, 3), result.stderr
    plan: dict[str, Any] = json.loads(result.stdout)
    return plan


def _edit(path: Path, change: Any) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_bytes(canonical_json(document))


def _commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", message)


def _field(collection: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in collection["fields"] if f["field"] == name)


@pytest.mark.parametrize(
    "pair",
    [
        pytest.param(("sqlite", "postgres"), marks=pytest.mark.postgres, id="sqlite-to-postgres"),
        pytest.param(("postgres", "sqlite"), marks=pytest.mark.postgres, id="postgres-to-sqlite"),
    ],
    indirect=True,
)
def test_project_travels_to_another_directus(pair: tuple[Directus, Directus, Path]) -> None:
    a, b, repo = pair
    project = build(a)

    exported = run("export", "dev", "--repo", str(repo), "-m", "Project from dev")
    assert exported.exit_code == 0, exported.stderr
    files = {p.relative_to(repo).as_posix() for p in repo.rglob("*.json") if ".git" not in p.parts}
    assert {
        "apps/directus/app.json",
        "apps/directus/data/collections/articles.json",
        "apps/directus/data/collections/authors.json",
        "apps/directus/data/relations/articles-author.json",
        "apps/directus/flows/greeter.json",
        "apps/directus/dashboards/overview.json",
        "apps/directus/presets/articles-drafts.json",
        "admin/roles/editors.json",
        "admin/roles/administrator.json",
        "admin/policies/editors-policy.json",
        "admin/users/editor-example-com.json",
    } <= files
    tree = "\n".join(p.read_text() for p in repo.rglob("*.json") if ".git" not in p.parts)
    for secret in ("editor-password", "admin-password", "token-a", "$argon2"):
        assert secret not in tree
    assert run("export", "dev", "--repo", str(repo)).stdout.startswith("No changes")

    # B is not adopted yet: plan says what to do, and changes nothing.
    before = table_digest(b.url)
    refused = run("plan", "prod", "--repo", str(repo))
    assert refused.exit_code == 1
    assert "run 'appsync instance adopt prod' first" in refused.stderr
    adopted = run("instance", "adopt", "prod", "--repo", str(repo))
    assert adopted.exit_code == 0, adopted.stderr
    after = table_digest(b.url)
    assert {t: d for t, d in after.items() if not t.startswith("appsync_")} == before
    assert run("instance", "adopt", "prod", "--repo", str(repo)).stdout.endswith(
        "already adopted, nothing changed.\n"
    )

    plan = _plan(repo, "--detailed-exitcode")
    actions = {(c["kind"], c["name"]): c["action"] for c in plan["changes"]}
    assert actions[("collection", "articles")] == "create"
    assert actions[("flow", "Greeter")] == "create"
    assert ("role", "Administrator") not in actions  # matched by definition, not duplicated
    assert ("policy", "$t:public_label") not in actions
    applied = run("apply", "prod", "--repo", str(repo), "--yes")
    assert applied.exit_code == 0, applied.stderr
    assert "notified: system cache cleared" in applied.stderr
    assert "notified: flows reloaded" in applied.stderr
    clean = run("plan", "prod", "--repo", str(repo), "--detailed-exitcode")
    assert clean.exit_code == 0, clean.stdout  # across engines too: nothing left to change

    # B's own API, without a restart: the data model works ...
    b.ok("POST", "/items/authors", {"id": AUTHOR_ID, "name": "Ann"})
    article = b.ok(
        "POST", "/items/articles", {"title": "Hello", "author": AUTHOR_ID, "slug": "hello"}
    )
    assert article["status"] == "draft" and article["published"] is False
    assert b.ok("GET", f"/items/articles/{article['id']}?fields=author.name")["author"] == {
        "name": "Ann"
    }
    # ... the role's policy allows and refuses what it should ...
    b.ok("PATCH", f"/users/{project.editor_user}", {"password": "editor-on-b"})
    login = b.ok("POST", "/auth/login", {"email": "editor@example.com", "password": "editor-on-b"})
    token = login["access_token"]
    assert b.request("GET", "/items/articles", token=token)[0] == 200
    assert b.request("POST", "/items/articles", {"title": "By Eddie"}, token=token)[0] == 200
    assert b.request("DELETE", f"/items/articles/{article['id']}", token=token)[0] == 403
    assert b.request("GET", "/items/directus_settings", token=token)[0] == 403
    # ... the flow runs on its trigger ...
    assert b.request("GET", f"/flows/trigger/{project.flow}?name=Bob") == (
        200,
        {"greeting": "Hello Bob"},
    )
    assert b.request("GET", f"/flows/trigger/{project.flow}") == (200, {"greeting": "Hello nobody"})
    # ... the dashboard lists its panels and the role has its bookmark.
    panels = b.ok("GET", f"/dashboards/{project.dashboard}?fields=panels.name")["panels"]
    assert sorted(p["name"] for p in panels) == ["Latest", "Welcome"]
    presets = b.ok("GET", "/presets?filter[bookmark][_eq]=Drafts")
    assert [(p["role"], p["collection"]) for p in presets] == [(project.editors_role, "articles")]

    # A Git edit is a one-field plan; applied, B's API serves it at once.
    articles = repo / "apps/directus/data/collections/articles.json"
    _edit(articles, lambda d: _field(d, "title")["meta"].update(note="The headline"))
    _commit(repo, "Explain the title")
    plan = _plan(repo, "--detailed-exitcode")
    written = [c for c in plan["changes"] if c["action"] in ("create", "update", "delete")]
    assert [(c["kind"], c["name"]) for c in written] == [("collection", "articles")]
    assert [f["path"] for f in written[0]["fields"]] == ["fields[field=title].meta.note"]
    assert run("apply", "prod", "--repo", str(repo), "--yes").exit_code == 0
    assert b.ok("GET", "/fields/articles/title")["meta"]["note"] == "The headline"

    # An edit made through B's API is 'ahead'; with a Git change to the same object, a conflict.
    b.ok("PATCH", "/collections/articles", {"meta": {"note": "Edited in prod's Data Studio"}})
    plan = _plan(repo)
    assert {(c["kind"], c["name"], c["action"]) for c in plan["changes"]} >= {
        ("collection", "articles", "ahead")
    }
    _edit(articles, lambda d: d.update(icon="newspaper"))
    _commit(repo, "A new icon")
    conflicted = run("plan", "prod", "--repo", str(repo))
    assert conflicted.exit_code == 3
    assert "collection articles" in conflicted.stderr
    merged = run("apply", "prod", "--repo", str(repo), "--yes", "--conflicts", "merge")
    assert merged.exit_code == 0, merged.stderr
    collection = b.ok("GET", "/collections/articles")["meta"]
    assert (collection["icon"], collection["note"]) == ("newspaper", "Edited in prod's Data Studio")


def _admin_rows(url: str) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as c:
            user = c.execute(text("SELECT id, role, email, token FROM directus_users")).one()
            access = c.execute(text('SELECT id, role, "user", policy FROM directus_access')).all()
            roles = {str(r) for r in c.execute(text("SELECT id FROM directus_roles")).scalars()}
            policies = {
                str(p) for p in c.execute(text("SELECT id FROM directus_policies")).scalars()
            }
    finally:
        engine.dispose()
    return {"user": user, "access": access, "roles": roles, "policies": policies}


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_instances_from_the_template_are_each_their_own(
    engine: str, directus: Install, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A copy of the bootstrapped template gets the ids a bootstrap of its own would (the
    admin's role, policy, access rows and user), its own admin email and token, and every
    access row still names a role and policy that exist."""
    seen: list[dict[str, Any]] = []
    for name in ("a", "b"):
        server = Directus(
            directus,
            tmp_path / name,
            database=_database(engine, request),
            admin_email=f"admin@{name}.example.com",
            token=f"token-{name}",
        )
        server.bootstrap()
        rows = _admin_rows(server.url)
        assert (rows["user"].email, rows["user"].token) == (server.admin_email, server.token)
        assert str(rows["user"].role) in rows["roles"]
        assert all(str(a.policy) in rows["policies"] for a in rows["access"])
        assert all(a.role is None or str(a.role) in rows["roles"] for a in rows["access"])
        seen.append(rows)
    a, b = seen
    assert str(a["user"].id) != str(b["user"].id) and a["roles"].isdisjoint(b["roles"])
    assert {str(x.id) for x in a["access"]}.isdisjoint({str(x.id) for x in b["access"]})
    shared = a["policies"] & b["policies"]  # only Directus's constant public policy
    assert shared == {"abf8a154-5b1c-4a46-ac9c-7300570f4f17"}
