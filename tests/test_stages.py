"""Apply ordering and transaction units (DESIGN section 5). Pure: no I/O."""

from __future__ import annotations

from appsync.apply.stages import Step, build_units, order_steps
from appsync.kinds import Registry
from appsync.plan.model import Change


def step(kind: str, oid: str, op: str = "create", **content: object) -> Step:
    change = Change(
        app="x", kind=kind, id=oid, name=oid, path=None, action=op, desired={"id": oid, **content}
    )
    return Step(op, change, None if op == "delete" else {"id": oid, **content})  # type: ignore[arg-type]


def test_categories_then_references_then_reverse_deletes(reg: Registry) -> None:
    steps = [
        step("report", "r1"),
        step("page", "child", parent_id="parent"),
        step("page", "grandchild", parent_id="child"),
        step("page", "parent"),
        step("role", "admins"),
        step("query", "q-old", "delete"),
        step("page", "p-old", "delete"),
        step("role", "r-old", "delete"),
        step("user", "alice"),
    ]
    order = [(s.change.kind, s.change.id, s.op) for s in order_steps(reg, steps)]
    assert order == [
        ("role", "admins", "create"),
        ("user", "alice", "create"),
        ("page", "parent", "create"),
        ("page", "child", "create"),
        ("page", "grandchild", "create"),
        ("report", "r1", "create"),
        ("query", "q-old", "delete"),
        ("page", "p-old", "delete"),
        ("role", "r-old", "delete"),
    ]


def test_reference_cycles_do_not_hang(reg: Registry) -> None:
    steps = [step("page", "a", parent_id="b"), step("page", "b", parent_id="a")]
    assert {s.change.id for s in order_steps(reg, steps)} == {"a", "b"}


def test_units_per_mode(reg: Registry) -> None:
    steps = [
        step("role", "r"),
        step("page", "p"),
        step("query", "q"),
        step("function", "f"),
        step("file", "x"),
        step("page", "old", "delete"),
    ]
    assert [u.name for u in build_units(reg, steps, "full")] == ["all changes"]
    assert [u.name for u in build_units(reg, steps, "batch")] == [
        "roles+users",
        "ui",
        "data+functions",
        "files+reports",
        "ui (deletes)",
    ]
    assert [u.name for u in build_units(reg, steps, "per-category")] == [
        "roles",
        "ui",
        "data",
        "functions",
        "files",
        "ui (deletes)",
    ]
    assert build_units(reg, [], "full") == []


def _rename(oid: str, old: str, new: str) -> Step:
    change = Change(
        app=None,
        kind="role",
        id=oid,
        name=new,
        path=None,
        action="update",
        desired={"id": oid, "name": new},
        claims=(f"name={new}",),
        releases=(f"name={old}",),
    )
    return Step("update", change, {"id": oid, "name": new})


def test_a_long_chain_of_renames_frees_each_name_before_it_is_taken(reg: Registry) -> None:
    """Role k takes the name role k+1 gives up: thousands of them, in any order, come out
    last to first (the order is built from an index of released names, not by rescanning)."""
    count = 3000
    steps = [_rename(f"r{k:05d}", f"n{k}", f"n{k + 1}") for k in range(count)]
    steps.reverse()
    steps = steps[::2] + steps[1::2]
    order = [s.change.id for s in order_steps(reg, steps)]
    assert order == [f"r{k:05d}" for k in reversed(range(count))]


def test_a_swap_is_broken_by_parking_one_side(reg: Registry) -> None:
    steps = [_rename("a", "Alpha", "Beta"), _rename("b", "Beta", "Alpha")]
    order = [(s.change.id, (s.content or {})["name"]) for s in order_steps(reg, steps)]
    assert order == [("a", "Beta (appsync moving a)"), ("b", "Alpha"), ("a", "Beta")]
