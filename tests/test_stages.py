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
