"""Paths into an object's content (``widgets[*].props.page_id``): read the values at a path,
or rewrite them. Pure; used by references, bindings, secrets and the storage mapping."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=4096)
def _steps(path: str) -> tuple[tuple[str, bool], ...]:
    """``widgets[*].props.page_id`` -> ``(("widgets", True), ("props", False), ...)``; a
    final empty part (``a.``) names the value itself."""
    heads = path.split(".")
    if heads[-1] == "":
        heads.pop()
    return tuple((h[:-3], True) if h.endswith("[*]") else (h, False) for h in heads)


def values_at(value: Any, path: str) -> list[Any]:
    """Values at a path such as ``widgets[*].props.page_id`` (missing: none), in document
    order. A level at a time, through the path's parts worked out once: references,
    bindings and secrets read it for every object of a tree."""
    current = [value]
    for name, star in _steps(path) if path else ():
        found: list[Any] = []
        for item in current:
            if isinstance(item, dict) and name in item:
                inner = item[name]
                if not star:
                    found.append(inner)
                elif isinstance(inner, list):
                    found.extend(inner)
        if not found:
            return found
        current = found
    return current


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
