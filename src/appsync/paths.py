"""Paths into an object's content (``widgets[*].props.page_id``): read the values at a path,
or rewrite them. Pure; used by references, bindings, secrets and the storage mapping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


def values_at(value: Any, path: str) -> Iterator[Any]:
    """Values at a path such as ``widgets[*].props.page_id`` (missing: none)."""
    if not path:
        yield value
        return
    head, _, rest = path.partition(".")
    star = head.endswith("[*]")
    name = head[:-3] if star else head
    if not isinstance(value, dict) or name not in value:
        return
    inner = value[name]
    if star:
        if isinstance(inner, list):
            for item in inner:
                yield from values_at(item, rest)
    else:
        yield from values_at(inner, rest)


def map_at(value: Any, path: str, change: Callable[[Any], Any]) -> Any:
    """A copy of ``value`` with every value at ``path`` replaced by ``change(value)``; parts
    of the path that are absent are left absent."""
    if not path:
        return change(value)
    head, _, rest = path.partition(".")
    star = head.endswith("[*]")
    name = head[:-3] if star else head
    if not isinstance(value, dict) or name not in value:
        return value
    inner = value[name]
    if star:
        if not isinstance(inner, list):
            return value
        replaced: Any = [map_at(item, rest, change) for item in inner]
    else:
        replaced = map_at(inner, rest, change)
    return {**value, name: replaced}
