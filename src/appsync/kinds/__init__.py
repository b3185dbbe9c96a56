"""Kinds as data: loads ``manifests/*.yaml`` into typed, frozen kind specs.

Everything downstream (schema, reader, writer, tree layout, validation, ordering) is generic
over these specs; adding a kind is adding a manifest.
"""

from __future__ import annotations

from appsync.kinds.spec import (
    CATEGORIES,
    FieldSpec,
    KindSpec,
    Reference,
    Registry,
    SidecarSpec,
    load_registry,
    registry,
)

__all__ = [
    "CATEGORIES",
    "FieldSpec",
    "KindSpec",
    "Reference",
    "Registry",
    "SidecarSpec",
    "load_registry",
    "registry",
]
