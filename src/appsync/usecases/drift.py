"""drift: what changed on a target outside Git since appsync last applied to it.

Compares each live object with the rev its last apply produced (S.a): changed, deleted or
created on the target. Reads only; field diffs come from the content the instance recorded
for that rev, or from the repo when it holds the same rev.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from appsync.canonical.revs import make_obj
from appsync.canonical.tree import assign_paths
from appsync.clock import now_utc
from appsync.config import load_config
from appsync.diff.fields import diff_fields
from appsync.gitstore import GitRepo
from appsync.instance.connect import Instance
from appsync.instance.reader import read_snapshot
from appsync.instance.state import read_history_contents
from appsync.kinds import Registry
from appsync.model import Obj
from appsync.plan.model import FieldDiff, from_jsonable
from appsync.usecases.plan import app_ids, in_scope, load_desired
from appsync.usecases.select import Selected, Selection

DriftKind = Literal["changed", "deleted", "created", "kept"]
KINDS: tuple[str, ...] = ("changed", "deleted", "created", "kept")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DriftItem(_Frozen):
    app: str | None
    kind: str
    id: str
    name: str
    path: str | None
    drift: DriftKind
    applied_rev: str | None = None
    live_rev: str | None = None
    fields: tuple[FieldDiff, ...] = ()


class DriftReport(_Frozen):
    format_version: int = 1
    created_at: str
    target: str
    summary: dict[str, int]
    items: tuple[DriftItem, ...] = ()

    @property
    def has_drift(self) -> bool:
        return bool(self.items)


def find_drift(
    instance: Instance, repo: GitRepo, registry: Registry, *, select: Selection | None = None
) -> DriftReport:
    live, states = read_snapshot(instance, registry)
    config = load_config(repo.root)
    tree = load_desired(repo, registry).objs
    names = config.apps if config else []
    ids = app_ids(registry, names, tree, live) if names else None
    live = in_scope(registry, live, ids)
    have = {o.key: o for o in live}
    desired = {o.key: o for o in in_scope(registry, tree, ids)}
    app_names = {o.id: o.name for o in [*live, *desired.values()] if o.kind == registry.app.kind}
    paths = {**assign_paths(registry, live), **{k: o.path for k, o in desired.items() if o.path}}
    changed = [k for k, s in states.items() if k in have and have[k].rev != s.applied_rev]
    stored = read_history_contents(instance, registry, changed)

    items: list[DriftItem] = []
    for key in sorted(set(states) | set(have)):
        state, obj = states.get(key), have.get(key)
        if state is not None and obj is None:
            if key[0] in registry and _in_scope_key(key, desired, config):
                items.append(
                    _item(
                        key, None, desired.get(key), "deleted", state.applied_rev, app_names, paths
                    )
                )
        elif state is None and obj is not None:
            items.append(_item(key, obj, None, "created", None, app_names, paths))
        elif state is not None and obj is not None and obj.rev != state.applied_rev:
            before = _content_at(registry, key, state.applied_rev, stored, desired)
            fields = (
                tuple(
                    FieldDiff.of(f) for f in diff_fields(before, obj.content, registry.get(key[0]))
                )
                if before is not None
                else ()
            )
            items.append(
                _item(key, obj, None, "changed", state.applied_rev, app_names, paths, fields)
            )
        elif state is not None and obj is not None and state.applied_rev != state.desired_rev:
            # The target holds a version Git lacks (a hotfix kept with --conflicts skip, or a
            # merge): not drift since the last apply, but out of sync until Git has it.
            items.append(_item(key, obj, None, "kept", state.applied_rev, app_names, paths))
    if select:
        chosen = Selected(registry, select, tree, live)
        apps = {o.id: o.app_id for o in [*tree, *live]}
        items = [i for i in items if chosen.keeps((i.kind, i.id), apps.get(i.id), (i.path,))]
    summary = {k: sum(1 for i in items if i.drift == k) for k in KINDS}
    return DriftReport(
        created_at=now_utc(), target=instance.name, summary=summary, items=tuple(items)
    )


def _in_scope_key(key: tuple[str, str], desired: dict[tuple[str, str], Obj], config: Any) -> bool:
    return not (config and config.apps) or key in desired


def _content_at(
    registry: Registry,
    key: tuple[str, str],
    rev: str,
    stored: dict[tuple[str, str], dict[str, str]],
    desired: dict[tuple[str, str], Obj],
) -> dict[str, Any] | None:
    text = stored.get(key, {}).get(rev)
    spec = registry.get(key[0])
    if text is not None:
        binary = [f.name for f in spec.fields.values() if f.type == "bytes"]
        obj = make_obj(spec, from_jsonable(json.loads(text), binary))
        if obj.rev == rev:
            return obj.content
    in_repo = desired.get(key)
    return in_repo.content if in_repo is not None and in_repo.rev == rev else None


def _item(
    key: tuple[str, str],
    live: Obj | None,
    repo_obj: Obj | None,
    drift: DriftKind,
    applied_rev: str | None,
    app_names: dict[str, str],
    paths: dict[tuple[str, str], str],
    fields: tuple[FieldDiff, ...] = (),
) -> DriftItem:
    obj = live or repo_obj
    app_id = obj.app_id if obj else None
    return DriftItem(
        app=app_names.get(app_id) if app_id else None,
        kind=key[0],
        id=key[1],
        name=obj.name if obj else "",
        path=paths.get(key),
        drift=drift,
        applied_rev=applied_rev,
        live_rev=live.rev if live else None,
        fields=fields,
    )
