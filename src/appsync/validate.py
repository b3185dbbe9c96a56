"""Validation of a desired tree before planning: every problem at once, nothing written.

Pure: it sees the desired objects and the ids present on the target, never a connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from appsync.kinds import KeyedList, Registry
from appsync.model import Obj
from appsync.paths import values_at


@dataclass
class Validation:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _where(obj: Obj) -> str:
    return obj.path or f"{obj.kind} {obj.id}"


def validate(
    registry: Registry,
    desired: list[Obj],
    live_ids: Iterable[tuple[str, str]],
    live: Iterable[Obj] = (),
) -> Validation:
    """Every problem of ``desired``; ``live_ids`` are the target's objects that remain (for
    references by id), ``live`` those objects themselves (for references by another field,
    such as a collection's name)."""
    result = Validation()
    present = set(live_ids) | {o.key for o in desired}
    remaining = [o for o in live if o.key in present]
    by_field = _field_index(registry, [*desired, *remaining])
    seen: dict[str, Obj] = {}
    for obj in desired:
        if obj.id in seen:
            result.errors.append(
                f"{_where(obj)}: duplicate id {obj.id} (also {_where(seen[obj.id])})"
            )
        else:
            seen[obj.id] = obj

    keys: dict[tuple[str, str, Any], Obj] = {}
    for obj in desired:
        spec = registry.get(obj.kind)
        for ref in spec.references:
            if ref.within is not None:
                local = set(map(_hashable, values_at(obj.content, ref.within)))
                for target in values_at(obj.content, ref.path):
                    if target is not None and _hashable(target) not in local:
                        result.errors.append(
                            f"{_where(obj)}: {ref.path} names {target}, which is not one of "
                            f"its own {ref.within} (a reference never leaves its object)"
                        )
                continue
            for target in values_at(obj.content, ref.path):
                if target is None or ref.is_builtin(target):
                    continue
                if ref.by == "id":
                    if (ref.kind, target) in present:
                        continue
                elif _hashable(target) in by_field.get((ref.kind, ref.by), set()):
                    continue
                message = (
                    f"{_where(obj)}: {ref.path} names {ref.kind} {target}, which is "
                    "neither in the repo nor on the target"
                )
                (result.warnings if ref.missing == "warn" else result.errors).append(message)
        for key in spec.conflict_keys:
            value = obj.content.get(key)
            if value is None:
                continue
            folded = value.lower() if isinstance(value, str) else value
            other = keys.setdefault((obj.kind, key, folded), obj)
            if other is not obj:
                result.errors.append(
                    f"{_where(obj)}: {obj.kind} {key} '{value}' is also used by {_where(other)}"
                )
        for name, fspec in spec.fields.items():
            if fspec.keyed_list is None:
                continue
            items = obj.content.get(name)
            if items is None:
                continue
            if not isinstance(items, list):
                result.errors.append(f"{_where(obj)}: '{name}' must be a list")
                continue
            _check_keyed(result, obj, name, items, fspec.keyed_list)
    return result


def _field_index(registry: Registry, objs: Iterable[Obj]) -> dict[tuple[str, str], set[Any]]:
    """The values of every field some reference names objects by (``collection``)."""
    wanted = {(ref.kind, ref.by) for spec in registry for ref in spec.references if ref.by != "id"}
    index: dict[tuple[str, str], set[Any]] = {w: set() for w in wanted}
    for obj in objs:
        for kind, name in wanted:
            if obj.kind == kind:
                index[(kind, name)].add(_hashable(obj.content.get(name)))
    return index


def keyed_list_problems(registry: Registry, objs: Iterable[Obj]) -> list[str]:
    """Keyed lists whose items lack their key or repeat one: what a platform's own tables
    may hold (Directus does not make a permission unique per policy, collection and action),
    but a tree cannot, since its items are told apart by key."""
    result = Validation()
    for obj in objs:
        for name, fspec in registry.get(obj.kind).fields.items():
            items = obj.content.get(name)
            if fspec.keyed_list is not None and isinstance(items, list):
                _check_keyed(result, obj, name, items, fspec.keyed_list)
    return result.errors


def _check_keyed(
    result: Validation, obj: Obj, name: str, items: list[Any], keyed: KeyedList
) -> None:
    seen: set[tuple[Any, Any]] = set()
    group = keyed.group
    key = keyed.key
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not all(k in item for k in key):
            missing = "', '".join(key)
            result.errors.append(f"{_where(obj)}: {name}[{i}] has no '{missing}'")
            continue
        scope = _hashable(item.get(group)) if group else None
        values = tuple([item[k] for k in key])
        plain = True
        for value in values:
            if not isinstance(value, _PLAIN):
                plain = False
                break
        ident = (scope, values if plain else _hashable(values))
        if ident in seen:
            within = f" within {group} '{scope}'" if group else ""
            first = key[0]
            what = keyed.label(item) if len(key) > 1 else f"{first} '{item[first]}'"
            result.errors.append(f"{_where(obj)}: {name}[{i}] repeats {what}{within}")
        seen.add(ident)


#: Values that are their own hashable form.
_PLAIN = (str, int, float, bool, type(None))


def _hashable(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_hashable(v) for v in value)
    return value if isinstance(value, _PLAIN) else repr(value)
