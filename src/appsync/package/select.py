"""Which objects go into an app's package (a stage of pack), and which objects of a target
an import speaks for (a stage of import). Pure.

The app's own objects, plus every instance-wide object they refer to: declared references
and any string field that holds such an object's id (a workflow transition's roles, a
widget's role), followed transitively (a user included brings its roles). With
``include_holders``, instance-wide objects that refer to an included one come too (the users
holding the app's roles).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from appsync.kinds import Registry
from appsync.model import Obj, SyncState
from appsync.paths import values_at


def _strings(registry: Registry, obj: Obj) -> Iterator[str]:
    spec = registry.get(obj.kind)
    stack: list[Any] = [obj.content.get(f.name) for f in spec.content_fields if not f.sidecar]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def _refers_to(registry: Registry, obj: Obj, ids: set[str]) -> bool:
    for ref in registry.get(obj.kind).references:
        if any(isinstance(v, str) and v in ids for v in values_at(obj.content, ref.path)):
            return True
    return False


def _refers_by_field(registry: Registry, obj: Obj, own: list[Obj]) -> bool:
    """Whether ``obj`` names one of ``own`` by a field other than its id (a collection's
    name)."""
    for ref in registry.get(obj.kind).references:
        if ref.by == "id" or not ref.kind:
            continue
        names = {o.content.get(ref.by) for o in own if o.kind == ref.kind}
        if any(v in names for v in values_at(obj.content, ref.path) if isinstance(v, str)):
            return True
    return False


def package_objects(
    registry: Registry, objs: list[Obj], app_id: str, *, include_holders: bool = False
) -> list[Obj]:
    """The app ``app_id`` with its objects and the instance-wide objects it needs."""
    app_kind = registry.app.kind
    own = [
        o
        for o in objs
        if (o.kind == app_kind and o.id == app_id)
        or (registry.get(o.kind).scope == "app" and o.app_id == app_id)
    ]
    shared = {o.id: o for o in objs if registry.get(o.kind).scope == "instance"}
    chosen: dict[str, Obj] = {}
    # Instance-wide objects that are about the app (a policy's permissions on its
    # collections) belong with it; they bring what they refer to in turn.
    about = [o for o in shared.values() if _refers_by_field(registry, o, own)]
    chosen.update({o.id: o for o in about})
    todo = [*own, *about]
    while True:
        while todo:
            for text in _strings(registry, todo.pop()):
                found = shared.get(text)
                if found is not None and found.id not in chosen:
                    chosen[found.id] = found
                    todo.append(found)
        if not include_holders:
            break
        ids = set(chosen)
        holders = [
            o for o in shared.values() if o.id not in chosen and _refers_to(registry, o, ids)
        ]
        if not holders:
            break
        for holder in holders:
            chosen[holder.id] = holder
        todo = holders
    return own + sorted(chosen.values(), key=lambda o: (o.kind, o.id))


def package_scope(
    registry: Registry,
    objs: list[Obj],
    app_id: str,
    live: list[Obj],
    states: dict[tuple[str, str], SyncState],
) -> tuple[list[Obj], dict[tuple[str, str], SyncState]]:
    """The part of the target a package speaks for: its app's objects, the objects it
    carries, the objects it refers to, and those holding one of its conflict keys (a role
    name taken by another id). Everything else on the target is out of the plan; only the
    app's own objects can be pruned."""
    keys = {o.key for o in objs}
    referred: set[tuple[str, str]] = set()
    taken: set[tuple[str, str, Any]] = set()
    for obj in objs:
        spec = registry.get(obj.kind)
        for ref in spec.references:
            values = values_at(obj.content, ref.path)
            referred.update((ref.kind, v) for v in values if isinstance(v, str))
        for key in spec.conflict_keys:
            taken.add((obj.kind, key, _fold(obj.content.get(key))))

    def wanted(obj: Obj) -> bool:
        if obj.key in keys or obj.key in referred or obj.app_id == app_id:
            return True
        keys_of = registry.get(obj.kind).conflict_keys
        return any((obj.kind, k, _fold(obj.content.get(k))) in taken for k in keys_of)

    scoped = [o for o in live if wanted(o)]
    own = {o.key for o in scoped if o.key in keys or o.app_id == app_id}
    return scoped, {k: s for k, s in states.items() if k in own}


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value
