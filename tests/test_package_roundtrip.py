"""Round trips: tree -> pack -> unpack is byte-identical; pack -> import into an empty
instance -> export gives the same tree content (SQLite and PostgreSQL); properties over
generated apps."""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appsync.canonical import make_obj
from appsync.canonical.tree import render
from appsync.kinds import Registry
from appsync.model import HistoryEntry
from appsync.package import limits_from_env, read_archive, verify_entries
from appsync.usecases.package import PackOptions, pack_folder
from tests.helpers import run, table_digest, tree_bytes
from tests.package_corpus import example_tree, read_entries, write_tree
from tests.sync_helpers import scalar

ROLES = {"accountants", "contractor-managers", "viewers"}


def content(files: dict[str, bytes]) -> dict[str, object]:
    """A tree's content: object files without ``history``, other files as bytes."""
    out: dict[str, object] = {}
    for path, data in files.items():
        if path.startswith(("apps/", "admin/")):
            if path.endswith(".json") and "." not in path.rsplit("/", 1)[1][:-5]:
                doc = json.loads(data)
                doc.pop("history", None)
                out[path] = doc
            else:
                out[path] = data
    return out


def test_tree_pack_unpack_is_byte_identical(reg: Registry, tmp_path: Path) -> None:
    tree = example_tree(reg)
    write_tree(tmp_path / "repo", tree)
    for app in ("invoices", "contractors"):
        package = tmp_path / f"{app}.zip"
        result = run("pack", str(tmp_path / "repo" / "apps" / app), "-o", str(package))
        assert result.exit_code == 0, result.stderr
        out = tmp_path / f"out-{app}"
        assert run("unpack", str(package), "-o", str(out)).exit_code == 0
        back = tree_bytes(out)
        assert back == {p: tree[p] for p in back}
        assert {p for p in tree if p.startswith(f"apps/{app}/")} <= set(back)
        assert all(p.startswith((f"apps/{app}/", "admin/roles/")) for p in back)
    roles = {Path(p).stem for p in tree_bytes(tmp_path / "out-invoices") if "admin" in p}
    assert roles == ROLES  # roles of the queries and of the workflow's transitions


def test_pack_is_deterministic(reg: Registry, tmp_path: Path) -> None:
    tree = example_tree(reg)
    write_tree(tmp_path / "a", tree)
    write_tree(tmp_path / "b" / "deeper", tree)
    options = PackOptions(tag="1.0.0", exported_by="ci")
    pack_folder(reg, tmp_path / "a/apps/invoices", tmp_path / "1.zip", options)
    pack_folder(reg, tmp_path / "a/apps/invoices", tmp_path / "2.zip", options)
    pack_folder(reg, tmp_path / "b/deeper/apps/invoices", tmp_path / "3.zip", options)
    first = (tmp_path / "1.zip").read_bytes()
    assert first == (tmp_path / "2.zip").read_bytes() == (tmp_path / "3.zip").read_bytes()
    names = [n for n, _ in read_entries(first)]
    assert names[:4] == ["metadata.json", "import_config.json", "checksums.json", "README.md"]
    assert names[4:] == sorted(names[4:])
    meta = json.loads(dict(read_entries(first))["metadata.json"])
    assert meta["exported_at"] == "2026-01-02T03:04:05Z"  # the tree's newest history entry
    assert meta["schema_version"] == "1.1" and meta["tag"] == "1.0.0"
    assert meta["source"] == {"commit": None, "clean": False, "instance": None}  # no Git here


def test_example_imports_and_plans_clean(db_url: str, tmp_path: Path) -> None:
    """The story of the issue, on SQLite and PostgreSQL: export the example, pack
    apps/invoices, import it into an empty instance; export and plan agree."""
    dev = f"sqlite:///{tmp_path / 'dev.db'}"
    assert run("instance", "init", dev, "--example").exit_code == 0
    assert run("init", str(tmp_path / "repo")).exit_code == 0
    assert run("export", dev, "--repo", str(tmp_path / "repo")).exit_code == 0
    package = tmp_path / "invoices-1.2.0.zip"
    packed = run(
        "pack",
        str(tmp_path / "repo/apps/invoices"),
        "-o",
        str(package),
        "--tag",
        "1.2.0",
        "--environment",
        "STAGING",
        "--notes",
        "First release",
    )
    assert packed.exit_code == 0, packed.stderr
    assert run("verify", str(package)).exit_code == 0

    assert run("instance", "init", db_url).exit_code == 0
    imported = run("import", str(package), db_url, "--yes")
    assert imported.exit_code == 0, imported.stderr
    assert "17 created" in imported.stdout
    origin = "package:invoices@1.2.0"
    assert origin in run("log", db_url).stdout
    assert scalar(db_url, "SELECT count(*) FROM appsync_sync_state WHERE origin = :o", o=origin)
    assert scalar(db_url, "SELECT count(*) FROM appsync_history WHERE origin = :o", o=origin)

    unpacked = tmp_path / "unpacked"
    assert run("unpack", str(package), "-o", str(unpacked)).exit_code == 0
    assert run("init", str(unpacked)).exit_code == 0
    plan = run("plan", db_url, "--repo", str(unpacked), "--detailed-exitcode")
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert "No changes" in plan.stdout

    assert run("init", str(tmp_path / "back")).exit_code == 0
    assert run("export", db_url, "--repo", str(tmp_path / "back")).exit_code == 0
    assert content(tree_bytes(tmp_path / "back")) == content(tree_bytes(unpacked))

    before = table_digest(db_url)
    again = run("import", str(package), db_url, "--yes")
    assert again.exit_code == 0 and "Nothing to apply" in again.stdout
    assert table_digest(db_url) == before


def test_export_zip_straight_from_an_instance(tmp_path: Path) -> None:
    dev = f"sqlite:///{tmp_path / 'dev.db'}"
    assert run("instance", "init", dev, "--example").exit_code == 0
    assert run("init", str(tmp_path / "repo")).exit_code == 0
    assert run("export", dev, "--repo", str(tmp_path / "repo")).exit_code == 0
    package = tmp_path / "direct.zip"
    result = run("export", dev, "--app", "invoices", "--zip", str(package), "--tag", "2.0.0")
    assert result.exit_code == 0, result.stderr
    assert run("unpack", str(package), "-o", str(tmp_path / "out")).exit_code == 0
    repo = {p: d for p, d in tree_bytes(tmp_path / "repo").items()}
    out = tree_bytes(tmp_path / "out")
    assert content(out) == content({p: repo[p] for p in out})
    assert len(out) == 23


def test_no_audit_strips_history(reg: Registry, tmp_path: Path) -> None:
    write_tree(tmp_path / "repo", example_tree(reg))
    package = tmp_path / "p.zip"
    assert (
        run(
            "pack", str(tmp_path / "repo/apps/invoices"), "-o", str(package), "--no-audit"
        ).exit_code
        == 0
    )
    entries = dict(read_entries(package.read_bytes()))
    config = json.loads(entries["import_config.json"])
    assert config["options"]["include_audit"] is False
    assert json.loads(entries["apps/invoices/app.json"])["history"] == []
    assert run("verify", str(package)).exit_code == 0


def test_unpack_needs_a_new_or_empty_folder(reg: Registry, tmp_path: Path) -> None:
    write_tree(tmp_path / "repo", example_tree(reg))
    package = tmp_path / "p.zip"
    assert run("pack", str(tmp_path / "repo/apps/invoices"), "-o", str(package)).exit_code == 0
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    refused = run("unpack", str(package), "-o", str(tmp_path / "busy"))
    assert refused.exit_code == 1 and "not empty" in refused.stderr
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["keep.txt"]
    (tmp_path / "empty").mkdir()
    assert run("unpack", str(package), "-o", str(tmp_path / "empty")).exit_code == 0
    assert (tmp_path / "empty/apps/invoices/app.json").is_file()
    assert not [p for p in tmp_path.iterdir() if ".unpack-" in p.name]


# ---------------------------------------------------------------------------- properties

_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)


def _app_tree(reg: Registry, data: st.DataObject) -> tuple[dict[str, bytes], str, dict[str, bytes]]:
    """A generated repo tree, its app's folder, and the files its package must hold (the
    app and the roles its queries allow)."""

    salt = data.draw(st.integers(1, 2**64))
    counter = itertools.count(1)

    def ident() -> str:
        return str(uuid.UUID(int=(salt << 32) + next(counter)))

    at = HistoryEntry(rev="sha256:0", at="2026-01-01T00:00:00Z", origin="instance:gen")
    app_id = ident()
    objs = [make_obj(reg.get("app"), {"id": app_id, "name": data.draw(_text)}, (at,))]
    roles = [
        make_obj(
            reg.get("role"),
            {
                "id": ident(),
                "name": f"r{i}-{data.draw(_text)}",
                "grants": data.draw(st.lists(_text, max_size=3, unique=True)),
            },
        )
        for i in range(data.draw(st.integers(0, 3)))
    ]
    objs += roles
    for _i in range(data.draw(st.integers(0, 4))):
        allowed = data.draw(
            st.lists(st.sampled_from([r.id for r in roles]), unique=True) if roles else st.just([])
        )
        objs.append(
            make_obj(
                reg.get("query"),
                {
                    "id": ident(),
                    "app_id": app_id,
                    "name": data.draw(_text),
                    "sql": data.draw(st.text(max_size=40)),
                    "parameters": data.draw(_json),
                    "allowed_roles": allowed,
                },
                (at,),
            )
        )
    for _i in range(data.draw(st.integers(0, 3))):
        objs.append(
            make_obj(
                reg.get("page"),
                {
                    "id": ident(),
                    "app_id": app_id,
                    "name": data.draw(_text),
                    "route": "/" + data.draw(_text),
                    "widgets": [],
                },
                (at,),
            )
        )
    for _i in range(data.draw(st.integers(0, 2))):
        objs.append(
            make_obj(
                reg.get("file"),
                {
                    "id": ident(),
                    "app_id": app_id,
                    "name": f"{data.draw(_text)}.bin",
                    "mime_type": "application/octet-stream",
                    "content": b"\0" + data.draw(st.binary(max_size=64)),
                },
                (at,),
            )
        )
    rendered = render(reg, objs)
    folder = rendered.paths[("app", app_id)].split("/")[1]
    used = {r for o in objs if o.kind == "query" for r in o.content["allowed_roles"]}
    shared = {rendered.paths[("role", r)] for r in used}
    expected = {p: d for p, d in rendered.files.items() if p.startswith("apps/") or p in shared}
    return rendered.files, folder, expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_apps_pack_and_unpack_byte_identical(reg: Registry, data: st.DataObject) -> None:
    files, folder, expected = _app_tree(reg, data)
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        write_tree(root / "repo", files)
        package = root / "p.zip"
        pack_folder(reg, root / "repo" / "apps" / folder, package, PackOptions())
        archive = read_archive(package, limits_from_env())
        assert archive.problems == []
        verified = verify_entries(reg, archive.files, names=archive.names)
        assert verified.errors == []
        assert verified.tree == expected
        assert json.loads(archive.files["metadata.json"])["app"]["folder"] == folder


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_apps_import_and_export_back(reg: Registry, data: st.DataObject) -> None:
    files, folder, _ = _app_tree(reg, data)
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        write_tree(root / "repo", files)
        package = root / "p.zip"
        pack_folder(reg, root / "repo" / "apps" / folder, package, PackOptions())
        url = f"sqlite:///{root / 'target.db'}"
        assert run("instance", "init", url).exit_code == 0
        result = run("import", str(package), url, "--yes")
        assert result.exit_code == 0, result.stderr
        assert run("unpack", str(package), "-o", str(root / "out")).exit_code == 0
        assert run("init", str(root / "back")).exit_code == 0
        assert run("export", url, "--repo", str(root / "back")).exit_code == 0
        assert content(tree_bytes(root / "back")) == content(tree_bytes(root / "out"))
        shutil.rmtree(root / "back")
