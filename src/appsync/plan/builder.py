"""Builds a frozen :class:`Plan` from the decisions of the diff. Pure."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from appsync.canonical.tree import assign_paths
from appsync.diff import Decision, SyncState
from appsync.diff.decide import decide_all
from appsync.kinds import Registry
from appsync.model import Obj
from appsync.plan.model import (
    RISKS,
    WRITES,
    Change,
    FieldDiff,
    Plan,
    Risk,
    Source,
    TargetInfo,
    empty_summary,
    to_jsonable,
)
from appsync.secrets import unset


def fingerprint(live: Iterable[Obj], states: Mapping[tuple[str, str], SyncState]) -> str:
    """A digest of the whole target as the plan saw it: every live rev and sync state."""
    digest = hashlib.sha256()
    for obj in sorted(live, key=lambda o: o.key):
        digest.update(f"{obj.kind}:{obj.id}:{obj.rev}\n".encode())
    for (kind, oid), s in sorted(states.items()):
        digest.update(f"S:{kind}:{oid}:{s.desired_rev}:{s.applied_rev}\n".encode())
    return "sha256:" + digest.hexdigest()


def change_risk(registry: Registry, decision: Decision) -> Risk:
    spec = registry.get(decision.kind)
    if decision.action == "conflict":
        return "critical"
    if decision.action == "delete":
        return "critical" if spec.risk == "high" and spec.scope == "app" else "high"
    if (
        decision.action == "update"
        and decision.live
        and decision.desired
        and _drops_list_items(registry, decision.live, decision.desired)
    ):
        return "critical"
    if decision.action in ("create", "update"):
        return spec.risk
    return "none"


def _drops_list_items(registry: Registry, live: Obj, desired: Obj) -> bool:
    """Whether a high-risk kind loses keyed items (a table column removed: data loss)."""
    spec = registry.get(live.kind)
    if spec.risk != "high":
        return False
    for name, fspec in spec.fields.items():
        if fspec.keyed_list is None:
            continue
        key_of = fspec.keyed_list.key_of
        before = {repr(key_of(i)) for i in live.content.get(name) or [] if isinstance(i, dict)}
        after = {repr(key_of(i)) for i in desired.content.get(name) or [] if isinstance(i, dict)}
        if before - after:
            return True
    return False


def _unset_secrets(registry: Registry, decisions: Iterable[Decision], target: str) -> list[str]:
    """Secrets the repo leaves to the target but the target lacks: set them by hand."""
    found: list[str] = []
    for decision in decisions:
        if decision.action not in ("create", "update", "conflict") or decision.desired is None:
            continue
        spec = registry.get(decision.kind)
        live = decision.live.content if decision.live is not None else None
        for path in unset(spec, decision.desired.content, live):
            where = decision.desired.path or decision.desired.label()
            found.append(
                f"{where}: {path} is a secret that {target or 'the target'} has no value for: "
                "set it there by hand, or bind it (${binding:NAME})"
            )
    return found


def build_plan(
    registry: Registry,
    desired: list[Obj],
    live: list[Obj],
    states: Mapping[tuple[str, str], SyncState],
    *,
    source: Source,
    target: TargetInfo,
    created_at: str,
    prune: bool = False,
    warnings: Iterable[str] = (),
) -> Plan:
    decisions = decide_all(registry, desired, live, states, prune=prune)
    app_kind = registry.app.kind
    app_names = {o.id: o.name for o in live if o.kind == app_kind}
    app_names.update({o.id: o.name for o in desired if o.kind == app_kind})
    live_paths = assign_paths(registry, live)
    summary = empty_summary()
    changes: list[Change] = []
    for decision in decisions:
        summary[decision.action] += 1
        if decision.action == "unchanged":
            continue
        changes.append(_change(registry, decision, app_names, live_paths))
    live_counts: dict[str, int] = {}
    for obj in live:
        app = app_names.get(obj.app_id or "", "") if obj.app_id else ""
        live_counts[app] = live_counts.get(app, 0) + 1
    deletes: dict[str, int] = {}
    for change in changes:
        if change.action == "delete":
            deletes[change.app or ""] = deletes.get(change.app or "", 0) + 1
    warnings = list(warnings)
    for app, count in sorted(deletes.items()):
        if count * 2 > live_counts.get(app, 0):
            label = f"app '{app}'" if app else "the instance-wide objects"
            warnings.append(
                f"this plan deletes {count} of {live_counts.get(app, 0)} objects of {label}: "
                "apply needs --allow-mass-delete"
            )
    warnings += _unset_secrets(registry, decisions, target.name)
    risky = [c.risk for c in changes if c.action in (*WRITES, "conflict")]
    risk: Risk = max(risky, key=RISKS.index) if risky else "low"
    return Plan(
        created_at=created_at,
        source=source,
        target=target.model_copy(update={"fingerprint": fingerprint(live, states)}),
        summary=summary,
        risk=risk,
        changes=tuple(changes),
        warnings=tuple(warnings),
        prune=prune,
        live_counts=live_counts,
    )


def _change(
    registry: Registry,
    decision: Decision,
    app_names: Mapping[str, str],
    live_paths: Mapping[tuple[str, str], str],
) -> Change:
    obj = decision.obj
    live_path = live_paths.get(decision.key)
    path = decision.desired.path if decision.desired is not None else live_path
    previous = live_path if decision.desired is not None and live_path != path else None
    if decision.action in ("create", "delete", "orphaned", "unmanaged"):
        previous = None
    desired = decision.desired
    return Change(
        app=app_names.get(obj.app_id or "") if obj.app_id else None,
        kind=decision.kind,
        id=decision.id,
        name=obj.name,
        path=path,
        previous_path=previous,
        action=decision.action,
        from_rev=decision.live.rev if decision.live else None,
        to_rev=desired.rev if desired else None,
        base_rev=decision.base_rev,
        fields=tuple(FieldDiff.of(f) for f in decision.fields),
        reason=decision.reason,
        risk=change_risk(registry, decision),
        desired=to_jsonable(desired.content) if desired is not None else None,
        desired_rev=desired.rev if desired is not None else None,
    )
