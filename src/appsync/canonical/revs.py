"""Revs: ``sha256:`` + SHA-256 of the JCS form of an object's content (DESIGN section 3)."""

from __future__ import annotations

import hashlib
from typing import Any

from appsync.canonical.jsonform import jcs
from appsync.kinds import KindSpec
from appsync.model import HistoryEntry, Obj


def sort_set(values: Any) -> Any:
    """A JSON set in its canonical order: sorted by each member's JCS bytes."""
    if not isinstance(values, list):
        return values
    return sorted(values, key=jcs)


def sort_keyed(values: Any, key_of: Any) -> Any:
    """An unordered keyed list in its canonical order: sorted by each item's key."""
    if not isinstance(values, list):
        return values
    return sorted(values, key=lambda item: jcs(_jsonable(key_of(item))))


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def normalize(spec: KindSpec, content: dict[str, Any]) -> dict[str, Any]:
    """Every content field present (``None`` when absent), sets sorted, nothing else."""
    result: dict[str, Any] = {}
    for field in spec.content_fields:
        value = content.get(field.name)
        if field.set:
            value = sort_set(value)
        elif field.keyed_list is not None and not field.keyed_list.ordered:
            value = sort_keyed(value, field.keyed_list.key_of)
        result[field.name] = value
    return result


def hashable_content(content: dict[str, Any]) -> dict[str, Any]:
    """Content with binary values replaced by the hex SHA-256 of their bytes."""
    return {
        key: hashlib.sha256(value).hexdigest() if isinstance(value, bytes) else value
        for key, value in content.items()
    }


def rev_of(content: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(jcs(hashable_content(content))).hexdigest()


#: How a binding placeholder starts, as it appears in the JCS text of a value.
_PLACEHOLDER = b"${binding:"


def make_obj(
    spec: KindSpec,
    content: dict[str, Any],
    history: tuple[HistoryEntry, ...] = (),
    path: str | None = None,
    *,
    app_id: str | None = None,
) -> Obj:
    """Build a model object from raw field values: normalized, with its rev computed.
    ``app_id`` names the app of an app-scoped object whose platform stores none (the
    platform's one project is its app)."""
    normal = normalize(spec, content)
    text = jcs(hashable_content(normal))
    obj_id = str(normal["id"])
    if spec.scope == "app_root":
        app_id = obj_id
    elif spec.scope == "instance":
        app_id = None
    elif spec.app_field is not None:
        app_id = normal.get(spec.app_field)
    parts = [normal.get(f) for f in spec.slug_from]
    name = ".".join(str(p) for p in parts if p is not None) if len(parts) > 1 else parts[0]
    return Obj(
        kind=spec.kind,
        id=obj_id,
        content=normal,
        rev="sha256:" + hashlib.sha256(text).hexdigest(),
        placeholders=_PLACEHOLDER in text,
        history=history,
        name=str(name) if name is not None else "",
        app_id=str(app_id) if app_id is not None else None,
        path=path,
    )
