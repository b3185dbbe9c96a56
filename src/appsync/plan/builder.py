"""Builds a frozen :class:`Plan` from the decisions of the diff. Pure."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from operator import attrgetter

from appsync.canonical.jsonform import jcs
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
    update = digest.update  # a line at a time: the whole text would be ~10 MB at 100k
    for obj in sorted(live, key=attrgetter("kind", "id")):
        update(f"{obj.kind}:{obj.id}:{obj.rev}\n".encode())
    for (kind, oid), s in sorted(states.items()):
        update(f"S:{kind}:{oid}:{s.desired_rev}:{s.applied_rev}\n".encode())
    return "sha256:" + digest.hexdigest()


def change_risk(registry: Registry, decision: Decision) -> tuple[Risk, str]:
    """A change's risk and its cause (``critical``, ``drops column legacy_code``)."""
    spec = registry.get(decision.kind)
    label = f"{decision.kind} {decision.obj.name or decision.id}"
    if decision.action == "conflict":
        return "critical", f"conflict on {label}"
    if decision.action == "delete":
        if spec.risk == "high" and spec.scope == "app":
            return "critical", f"deletes {label} and its data"
        return "high", f"deletes {label}"
    if decision.action == "update" and decision.live and decision.desired:
        dropped = _dropped_items(registry, decision.live, decision.desired)
        if dropped:
            return "critical", f"drops {dropped} of {label}"
    if decision.action in ("create", "update"):
        verb = "creates" if decision.action == "create" else "changes"
        return spec.risk, f"{verb} {label}"
    return "none", ""


def _dropped_items(registry: Registry, live: Obj, desired: Obj) -> str:
    """``column legacy_code``: what a high-risk kind loses of its keyed items (a table's
    column removed: data loss), or ''."""
    spec = registry.get(live.kind)
    if spec.risk != "high":
        return ""
    lost: list[str] = []
    for name, fspec in spec.fields.items():
        keyed = fspec.keyed_list
        if keyed is None:
            continue
        after = {
            repr(keyed.key_of(i)) for i in desired.content.get(name) or [] if isinstance(i, dict)
        }
        for item in live.content.get(name) or []:
            if isinstance(item, dict) and repr(keyed.key_of(item)) not in after:
                label = item.get("name") or item.get("field") or keyed.label(item)
                lost.append(f"{name.rstrip('s')} {label}")
    return ", ".join(lost)


def key_tokens(
    registry: Registry, desired: Obj | None, live: Obj | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The conflict key values a write takes anew, and those it gives up."""
    obj = desired or live
    assert obj is not None
    spec = registry.get(obj.kind)

    def tokens(o: Obj | None) -> set[str]:
        if o is None:
            return set()
        found = set()
        for key in spec.conflict_keys:
            value = o.content.get(key)
            if value is not None:
                folded = value.casefold() if isinstance(value, str) else value
                found.add(f"{key}={jcs(folded).decode()}")
        return found

    want, have = tokens(desired), tokens(live)
    return tuple(sorted(want - have)), tuple(sorted(have - want))


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
    # Paths are shown for the changes only: their folders' slugs are all that is worked out.
    shown = {d.key for d in decisions if d.action != "unchanged" and d.live is not None}
    live_paths = assign_paths(registry, live, only=shown)
    changes = [
        _change(registry, d, app_names, live_paths) for d in decisions if d.action != "unchanged"
    ]
    unchanged = sum(1 for d in decisions if d.action == "unchanged")
    live_counts: dict[str, int] = {}
    for obj in live:
        app = app_names.get(obj.app_id or "", "") if obj.app_id else ""
        live_counts[app] = live_counts.get(app, 0) + 1
    advice = (*warnings, *_unset_secrets(registry, decisions, target.name))
    draft = Plan(
        created_at=created_at,
        source=source,
        target=target.model_copy(update={"fingerprint": fingerprint(live, states)}),
        summary={**empty_summary(), "unchanged": unchanged},
        risk="low",
        advice=advice,
        prune=prune,
        live_counts=live_counts,
    )
    return finalize(draft, changes)


def finalize(plan: Plan, changes: Iterable[Change]) -> Plan:
    """The plan with these changes, and everything derived from them — summary, risk and
    its cause, the mass-delete warning — derived here and nowhere else. Changes that became
    ``unchanged`` (a merge that gives the target's own content) count as such."""
    listed: list[Change] = []
    summary = empty_summary()
    summary["unchanged"] = plan.summary.get("unchanged", 0)
    for change in changes:
        summary[change.action] = summary.get(change.action, 0) + 1
        if change.action != "unchanged":
            listed.append(change)
    deletes: dict[str, int] = {}
    for change in listed:
        if change.action == "delete":
            deletes[change.app or ""] = deletes.get(change.app or "", 0) + 1
    warnings = list(plan.advice)
    for app, count in sorted(deletes.items()):
        total = plan.live_counts.get(app, 0)
        if count * 2 > total:
            label = f"app '{app}'" if app else "the instance-wide objects"
            warnings.append(
                f"this plan deletes {count} of {total} objects of {label}: "
                "apply needs --allow-mass-delete"
            )
    risky = [c for c in listed if c.action in (*WRITES, "conflict")]
    top = max(risky, key=lambda c: RISKS.index(c.risk), default=None)
    return plan.model_copy(
        update={
            "changes": tuple(listed),
            "summary": summary,
            "risk": top.risk if top is not None else "low",
            "risk_reason": top.risk_reason if top is not None else "",
            "warnings": tuple(warnings),
        }
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
    risk, cause = change_risk(registry, decision)
    claims, releases = key_tokens(registry, decision.desired, decision.live)
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
        risk=risk,
        risk_reason=cause,
        claims=claims,
        releases=releases,
        held_by=decision.held_by,
        desired=to_jsonable(desired.content) if desired is not None else None,
        desired_rev=desired.rev if desired is not None else None,
    )
