"""Packages (DESIGN section 6): one app's canonical tree as a portable, checksummed ZIP.

``zipread`` reads untrusted archives within bounds, ``verify`` checks what they hold,
``extract`` writes a verified tree, ``select`` and ``layout`` build a package, ``zipwrite``
(the only ``zipfile`` user) writes it deterministically.
"""

from __future__ import annotations

from appsync.limits import Limits, limits_from_env
from appsync.package.extract import write_file, write_tree
from appsync.package.layout import (
    CHECKSUMS,
    IMPORT_CONFIG,
    METADATA,
    PACKAGE_FILES,
    README,
    SCHEMA_VERSION,
    AppInfo,
    ImportConfig,
    ImportOptions,
    Metadata,
)
from appsync.package.select import package_objects, package_scope
from appsync.package.verify import Verified, verify_entries
from appsync.package.zipread import Archive, read_archive
from appsync.package.zipwrite import zip_bytes

__all__ = [
    "CHECKSUMS",
    "IMPORT_CONFIG",
    "METADATA",
    "PACKAGE_FILES",
    "README",
    "SCHEMA_VERSION",
    "AppInfo",
    "Archive",
    "ImportConfig",
    "ImportOptions",
    "Limits",
    "Metadata",
    "Verified",
    "limits_from_env",
    "package_objects",
    "package_scope",
    "read_archive",
    "verify_entries",
    "write_file",
    "write_tree",
    "zip_bytes",
]
