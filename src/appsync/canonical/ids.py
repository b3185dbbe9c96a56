"""Tree ids for objects a platform does not give a stable UUID (DESIGN section 2a). Pure.

A row keyed by a serial id or a name gets a UUID derived from its natural key; a singleton
and a built-in row (an Administrator role whose id differs per instance) get one derived from
their name. The same inputs give the same id on every instance and in every tree.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from appsync.canonical.jsonform import jcs
from appsync.kinds import KindSpec, Registry

NAMESPACE = uuid.UUID("1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633c")


def _derive(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def natural_id(registry: Registry, spec: KindSpec, content: Mapping[str, Any]) -> str:
    """The id of a ``natural`` object from its key fields' values (tree values)."""
    values = [content.get(k) for k in spec.identity.key]
    return _derive(registry.name, spec.kind, jcs(values).decode())


def singleton_id(registry: Registry, spec: KindSpec) -> str:
    return _derive(registry.name, spec.kind, "singleton")


def builtin_id(registry: Registry, spec: KindSpec, name: str) -> str:
    return _derive(registry.name, spec.kind, "builtin", name)


def child_id(parent_id: str, field: str, key: Any) -> str:
    """A child row's id derived from its parent's tree id and its key (access rows)."""
    return _derive(parent_id, field, jcs(key).decode())


def derived_id(registry: Registry, spec: KindSpec, content: Mapping[str, Any]) -> str | None:
    """The id an object must have when its kind derives ids, else ``None``."""
    if spec.identity.strategy == "natural":
        return natural_id(registry, spec, content)
    if spec.identity.strategy == "singleton":
        return singleton_id(registry, spec)
    return None


def project_app_id(registry: Registry) -> str | None:
    """The id of the one app of a platform whose project is its app."""
    if registry.platform.app_scope != "project":
        return None
    return singleton_id(registry, registry.app)
