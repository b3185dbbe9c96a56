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


def normalize(spec: KindSpec, content: dict[str, Any]) -> dict[str, Any]:
    """Every content field present (``None`` when absent), sets sorted, secrets dropped."""
    result: dict[str, Any] = {}
    for field in spec.content_fields:
        value = content.get(field.name)
        if field.set:
            value = sort_set(value)
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


def make_obj(
    spec: KindSpec,
    content: dict[str, Any],
    history: tuple[HistoryEntry, ...] = (),
    path: str | None = None,
) -> Obj:
    """Build a model object from raw field values: normalized, with its rev computed."""
    normal = normalize(spec, content)
    obj_id = str(normal["id"])
    app_id = obj_id if spec.scope == "app_root" else normal.get("app_id")
    name = normal.get(spec.slug_from)
    return Obj(
        kind=spec.kind,
        id=obj_id,
        content=normal,
        rev=rev_of(normal),
        history=history,
        name=str(name) if name is not None else "",
        app_id=str(app_id) if app_id is not None else None,
        path=path,
    )
