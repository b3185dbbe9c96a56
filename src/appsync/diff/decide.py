"""The decision table of DESIGN section 3, row by row. Pure: no I/O, no printing.

D is the desired object, L the live one, S the target's sync state for it (S.d the desired
rev last applied, S.a the rev that apply produced), H(D) the revs in D's history plus its
own. The first row that matches decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from typing import Literal

from appsync.bindings import Bindings
from appsync.diff.fields import FieldChange, diff_fields
from appsync.kinds import KindSpec, Registry
from appsync.model import Obj, SyncState
from appsync.progress import report

Action = Literal[
    "create", "update", "delete", "conflict", "unchanged", "orphaned", "unmanaged", "ahead"
]


@dataclass(frozen=True)
class Decision:
    kind: str
    id: str
    action: Action
    reason: str
    desired: Obj | None = None
    live: Obj | None = None
    state: SyncState | None = None
    fields: tuple[FieldChange, ...] = field(default=())
    #: For a conflict: the rev both sides last agreed on, when known (S.d).
    base_rev: str | None = None
    #: For a conflict over a conflict key: the live object that holds the value.
    held_by: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.id)

    @property
    def obj(self) -> Obj:
        found = self.desired or self.live
        assert found is not None
        return found


def decide(
    d: Obj | None,
    live: Obj | None,
    s: SyncState | None,
    *,
    prune: bool = False,
    taken: str | None = None,
    spec: KindSpec | None = None,
) -> Decision:
    """One object's row of the table. ``taken`` names a conflict key the object would take
    that another live object holds and keeps (a create, or a rename: then a conflict);
    ``spec`` (the kind) makes field changes of keyed lists and sets read by key and by
    member. A live object that holds a binding at an earlier value is an update."""
    decision = _row(d, live, s, prune=prune, taken=taken, spec=spec)
    if taken and decision.action in ("create", "update"):
        holder = taken.rsplit(" ", 1)[-1]
        return replace(
            decision,
            action="conflict",
            reason=f"{taken} on the target",
            fields=(),
            held_by=holder,
        )
    if d is not None and live is not None and live.rebound and decision.action != "conflict":
        return _rebind(decision, d, live, spec)
    return decision


def _rebind(decision: Decision, d: Obj, live: Obj, spec: KindSpec | None) -> Decision:
    note = "; ".join(f"binding {r.name} changed: {r.old} -> {r.new}" for r in live.rebound)
    if decision.action != "unchanged":
        return replace(decision, reason=f"{decision.reason}; {note}")
    fields: tuple[FieldChange, ...] = ()
    if spec is not None:
        old = Bindings().bind_content(spec, live.content, {r.name: r.old for r in live.rebound})
        new = Bindings().bind_content(spec, d.content, {r.name: r.new for r in live.rebound})
        fields = tuple(diff_fields(old, new, spec))
    return replace(decision, action="update", reason=note, fields=fields)


def _row(
    d: Obj | None,
    live: Obj | None,
    s: SyncState | None,
    *,
    prune: bool,
    taken: str | None,
    spec: KindSpec | None,
) -> Decision:
    obj = d or live
    assert obj is not None
    kind, oid = obj.kind, obj.id

    def make(action: Action, reason: str, base: str | None = None) -> Decision:
        fields: tuple[FieldChange, ...] = ()
        if d is not None and live is not None and action != "unchanged":
            fields = tuple(diff_fields(live.content, d.content, spec))
        return Decision(kind, oid, action, reason, d, live, s, fields, base)

    if d is None and live is None:
        raise AssertionError("nothing to decide")
    if live is None:
        assert d is not None
        return make("create", "not on the target")
    if d is None:
        if s is not None:
            if prune:
                return make("delete", "deleted in Git (--prune)")
            return make("orphaned", "deleted in Git; kept without --prune")
        return make("unmanaged", "made on the target, never applied by appsync")

    if live.rev == d.rev:
        return make("unchanged", "identical")
    history = {h.rev for h in d.history} | {d.rev}
    if s is not None and live.rev == s.applied_rev and d.rev == s.desired_rev:
        if s.applied_rev != s.desired_rev:
            return make(
                "ahead",
                "the target holds a version Git lacks (merged, or kept over the repo's); "
                "capture it with export",
            )
        return make("unchanged", "in sync")
    if s is not None and live.rev == s.applied_rev == s.desired_rev:
        return make("update", "the target did not change since it was last synced")
    if live.rev in history:
        return make("update", "the repo descends from the target's revision")
    if s is not None and live.rev == s.applied_rev:
        return make(
            "conflict",
            "the target holds a version Git lacks (merged or kept) and the repo changed",
            s.desired_rev,
        )
    if s is not None and d.rev == s.desired_rev:
        return make("ahead", "changed on the target since the last sync; Git did not change")
    if s is not None:
        return make(
            "conflict", "changed on the target since the last sync and in the repo", s.desired_rev
        )
    return make("conflict", "unrelated history under the same id")


def decide_all(
    registry: Registry,
    desired: Iterable[Obj],
    live: Iterable[Obj],
    states: Mapping[tuple[str, str], SyncState],
    *,
    prune: bool = False,
) -> list[Decision]:
    """A decision for every object on either side, in apply order (kind, then id)."""
    want = {o.key: o for o in desired}
    have = {o.key: o for o in live}
    holders = _conflict_key_holders(registry, have.values())
    decisions: list[Decision] = []
    rank = {kind: i for i, kind in enumerate(registry.names)}
    others = len(rank)
    keys = sorted(set(want) | set(have), key=lambda k: (rank.get(k[0], others), k[1]))
    # What --prune deletes gives its conflict keys up (worked out once, not per object).
    freed = {k for k in states if k not in want and k in have} if prune else set()
    for done, key in enumerate(keys, start=1):
        if done % 500 == 0:
            report("comparing", done, len(keys))
        d, lv = want.get(key), have.get(key)
        # An object identical on both sides takes no value it does not hold already.
        same = d is not None and lv is not None and lv.rev == d.rev
        taken = (
            _taken(registry, d, lv, holders, want, freed) if d is not None and not same else None
        )
        spec = registry.get(key[0]) if key[0] in registry else None
        decisions.append(decide(d, lv, states.get(key), prune=prune, taken=taken, spec=spec))
    return decisions


def _conflict_key_holders(
    registry: Registry, live: Iterable[Obj]
) -> dict[tuple[str, str, object], str]:
    holders: dict[tuple[str, str, object], str] = {}
    for obj in live:
        for key in registry.get(obj.kind).conflict_keys:
            value = obj.content.get(key)
            if value is not None:
                holders[(obj.kind, key, _fold(value))] = obj.id
    return holders


def _fold(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _taken(
    registry: Registry,
    d: Obj,
    live: Obj | None,
    holders: Mapping[tuple[str, str, object], str],
    want: Mapping[tuple[str, str], Obj],
    freed: Set[tuple[str, str]] = frozenset(),
) -> str | None:
    """The conflict key value ``d`` would take from another live object that keeps it
    (one the plan deletes with --prune gives it up)."""
    for key in registry.get(d.kind).conflict_keys:
        value = d.content.get(key)
        if live is not None and _fold(live.content.get(key)) == _fold(value):
            continue  # not a new value for this object
        holder = holders.get((d.kind, key, _fold(value))) if value is not None else None
        if holder is None or holder == d.id:
            continue
        if (d.kind, holder) in freed:
            continue
        # The holder gives the value up in the desired state: no conflict.
        moved = want.get((d.kind, holder))
        if moved is not None and _fold(moved.content.get(key)) != _fold(value):
            continue
        return f"{d.kind} {key} '{value}' is taken by {holder}"
    return None
