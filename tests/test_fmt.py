"""fmt and fmt --check on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run, tree_bytes


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    url = f"sqlite:///{tmp_path / 'dev.db'}"
    run("instance", "init", url, "--example")
    run("init", str(tmp_path / "repo"))
    assert run("export", url, "--repo", str(tmp_path / "repo")).exit_code == 0
    return tmp_path / "repo"


def test_clean_tree_passes(exported: Path) -> None:
    result = run("fmt", "--check", str(exported))
    assert result.exit_code == 0, result.output


def test_reindented_and_shuffled_files_fail_then_are_restored(exported: Path) -> None:
    original = tree_bytes(exported)
    page = exported / "apps/invoices/ui/pages/invoice-list.json"
    role = exported / "admin/roles/viewers.json"
    doc = json.loads(page.read_text())
    page.write_text(json.dumps(dict(reversed(list(doc.items()))), indent=4, ensure_ascii=True))
    role_doc = json.loads(role.read_text())
    role_doc["grants"] = list(reversed(role_doc["grants"]))
    role.write_bytes(json.dumps(role_doc).encode() + b"\r\n")
    sidecar = exported / "apps/invoices/data/queries/open-invoices.sql"
    sidecar.write_bytes(b"  SELECT   1  ")  # sidecars are content, never reformatted

    check = run("fmt", "--check", str(exported))
    assert check.exit_code == 1
    assert str(page) in check.output and str(role) in check.output
    assert "open-invoices" not in check.output

    fixed = run("fmt", str(exported))
    assert fixed.exit_code == 0
    after = tree_bytes(exported)
    assert (
        after[page.relative_to(exported).as_posix()]
        == original[page.relative_to(exported).as_posix()]
    )
    assert (
        after[role.relative_to(exported).as_posix()]
        == original[role.relative_to(exported).as_posix()]
    )
    assert after["apps/invoices/data/queries/open-invoices.sql"] == b"  SELECT   1  "
    assert run("fmt", "--check", str(page)).exit_code == 0


def test_invalid_json_is_one_clear_error(exported: Path) -> None:
    broken = exported / "apps/invoices/app.json"
    broken.write_text('{"id": ')
    result = run("fmt", str(exported))
    assert result.exit_code == 1
    assert "app.json:1:8: invalid JSON" in result.stderr
    assert "Traceback" not in result.output
    assert broken.read_text() == '{"id": '
