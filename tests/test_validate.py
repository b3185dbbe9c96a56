"""validate and schema: checks without a database, for CI and editors."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.helpers import commit_all, run


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    dev = f"sqlite:///{tmp_path / 'dev.db'}"
    assert run("instance", "init", dev, "--example").exit_code == 0
    assert run("init", str(tmp_path / "repo")).exit_code == 0
    assert run("export", dev, "--repo", str(tmp_path / "repo"), "-m", "Export").exit_code == 0
    return tmp_path / "repo"


def test_validate_needs_no_database_and_reports_every_problem(repo: Path) -> None:
    ok = run("validate", "--repo", str(repo))
    assert ok.exit_code == 0 and ok.stdout == "OK: 29 objects in 37 files.\n"
    roles = repo / "admin/roles"
    viewers = json.loads((roles / "viewers.json").read_text())
    viewers["name"] = "Accountants"
    (roles / "viewers.json").write_text(json.dumps(viewers))
    query = repo / "apps/invoices/data/queries/open-invoices.json"
    document = json.loads(query.read_text())
    document["name"] = "${binding:ERP_URL}"
    query.write_text(json.dumps(document))
    page = repo / "apps/invoices/ui/pages/invoice-list.json"
    page_doc = json.loads(page.read_text())
    page_doc["parent_id"] = "0ee5c0a6-8c6f-4d0b-9a54-3b5e3f0a1b2c"
    page.write_text(json.dumps(page_doc))
    result = run("validate", "--repo", str(repo))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert any("role name 'Accountants' is also used by" in line for line in lines)
    assert any("is in a field that takes no bindings" in line for line in lines)
    assert any(
        "parent_id names page 0ee5c0a6-8c6f-4d0b-9a54-3b5e3f0a1b2c, which is not in the repo"
        in line
        for line in lines
    )
    commit_all(repo, "Broken")
    assert run("validate", "--repo", str(repo), "--ref", "HEAD~1").exit_code == 0
    (repo / "admin/roles/broken.json").write_text("{")
    assert "invalid JSON" in run("validate", "--repo", str(repo)).stderr


def test_schemas_from_the_manifests_accept_every_exported_file(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    assert run("schema", "-o", str(out), "--repo", str(repo)).exit_code == 0
    schemas = {
        p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in out.iterdir()
    }
    assert len(schemas) == 11
    folders = {
        "admin/roles": "role",
        "admin/users": "user",
        "ui/pages": "page",
        "data/queries": "query",
        "data/tables": "table",
        "workflows": "workflow",
        "reports": "report",
        "connectors": "connector",
        "functions": "function",
        "files": "file",
    }
    checked = 0
    for path in sorted(repo.rglob("*.json")):
        rel = path.relative_to(repo).as_posix()
        if ".git" in path.parts or "." in path.stem:
            continue
        kind = "app" if path.name == "app.json" else next(k for f, k in folders.items() if f in rel)
        jsonschema.validate(json.loads(path.read_text()), schemas[kind])
        checked += 1
    assert checked == 29
    bad = json.loads((repo / "admin/roles/viewers.json").read_text())
    bad["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError, match="colour"):
        jsonschema.validate(bad, schemas["role"])
