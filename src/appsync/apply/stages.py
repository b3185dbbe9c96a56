"""Ordering a plan's writes into units of work (DESIGN section 5). Pure.

Writes go by category (roles -> users -> UI -> data -> functions -> files -> reports), by
kind order inside a category and by reference order inside a kind (a breadcrumb parent
before its children); deletes go in exactly the reverse order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from appsync.canonical.revs import make_obj
from appsync.errors import UsageError
from appsync.kinds import KindSpec, Registry
from appsync.paths import values_at
from appsync.plan.model import Change, from_jsonable

Op = Literal["create", "update", "delete"]
Mode = Literal["full", "batch", "per-category"]


@dataclass(frozen=True)
class Step:
    op: Op
    change: Change
    content: dict[str, Any] | None

    @property
    def key(self) -> tuple[str, str]:
        return self.change.key


@dataclass
class Unit:
    name: str
    steps: list[Step] = field(default_factory=list)


def step_for(registry: Registry, change: Change, op: Op) -> Step:
    spec = registry.get(change.kind)
    content = None
    if op != "delete":
        assert change.desired is not None, f"{change.label()} has no desired content"
        binary = [f.name for f in spec.fields.values() if f.type == "bytes"]
        content = from_jsonable(change.desired, binary)
        if change.desired_rev is None or make_obj(spec, content).rev != change.desired_rev:
            raise UsageError(
                f"the plan's content for {change.label()} ({change.id}) does not match its "
                "rev: the plan file was altered after it was made"
            )
    return Step(op, change, content)


def _reference_order(spec: KindSpec, steps: list[Step]) -> list[Step]:
    """Steps of one kind with objects they reference (of the same kind) first."""
    self_refs = [r.path for r in spec.references if r.kind == spec.kind]
    if not self_refs or len(steps) < 2:
        return sorted(steps, key=lambda s: s.change.id)
    by_id = {s.change.id: s for s in steps}
    ordered: list[Step] = []
    state: dict[str, int] = {}

    def visit(step: Step) -> None:
        mark = state.get(step.change.id)
        if mark is not None:
            return  # done, or a cycle: keep going, the database has no such constraint
        state[step.change.id] = 1
        for path in self_refs:
            for target in values_at(step.content or {}, path):
                if isinstance(target, str) and target in by_id:
                    visit(by_id[target])
        state[step.change.id] = 2
        ordered.append(step)

    for step in sorted(steps, key=lambda s: s.change.id):
        visit(step)
    return ordered


def order_steps(registry: Registry, steps: Iterable[Step]) -> list[Step]:
    """Writes forward in apply order, then deletes in reverse."""
    writes: dict[str, list[Step]] = {}
    deletes: dict[str, list[Step]] = {}
    for step in steps:
        (deletes if step.op == "delete" else writes).setdefault(step.change.kind, []).append(step)
    ordered: list[Step] = []
    for spec in registry:
        ordered.extend(_reference_order(spec, writes.get(spec.kind, [])))
    for spec in reversed(list(registry)):
        ordered.extend(reversed(_reference_order(spec, deletes.get(spec.kind, []))))
    return ordered


def build_units(registry: Registry, steps: Iterable[Step], mode: Mode) -> list[Unit]:
    """Transaction units for ``--transaction``: full (one), batch or per-category."""
    ordered = order_steps(registry, steps)
    if mode == "full":
        return [Unit("all changes", ordered)] if ordered else []
    platform = registry.platform
    groups = platform.batches if mode == "batch" else tuple((c,) for c in platform.categories)
    group_of = {cat: "+".join(group) for group in groups for cat in group}
    writes: dict[str, Unit] = {}
    deletes: dict[str, Unit] = {}
    for step in ordered:
        name = group_of[registry.get(step.change.kind).category]
        units = deletes if step.op == "delete" else writes
        units.setdefault(name, Unit(name if step.op != "delete" else f"{name} (deletes)"))
        units[name].steps.append(step)
    return [*writes.values(), *deletes.values()]
