"""Three-way merge of a plan's conflicts: find each conflict's base, recover its content
from the instance's history or from Git, and merge field by field."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping

from appsync.canonical.revs import make_obj
from appsync.canonical.tree import parse_object
from appsync.diff.fields import diff_fields
from appsync.diff.merge import merge_contents
from appsync.errors import AppsyncError
from appsync.gitstore import GitRepo
from appsync.instance.connect import Instance
from appsync.instance.reader import read_history
from appsync.instance.state import read_history_contents
from appsync.kinds import Registry
from appsync.model import Obj, SyncState
from appsync.plan.builder import finalize
from appsync.plan.model import Change, FieldDiff, Plan, from_jsonable, to_jsonable

#: How many commits to search for a base that neither the instance nor the sync state names.
SEARCH_COMMITS = 200


class BaseFinder:
    """Recovers the content of an object at a given rev."""

    def __init__(
        self,
        registry: Registry,
        repo: GitRepo | None,
        instance: Instance,
        keys: list[tuple[str, str]],
    ) -> None:
        self.registry = registry
        self.repo = repo
        self.stored = read_history_contents(instance, registry, keys)
        self.instance_revs = read_history(instance, registry)

    def base_rev(self, change: Change, desired: Obj | None) -> str | None:
        """The newest rev both sides share: S.d, else the newest of D's history that the
        target's own history also holds."""
        if change.base_rev:
            return change.base_rev
        if desired is None:
            return None
        live_revs = {e.rev for e in self.instance_revs.get(change.key, [])}
        return next((h.rev for h in desired.history if h.rev in live_revs), None)

    def content(
        self, change: Change, rev: str, state: SyncState | None, desired: Obj | None
    ) -> dict[str, object] | None:
        spec = self.registry.get(change.kind)
        text = self.stored.get(change.key, {}).get(rev)
        if text is not None:
            binary = [f.name for f in spec.fields.values() if f.type == "bytes"]
            obj = make_obj(spec, from_jsonable(json.loads(text), binary))
            if obj.rev == rev:
                return obj.content
        if self.repo is None or desired is None or desired.path is None:
            return None
        commits: list[str] = []
        if state is not None and state.origin.startswith("git:"):
            commit = state.origin[4:].removesuffix("-dirty")
            if self.repo.has_commit(commit):
                commits.append(commit)
        commits += [c for c in self.repo.history(limit=SEARCH_COMMITS) if c not in commits]
        folder = posixpath.dirname(desired.path)
        for commit in commits:
            files = self.repo.files_at(commit, [folder])
            for path in files:
                if path.endswith(".json") and "." not in posixpath.basename(path)[:-5]:
                    try:
                        obj = parse_object(self.registry, spec, path, files)
                    except AppsyncError:
                        continue
                    if obj.id == change.id and obj.rev == rev:
                        return obj.content
        return None


def merge_conflicts(
    registry: Registry,
    plan: Plan,
    *,
    instance: Instance,
    repo: GitRepo | None,
    desired: Mapping[tuple[str, str], Obj],
    live: Mapping[tuple[str, str], Obj],
    states: Mapping[tuple[str, str], SyncState],
) -> Plan:
    """The plan with every mergeable conflict turned into an update of the merged content;
    conflicts that stay (same field changed on both sides, no base) say why."""
    conflicts = [c for c in plan.changes if c.action == "conflict" and c.key in live]
    if not conflicts:
        return plan
    finder = BaseFinder(registry, repo, instance, [c.key for c in conflicts])
    changes: list[Change] = []
    for change in plan.changes:
        if change.action != "conflict" or change.key not in live or change.key not in desired:
            changes.append(change)
            continue
        changes.append(
            _merge_one(
                registry,
                finder,
                change,
                desired[change.key],
                live[change.key],
                states.get(change.key),
            )
        )
    return finalize(plan, changes)


def _merge_one(
    registry: Registry, finder: BaseFinder, change: Change, d: Obj, lv: Obj, state: SyncState | None
) -> Change:
    spec = registry.get(change.kind)
    base_rev = finder.base_rev(change, d)
    base = finder.content(change, base_rev, state, d) if base_rev else None
    if base is None:
        return change.model_copy(update={"reason": f"{change.reason}; no common base to merge"})
    result = merge_contents(spec, base, lv.content, d.content)
    if not result.clean:
        return change.model_copy(
            update={
                "base_rev": base_rev,
                "reason": "changed on both sides (merge): " + ", ".join(result.conflicts),
            }
        )
    merged = make_obj(spec, result.content)
    kept = sorted({p for p, side in result.sides if side == "live"})
    fields = tuple(
        FieldDiff.of(f, side="repo") for f in diff_fields(lv.content, merged.content, spec)
    )
    reason = f"three-way merge with base {(base_rev or '')[:15]}"
    if kept:
        reason += "; kept from the target: " + ", ".join(kept)
    return change.model_copy(
        update={
            "action": "update" if merged.rev != lv.rev else "unchanged",
            "base_rev": base_rev,
            "fields": fields,
            "reason": reason,
            "merged": True,
            "desired": to_jsonable(merged.content),
            "desired_rev": merged.rev,
            "risk": spec.risk,
            "risk_reason": f"merges {change.label()}",
        }
    )
