"""Kinds as data: loads ``manifests/<platform>/*.yaml`` into typed, frozen kind specs.

Everything downstream (schema, reader, writer, tree layout, validation, ordering) is generic
over these specs; adding a kind is adding a manifest.
"""

from __future__ import annotations

from appsync.kinds.load import (
    DEFAULT_PLATFORM,
    load_registry,
    manifests_dir,
    platform_names,
    registry,
)
from appsync.kinds.spec import (
    ChildSpec,
    FieldSpec,
    KeyedList,
    KindSpec,
    PlatformSpec,
    Reference,
    Registry,
    SidecarSpec,
)

__all__ = [
    "DEFAULT_PLATFORM",
    "ChildSpec",
    "FieldSpec",
    "KeyedList",
    "KindSpec",
    "PlatformSpec",
    "Reference",
    "Registry",
    "SidecarSpec",
    "load_registry",
    "manifests_dir",
    "platform_names",
    "registry",
]
