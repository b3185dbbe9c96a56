"""Ordering a plan's writes into units of work (DESIGN section 5). Pure.

Writes go by category (roles -> users -> UI -> data -> functions -> files -> reports), by
kind order inside a category and by reference order inside a kind (a breadcrumb parent
before its children); deletes go in exactly the reverse order.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from appsync.canonical.revs import make_obj
from appsync.choices import Mode
from appsync.errors import UsageError
from appsync.kinds import KindSpec, Registry
from appsync.paths import values_at
from appsync.plan.model import Change, from_jsonable

Op = Literal["create", "update", "delete"]


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


def _park(spec: KindSpec, step: Step) -> Step:
    """A first write of ``step`` that gives up its old conflict key values without taking
    the new ones yet (a temporary value of its own), to break a cycle such as two roles
    swapping names."""
    content = dict(step.content or {})
    claimed = {token.split("=", 1)[0] for token in step.change.claims}
    for key in spec.conflict_keys:
        if key in claimed and isinstance(content.get(key), str):
            content[key] = f"{content[key]} (appsync moving {step.change.id})"
    return Step("update", step.change, content)


def _key_order(
    spec: KindSpec, writes: list[Step], deletes: list[Step]
) -> tuple[list[Step], list[Step]]:
    """Writes of one kind ordered so that a conflict key value is given up (by a rename or
    a delete) before another object takes it; deletes that must go first join the writes.
    A cycle is broken by parking one object under a temporary value."""
    claimed = {t for s in writes for t in s.change.claims}
    if not spec.conflict_keys or not claimed:
        return writes, deletes
    early = [d for d in deletes if claimed & set(d.change.releases)]
    nodes = [*early, *writes]
    claims = [set(s.change.claims) for s in nodes]
    releases = [set(s.change.releases) for s in nodes]
    # Node i waits for node j when j gives up a value i takes: an index by value, so the
    # order costs what the claims cost, not the square of the objects.
    releasers: dict[str, list[int]] = {}
    for j, released in enumerate(releases):
        for token in released:
            releasers.setdefault(token, []).append(j)
    waits: list[set[int]] = [set() for _ in nodes]
    blocks: list[set[int]] = [set() for _ in nodes]
    for i, claimed_here in enumerate(claims):
        for token in claimed_here:
            for j in releasers.get(token, ()):
                if j != i:
                    waits[i].add(j)
                    blocks[j].add(i)
    ready = [i for i, w in enumerate(waits) if not w]
    heapq.heapify(ready)
    done: set[int] = set()
    ordered: list[Step] = []

    def unblock(j: int) -> None:
        for i in blocks[j]:
            waits[i].discard(j)
            if not waits[i] and i not in done:
                heapq.heappush(ready, i)
        blocks[j] = set()

    while len(done) < len(nodes):
        if ready:
            i = heapq.heappop(ready)
            if i in done:
                continue
            done.add(i)
            ordered.append(nodes[i])
            unblock(i)
            continue
        # A cycle (two roles swapping names): the first update that both takes and gives
        # up values is written once under a temporary value, which frees what it held.
        park = next(
            (
                i
                for i in range(len(nodes))
                if i not in done and nodes[i].op == "update" and claims[i] and releases[i]
            ),
            None,
        )
        if park is None:  # nothing to break: leave it to the plan
            ordered.extend(nodes[i] for i in range(len(nodes)) if i not in done)
            break
        ordered.append(_park(spec, nodes[park]))
        releases[park] = set()
        unblock(park)
    first = {id(d) for d in early}
    return ordered, [d for d in deletes if id(d) not in first]


def order_steps(registry: Registry, steps: Iterable[Step]) -> list[Step]:
    """Writes forward in apply order, then deletes in reverse; inside a kind, references
    first and conflict key values freed before they are taken."""
    writes: dict[str, list[Step]] = {}
    deletes: dict[str, list[Step]] = {}
    for step in steps:
        (deletes if step.op == "delete" else writes).setdefault(step.change.kind, []).append(step)
    ordered: list[Step] = []
    for spec in registry:
        kind_writes, kind_deletes = _key_order(
            spec,
            _reference_order(spec, writes.get(spec.kind, [])),
            deletes.get(spec.kind, []),
        )
        ordered.extend(kind_writes)
        deletes[spec.kind] = kind_deletes
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
