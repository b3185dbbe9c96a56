"""Credentials inside definitions (DESIGN section 2a): values of ordinary fields that are
secrets — a request operation's Authorization header, a token in a webhook URL. Pure.

A kind's manifest lists them as ``secrets`` (a path, optionally only where a sibling field
matches — the header's name — or where the value itself matches). Read from a live
instance, such a value becomes :data:`MARKER`, so it never reaches a tree, a package or a
plan, and two instances' secrets never differ in a plan. Written, a marker takes the target's
own value back (:func:`restore`); a binding placeholder there is written as the bound value;
where the target has no value, the plan says which object and field must be set by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from appsync.bindings import PLACEHOLDER, Bindings
from appsync.canonical.jsonform import jcs
from appsync.canonical.revs import make_obj
from appsync.kinds import KindSpec, Registry
from appsync.kinds.spec import SecretPath
from appsync.model import Obj

MARKER = "${secret}"
Locator = tuple[str, ...]


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and PLACEHOLDER.fullmatch(value) is not None


def _applies(secret: SecretPath, parent: dict[str, Any], value: Any) -> bool:
    if value is None or value == MARKER or _is_placeholder(value):
        return False
    for name, pattern in secret.where.items():
        sibling = parent.get(name)
        if not isinstance(sibling, str) or not re.fullmatch(pattern, sibling):
            return False
    if secret.pattern is not None:
        return isinstance(value, str) and re.search(secret.pattern, value) is not None
    return True


def _identity(spec: KindSpec | None, field: str, item: Any, top: bool, secret: str | None) -> str:
    """How an item of a list is found again on the other side: by its key in a keyed list
    of the kind, else by everything about it but the secret field itself."""
    if top and spec is not None:
        keyed = spec.fields[field].keyed_list if field in spec.fields else None
        if keyed is not None:
            return jcs(_jsonable(keyed.key_of(item))).decode()
    if isinstance(item, dict):
        return jcs({k: v for k, v in item.items() if k != secret}).decode()
    return jcs(item).decode()


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _walk(
    spec: KindSpec | None, value: Any, parts: list[str], where: Locator, top: bool
) -> Iterator[tuple[Locator, dict[str, Any], str]]:
    """(locator, parent dict, field) of every value at ``parts``."""
    if not isinstance(value, dict) or not parts:
        return
    head, rest = parts[0], parts[1:]
    star = head.endswith("[*]")
    name = head[:-3] if star else head
    if name not in value:
        return
    if not rest and not star:
        yield (*where, name), value, name
        return
    inner = value[name]
    if star:
        if isinstance(inner, list):
            secret = rest[0] if len(rest) == 1 else None
            for item in inner:
                key = _identity(spec, name, item, top, secret)
                yield from _walk(spec, item, rest, (*where, name, key), False)
    else:
        yield from _walk(spec, inner, rest, (*where, name), False)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def redact(spec: KindSpec, content: dict[str, Any]) -> dict[str, Any]:
    """Content with every secret value replaced by :data:`MARKER`."""
    if not spec.secrets:
        return content
    result: dict[str, Any] = _copy(content)
    for secret in spec.secrets:
        for _, parent, field in list(_walk(spec, result, secret.path.split("."), (), True)):
            if _applies(secret, parent, parent[field]):
                parent[field] = MARKER
    return result


def restore(spec: KindSpec, desired: dict[str, Any], live: dict[str, Any] | None) -> dict[str, Any]:
    """Desired content to write: each marker takes the live (raw) value at the same place,
    or null where the target has none — a marker is never written."""
    if not spec.secrets:
        return desired
    result: dict[str, Any] = _copy(desired)
    own: dict[Locator, Any] = {}
    if live is not None:
        for secret in spec.secrets:
            for locator, parent, field in _walk(spec, live, secret.path.split("."), (), True):
                own[locator] = parent[field]
    for secret in spec.secrets:
        for locator, parent, field in list(_walk(spec, result, secret.path.split("."), (), True)):
            if parent[field] == MARKER:
                parent[field] = own.get(locator)
    return result


def unset(spec: KindSpec, desired: dict[str, Any], live: dict[str, Any] | None) -> list[str]:
    """The secret places that the desired content leaves to the target but that the target
    has no value for (it must be set there by hand, or bound)."""
    missing: list[str] = []
    have: set[Locator] = set()
    if live is not None:
        for secret in spec.secrets:
            for locator, parent, field in _walk(spec, live, secret.path.split("."), (), True):
                if parent[field] == MARKER:
                    have.add(locator)
    for secret in spec.secrets:
        for locator, parent, field in _walk(spec, desired, secret.path.split("."), (), True):
            if parent[field] == MARKER and locator not in have:
                missing.append(secret.path)
    return sorted(set(missing))


def to_tree(registry: Registry, bindings: Bindings, objs: Iterable[Obj]) -> list[Obj]:
    """Live objects as the tree holds them: this environment's binding values turned into
    placeholders, then secrets into markers."""
    result = []
    for obj in bindings.unbind(registry, objs):
        spec = registry.get(obj.kind)
        if spec.secrets:
            content = redact(spec, obj.content)
            if content != obj.content:
                obj = make_obj(spec, content, obj.history, obj.path, app_id=obj.app_id)
        result.append(obj)
    return result
