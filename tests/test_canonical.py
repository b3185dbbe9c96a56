"""The canonical layer, pure: JSON bytes, slugs, revs, tree render and parse."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appsync.canonical import canonical_json, make_obj, slugify
from appsync.canonical.slugs import unique_slugs
from appsync.canonical.tree import assign_paths, parse, render
from appsync.errors import TreeError
from appsync.kinds import Registry
from appsync.model import HistoryEntry, Obj

APP = "00000000-0000-4000-8000-000000000001"


def test_canonical_json_bytes() -> None:
    data = canonical_json({"b": [1, 2.5, "ü"], "a": {"z": None, "y": True}})
    assert data == (
        b'{\n  "a": {\n    "y": true,\n    "z": null\n  },\n'
        b'  "b": [\n    1,\n    2.5,\n    "\xc3\xbc"\n  ]\n}\n'
    )


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Invoice List", "invoice-list"),
        ("calculateVat", "calculate-vat"),
        ("Rechnungsübersicht", "rechnungsubersicht"),
        ("  --Hello__World!!  ", "hello-world"),
        ("CON", "con-1"),
        ("lpt1", "lpt1-1"),
        ("Привет", "page"),
        ("a.b.c", "a-b-c"),
        ("x" * 100, "x" * 60),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name, "page") == slug


def _slugify_by_the_rule(name: str, fallback: str) -> str:
    """slugify as first written: every name through NFKD, the patterns compiled per call."""
    import re
    import unicodedata

    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].rstrip("-")
    slug = slug or fallback
    reserved = {"con", "prn", "aux", "nul"} | {f"{d}{i}" for d in ("com", "lpt") for i in range(10)}
    return f"{slug}-1" if slug in reserved else slug


@settings(max_examples=300)
@given(st.text(max_size=80) | st.text(alphabet="aZ9 -_.éÅßİ\u0130\ufb01", max_size=80))
def test_slugify_keeps_the_rule(name: str) -> None:
    assert slugify(name, "page") == _slugify_by_the_rule(name, "page")


def test_unique_slugs_are_case_insensitive_and_deterministic() -> None:
    items = [("b-id", "Home"), ("a-id", "home"), ("c-id", "HOME!")]
    slugs = unique_slugs(items, "page")
    assert slugs["a-id"] == "home"
    assert len({s.lower() for s in slugs.values()}) == 3
    assert unique_slugs(list(reversed(items)), "page") == slugs


def _query(reg: Registry, qid: str, name: str, sql: str) -> object:
    return make_obj(
        reg.get("query"),
        {
            "id": qid,
            "app_id": APP,
            "name": name,
            "sql": sql,
            "parameters": [],
            "allowed_roles": ["r2", "r1"],
        },
        (HistoryEntry("sha256:x", "2026-01-01T00:00:00Z", "instance:dev"),),
    )


def _app(reg: Registry) -> Obj:
    return make_obj(reg.get("app"), {"id": APP, "name": "Invoices"})


def test_render_and_parse_round_trip(reg: Registry) -> None:
    app = _app(reg)
    query = _query(reg, "q1", "Open Invoices", "SELECT 1\nFROM x\n")
    logo = make_obj(
        reg.get("file"),
        {
            "id": "f1",
            "app_id": APP,
            "name": "Logo.PNG",
            "mime_type": "image/png",
            "content": b"\x89PNG\x00\xff",
        },
    )
    data = make_obj(
        reg.get("file"),
        {
            "id": "f2",
            "app_id": APP,
            "name": "data.json",
            "mime_type": "application/json",
            "content": b"{}",
        },
    )
    tree = render(reg, [app, query, logo, data])
    assert set(tree.files) == {
        "apps/invoices/app.json",
        "apps/invoices/data/queries/open-invoices.json",
        "apps/invoices/data/queries/open-invoices.sql",
        "apps/invoices/files/logo.json",
        "apps/invoices/files/logo.png",
        "apps/invoices/files/data.json",
        "apps/invoices/files/data.data.json",
    }
    assert tree.files["apps/invoices/data/queries/open-invoices.sql"] == b"SELECT 1\nFROM x\n"
    document = json.loads(tree.files["apps/invoices/data/queries/open-invoices.json"])
    assert document["allowed_roles"] == ["r1", "r2"]
    assert document["sql"] == {"sidecar": "open-invoices.sql"}
    back = {o.key: o for o in parse(reg, tree.files)}
    for obj in (app, query, logo, data):
        assert back[obj.key].content == obj.content
        assert back[obj.key].rev == obj.rev
        assert back[obj.key].history == obj.history


def test_rev_ignores_history_and_set_order(reg: Registry) -> None:
    a = _query(reg, "q1", "Q", "SELECT 1")
    b = make_obj(reg.get("query"), {**a.content, "allowed_roles": ["r1", "r2"]})
    assert a.rev == b.rev
    assert a.rev.startswith("sha256:") and len(a.rev) == 7 + 64
    c = make_obj(reg.get("query"), {**a.content, "sql": "SELECT 2"})
    assert c.rev != a.rev


def test_parse_reports_every_problem_at_once(reg: Registry) -> None:
    files = {
        "apps/x/app.json": b'{"id": "A", "name": "x", "history": []}',
        "apps/x/data/queries/a.json": b'{"id": "q", "app_id": "B", "sql": {"sidecar": "a.sql"}}',
        "apps/x/ui/pages/b.json": b"{not json",
        "admin/users/u.json": b'{"id": "u", "password_hash": "secret", "login": 3}',
    }
    with pytest.raises(TreeError) as info:
        parse(reg, files)
    problems = "\n".join(info.value.problems)
    assert "apps/x/data/queries/a.json: sidecar apps/x/data/queries/a.sql" in problems
    assert "apps/x/ui/pages/b.json:1:2: invalid JSON" in problems
    assert "'password_hash' is a secret" in problems
    assert "'login' must be string" in problems
    assert len(info.value.problems) == 4


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=6),
    params=_json,
    sql=st.text(max_size=40),
)
def test_any_objects_round_trip(reg: Registry, names: list[str], params: object, sql: str) -> None:
    app = _app(reg)
    objs = [
        make_obj(
            reg.get("query"),
            {"id": f"q{i}", "app_id": APP, "name": n, "sql": sql, "parameters": params},
        )
        for i, n in enumerate(names)
    ]
    tree = render(reg, [app, *objs])
    assert len({p.lower() for p in tree.files}) == len(tree.files)
    back = {o.key: o for o in parse(reg, tree.files)}
    assert all(back[o.key].rev == o.rev for o in objs)
    assert render(reg, list(back.values())).files == tree.files


def test_sets_and_keyed_lists_must_be_lists_without_repeats(reg: Registry) -> None:
    files = {
        "admin/roles/a.json": b'{"id": "r1", "name": "A", "grants": "x"}',
        "admin/roles/b.json": b'{"id": "r2", "name": "B", "grants": ["x", "x"]}',
        "admin/users/c.json": b'{"id": "u1", "login": "c", "role_ids": ["r1"]}',
    }
    with pytest.raises(TreeError) as info:
        parse(reg, files)
    assert info.value.problems == [
        "admin/roles/a.json: 'grants' must be a list, not str",
        "admin/roles/b.json: 'grants' repeats a value (it is a set)",
    ]


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(st.sampled_from(["a", "A", "a b", "a-b", "ä", "b", "."]), max_size=8),
    roles=st.lists(st.sampled_from(["x", "X", "y"]), max_size=4),
    pick=st.sets(st.integers(0, 11), max_size=4),
)
def test_paths_of_some_objects_are_those_of_all(
    reg: Registry, names: list[str], roles: list[str], pick: set[int]
) -> None:
    """assign_paths(only=...) works out only the folders of those objects, and gives them
    the paths the whole tree gives them (slugs are unique within a folder, so clashing
    names in other folders, apps or kinds change nothing)."""
    apps = [_app(reg), make_obj(reg.get("app"), {"id": "app-2", "name": "Sales"})]
    objs = [
        make_obj(
            reg.get("query"),
            {"id": f"q{i}", "app_id": apps[i % 2].id, "name": n, "sql": "select 1"},
        )
        for i, n in enumerate(names)
    ]
    objs += [make_obj(reg.get("role"), {"id": f"r{i}", "name": n}) for i, n in enumerate(roles)]
    everything = [*apps, *objs]
    whole = assign_paths(reg, everything)
    wanted = {objs[i].key for i in pick if i < len(objs)}
    some = assign_paths(reg, everything, only=wanted)
    assert all(some[k] == whole[k] for k in wanted)
    assert len(some) <= len(whole)
