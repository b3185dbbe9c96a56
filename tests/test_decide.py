"""The decision table of DESIGN section 3, row by row, and validation. Pure: no I/O."""

from __future__ import annotations

import pytest

from appsync.canonical import make_obj
from appsync.diff import decide, diff_fields, readable_path
from appsync.diff.decide import decide_all
from appsync.kinds import Registry
from appsync.model import HistoryEntry, Obj, SyncState
from appsync.validate import validate

APP = "a0000000-0000-4000-8000-000000000000"


def page(reg: Registry, route: str, history: tuple[str, ...] = (), **extra: object) -> Obj:
    content = {"id": "p1", "app_id": APP, "name": "Home", "route": route, "widgets": []}
    content.update(extra)
    entries = tuple(HistoryEntry(rev, "2026-01-01T00:00:00Z", "instance:dev") for rev in history)
    return make_obj(reg.get("page"), content, entries)


@pytest.fixture
def revs(reg: Registry) -> dict[str, Obj]:
    return {v: page(reg, f"/{v}") for v in ("a", "b", "c", "m")}


def test_identical_is_unchanged(reg: Registry, revs: dict[str, Obj]) -> None:
    assert decide(revs["a"], revs["a"], None).action == "unchanged"


def test_in_sync_with_state_is_unchanged_or_ahead_after_a_merge(revs: dict[str, Obj]) -> None:
    a, b, m = revs["a"], revs["b"], revs["m"]
    assert decide(b, a, SyncState(b.rev, a.rev)).action == "ahead"  # S.a != S.d
    assert decide(b, b, SyncState(b.rev, b.rev)).action == "unchanged"
    assert decide(b, m, SyncState(b.rev, m.rev)).reason.startswith(
        "the target holds a version Git lacks"
    )


def test_fast_forward_and_rollback(reg: Registry, revs: dict[str, Obj]) -> None:
    a, b = revs["a"], revs["b"]
    decision = decide(b, a, SyncState(a.rev, a.rev))
    assert decision.action == "update"
    assert [f.path for f in decision.fields] == ["route"]
    assert (decision.fields[0].old, decision.fields[0].new) == ("/a", "/b")


def test_descends_from_live_without_state(reg: Registry, revs: dict[str, Obj]) -> None:
    a = revs["a"]
    d = page(reg, "/b", history=(a.rev,))
    assert decide(d, a, None).action == "update"


def test_unrelated_history_is_a_conflict(revs: dict[str, Obj]) -> None:
    decision = decide(revs["b"], revs["a"], None)
    assert decision.action == "conflict"
    assert "unrelated" in decision.reason


def test_merge_on_target_and_repo_change_is_a_conflict(revs: dict[str, Obj]) -> None:
    a, b, m = revs["a"], revs["b"], revs["m"]
    decision = decide(b, m, SyncState(a.rev, m.rev))
    assert decision.action == "conflict" and decision.base_rev == a.rev


def test_target_changed_git_did_not_is_ahead(revs: dict[str, Obj]) -> None:
    a, c = revs["a"], revs["c"]
    assert decide(a, c, SyncState(a.rev, a.rev)).action == "ahead"


def test_both_changed_is_a_conflict(revs: dict[str, Obj]) -> None:
    a, b, c = revs["a"], revs["b"], revs["c"]
    decision = decide(b, c, SyncState(a.rev, a.rev))
    assert decision.action == "conflict" and decision.base_rev == a.rev


def test_create_orphaned_delete_unmanaged(revs: dict[str, Obj]) -> None:
    a = revs["a"]
    assert decide(a, None, None).action == "create"
    assert decide(None, a, SyncState(a.rev, a.rev)).action == "orphaned"
    assert decide(None, a, SyncState(a.rev, a.rev), prune=True).action == "delete"
    assert decide(None, a, None, prune=True).action == "unmanaged"


def test_taken_conflict_keys(reg: Registry) -> None:
    role = reg.get("role")
    live = [make_obj(role, {"id": "r-live", "name": "Admins"})]
    desired = [make_obj(role, {"id": "r-new", "name": "admins"})]
    [*_, new] = decide_all(reg, desired, live, {})
    assert new.action == "conflict" and "taken by r-live" in new.reason
    # The holder is renamed in the same desired state: no conflict.
    desired.append(make_obj(role, {"id": "r-live", "name": "Old admins"}))
    actions = {d.id: d.action for d in decide_all(reg, desired, live, {})}
    assert actions == {"r-new": "create", "r-live": "conflict"}


def test_field_paths_are_readable() -> None:
    old = {"widgets": [{"id": "a", "props": {"label": "x"}}], "n": 1, "odd key": 1}
    new = {"widgets": [{"id": "a", "props": {"label": "y"}}], "n": 2, "odd key": 2}
    assert [c.path for c in diff_fields(old, new)] == ["['odd key']", "n", "widgets[0].props.label"]
    assert readable_path(["a", 0, "b"]) == "a[0].b"
    binary = diff_fields({"content": b"\x00"}, {"content": b"\x01"})
    assert binary[0].path == "content" and "bytes" in binary[0].old


@pytest.mark.parametrize(
    ("old", "new"),
    [(1, True), (0, False), (1, 1.0), ([1], [True]), ({"a": [0]}, {"a": [False]}), ("", None)],
)
def test_values_equal_in_python_but_of_other_types_are_changes(old: object, new: object) -> None:
    """Equal fields are left out before deepdiff walks the rest, but equal must mean the
    same JSON: 1 and true hash to different revs, so the plan must show what changed."""
    same = {"name": "x", "big": list(range(50))}
    changes = diff_fields({**same, "v": old}, {**same, "v": new})
    assert [c.path.split("[")[0].split(".")[0] for c in changes] == ["v"], changes
    assert diff_fields({**same, "v": old}, {**same, "v": old}) == []


@pytest.mark.parametrize(
    ("old", "new", "paths"),
    [
        ({"v": [1, "x"]}, {"v": [True, "y"]}, ["v[0]", "v[1]"]),
        ({"v": {"b": [1], "c": 1}}, {"v": {"b": [True], "c": 2}}, ["v.b[0]", "v.c"]),
        ({"v": [{"t": 0}], "w": 1}, {"v": [{"t": False}], "w": 2}, ["v[0].t", "w"]),
    ],
)
def test_a_retyped_value_beside_other_changes_is_shown(
    old: dict[str, object], new: dict[str, object], paths: list[str]
) -> None:
    """deepdiff sees a list's 1 and true as one item; beside other changes in the same
    field that retyping is still listed, at its own path."""
    assert [c.path for c in diff_fields(old, new)] == paths


def test_a_keyed_list_item_retyped_beside_another_changed_item_is_shown(reg: Registry) -> None:
    spec = reg.get("page")
    old = {"widgets": [{"id": "a", "pane": "p", "t": 1}, {"id": "b", "pane": "p", "t": "x"}]}
    new = {"widgets": [{"id": "a", "pane": "p", "t": True}, {"id": "b", "pane": "p", "t": "y"}]}
    paths = [c.path for c in diff_fields(old, new, spec)]
    assert len(paths) == 2 and all(p.startswith("widgets[") for p in paths), paths


def test_validation_collects_every_problem(reg: Registry) -> None:
    p = reg.get("page")
    q = reg.get("query")
    w = reg.get("workflow")
    objs = [
        make_obj(reg.get("app"), {"id": APP, "name": "x"}),
        make_obj(
            p,
            {
                "id": "p1",
                "app_id": APP,
                "name": "A",
                "parent_id": "missing",
                "widgets": [
                    {"id": "w", "pane": "main"},
                    {"id": "w", "pane": "main"},
                    {"id": "w", "pane": "side"},
                ],
            },
        ),
        make_obj(q, {"id": "p1", "app_id": APP, "name": "Q", "allowed_roles": ["r-gone"]}),
        make_obj(
            w,
            {
                "id": "w1",
                "app_id": APP,
                "name": "W",
                "transitions": [{"id": "t", "target_app_id": "other-app"}],
            },
        ),
    ]
    result = validate(reg, objs, [("role", "r-live")])
    text = "\n".join(result.errors)
    assert "duplicate id p1" in text
    assert "parent_id names page missing" in text
    assert "repeats id 'w' within pane 'main'" in text
    assert "allowed_roles[*] names role r-gone" in text
    assert len(result.errors) == 4
    assert len(result.warnings) == 1 and "other-app" in result.warnings[0]
    ok = validate(reg, objs[:1] + objs[3:], [("app", "other-app")])
    assert ok.errors == [] and ok.warnings == []
