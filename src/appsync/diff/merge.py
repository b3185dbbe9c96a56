"""Three-way merge of object contents, field by field. Pure.

Dicts merge key by key; keyed lists (widgets, columns, states... as the kind manifest says)
merge item by item, matched by their key rather than their position; any other value is
taken from the side that changed it. The same value changed differently on both sides is a
conflict at that path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from appsync.diff.fields import diff_fields, readable_path
from appsync.kinds import KeyedList, KindSpec

_MISSING = object()


@dataclass
class MergeResult:
    content: dict[str, Any]
    #: (readable path, side) for every value that differs from the base: "repo", "live"
    #: or "both" (the same change on each side).
    sides: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.conflicts


def merge_contents(
    spec: KindSpec, base: dict[str, Any], live: dict[str, Any], repo: dict[str, Any]
) -> MergeResult:
    result = MergeResult(content={})
    keyed = {n: f.keyed_list for n, f in spec.fields.items() if f.keyed_list is not None}
    for name in sorted(set(base) | set(live) | set(repo)):
        value = _merge(
            [name],
            base.get(name, _MISSING),
            live.get(name, _MISSING),
            repo.get(name, _MISSING),
            result,
            keyed.get(name),
        )
        if value is not _MISSING:
            result.content[name] = value
    return result


def _merge(
    path: list[str | int],
    b: Any,
    lv: Any,
    r: Any,
    result: MergeResult,
    key: KeyedList | None = None,
) -> Any:
    if lv == r:
        if lv != b:
            result.sides.append((readable_path(path), "both"))
        return lv
    if lv == b:
        _record(result, path, b, r, "repo", key)
        return r
    if r == b:
        _record(result, path, b, lv, "live", key)
        return lv
    if all(isinstance(v, dict) for v in (b, lv, r)):
        merged: dict[str, Any] = {}
        for name in sorted(set(b) | set(lv) | set(r)):
            value = _merge(
                [*path, name],
                b.get(name, _MISSING),
                lv.get(name, _MISSING),
                r.get(name, _MISSING),
                result,
            )
            if value is not _MISSING:
                merged[name] = value
        return merged
    if key is not None and all(_keyed(v, key) for v in (b, lv, r)):
        return _merge_keyed(path, b, lv, r, result, key)
    result.conflicts.append(readable_path(path))
    return r


def _record(
    result: MergeResult,
    path: list[str | int],
    old: Any,
    new: Any,
    side: str,
    key: KeyedList | None = None,
) -> None:
    """Note where one side changed ``old`` into ``new``: each changed leaf when both are
    dicts (or keyed lists, item by item), else the path itself."""
    if key is not None and _keyed(old, key) and _keyed(new, key):
        before = {repr(key.key_of(i)): i for i in old}
        after = {repr(key.key_of(i)): i for i in new}
        for k in dict.fromkeys([*before, *after]):
            item: Any = before.get(k, after.get(k))
            if before.get(k) != after.get(k):
                _record(
                    result,
                    [*path, f"[{key.label(item)}]"],
                    before.get(k, _MISSING),
                    after.get(k, _MISSING),
                    side,
                )
        return
    if isinstance(old, dict) and isinstance(new, dict):
        prefix = readable_path(path)
        for change in diff_fields(old, new):
            joiner = "" if change.path.startswith("[") else "."
            result.sides.append((f"{prefix}{joiner}{change.path}", side))
    else:
        result.sides.append((readable_path(path), side))


def _keyed(value: Any, key: KeyedList) -> bool:
    if not isinstance(value, list):
        return False
    keys = [key.key_of(item) for item in value if isinstance(item, dict)]
    return len(keys) == len(value) and len(set(map(repr, keys))) == len(keys)


def _merge_keyed(
    path: list[str | int],
    b: list[Any],
    lv: list[Any],
    r: list[Any],
    result: MergeResult,
    key: KeyedList,
) -> list[Any]:
    def index(items: list[Any]) -> dict[str, Any]:
        return {repr(key.key_of(item)): item for item in items}

    ib, il, ir = index(b), index(lv), index(r)
    merged: dict[str, Any] = {}
    for k in dict.fromkeys([*ir, *il, *ib]):
        item: Any = ib.get(k, il.get(k, ir.get(k)))
        item_path: list[str | int] = [*path, f"[{key.label(item)}]"]
        value = _merge(
            item_path, ib.get(k, _MISSING), il.get(k, _MISSING), ir.get(k, _MISSING), result
        )
        if value is not _MISSING:
            merged[k] = value
    order_b, order_l, order_r = list(ib), list(il), list(ir)

    def kept_base_order(order: list[str], present: dict[str, Any]) -> bool:
        return [k for k in order if k in ib] == [k for k in order_b if k in present]

    if kept_base_order(order_l, il):
        preferred = order_r
    elif kept_base_order(order_r, ir) or order_l == order_r:
        preferred = order_l
    else:
        result.conflicts.append(f"{readable_path(path)} (order)")
        preferred = order_r
    ordered = [k for k in preferred if k in merged]
    for other in (order_l, order_r):
        for position, k in enumerate(other):
            if k in merged and k not in ordered:
                before = next((p for p in reversed(other[:position]) if p in ordered), None)
                ordered.insert(ordered.index(before) + 1 if before is not None else 0, k)
    return [merged[k] for k in ordered]
