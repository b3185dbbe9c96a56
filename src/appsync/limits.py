"""Bounds for reading untrusted input: packages (sizes, compression ratio and entry count)
and tree files (each file and the whole tree).

``APPSYNC_MAX_IMPORT_SIZE`` bounds the archive file, every entry and the total of all
entries once decompressed (default 100 MB = 104,857,600 bytes; a plain number of bytes or a
number with K, M or G, binary multiples). ``APPSYNC_MAX_COMPRESSION_RATIO`` bounds how far
an entry may expand (default 200; real trees compress 3 to 20 times, zip bombs 1,000 times).

``APPSYNC_MAX_FILE_SIZE`` bounds each file of the canonical tree that plan, apply, export,
fmt and pack read, from the work tree or a Git revision (default 20 MB = 20,971,520 bytes),
``APPSYNC_MAX_TREE_SIZE`` all of them together (default 500 MB = 524,288,000 bytes); both in
the same notation. Sizes are checked before anything is read.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from appsync.errors import ConfigError
from appsync.fsio import Bounds, human

SIZE_ENV = "APPSYNC_MAX_IMPORT_SIZE"
RATIO_ENV = "APPSYNC_MAX_COMPRESSION_RATIO"
FILE_ENV = "APPSYNC_MAX_FILE_SIZE"
TREE_ENV = "APPSYNC_MAX_TREE_SIZE"
DEFAULT_MAX_FILE = 20 * 1024 * 1024
DEFAULT_MAX_TREE = 500 * 1024 * 1024
DEFAULT_MAX_SIZE = 100 * 1024 * 1024
DEFAULT_MAX_RATIO = 200
#: Entries may expand freely up to this many bytes (tiny files compress very well).
RATIO_FLOOR = 64 * 1024
MAX_ENTRIES = 100_000

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)(?:i?b)?\s*$", re.IGNORECASE)
_MULTIPLIER = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


@dataclass(frozen=True)
class Limits:
    max_size: int = DEFAULT_MAX_SIZE
    max_ratio: int = DEFAULT_MAX_RATIO
    max_entries: int = MAX_ENTRIES
    ratio_floor: int = RATIO_FLOOR


def parse_size(text: str, setting: str = SIZE_ENV) -> int:
    match = _SIZE.match(text)
    if not match or int(match.group(1)) <= 0:
        raise ConfigError(f"{setting}={text!r}: expected a size such as 104857600 or 100M")
    return int(match.group(1)) * _MULTIPLIER[match.group(2).lower()]


def _size_from_env(setting: str, default: int) -> int:
    text = os.environ.get(setting, "").strip()
    return parse_size(text, setting) if text else default


def tree_bounds() -> Bounds:
    """The bounds on tree files, from the environment."""
    return Bounds(
        max_file=_size_from_env(FILE_ENV, DEFAULT_MAX_FILE),
        max_total=_size_from_env(TREE_ENV, DEFAULT_MAX_TREE),
        file_setting=FILE_ENV,
        total_setting=TREE_ENV,
    )


def limits_from_env() -> Limits:
    size_text = os.environ.get(SIZE_ENV, "").strip()
    ratio_text = os.environ.get(RATIO_ENV, "").strip()
    size = parse_size(size_text) if size_text else DEFAULT_MAX_SIZE
    ratio = DEFAULT_MAX_RATIO
    if ratio_text:
        if not ratio_text.isdigit() or int(ratio_text) < 1:
            raise ConfigError(f"{RATIO_ENV}={ratio_text!r}: expected a whole number above 0")
        ratio = int(ratio_text)
    return Limits(max_size=size, max_ratio=ratio)


__all__ = ["Bounds", "Limits", "human", "limits_from_env", "parse_size", "tree_bounds"]
