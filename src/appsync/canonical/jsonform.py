"""JSON in its two canonical forms: RFC 8785 (JCS) for hashing, and the pretty, sorted,
newline-terminated form of the files in the tree."""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from appsync.errors import TreeError


def jcs(value: Any) -> bytes:
    """Serialize ``value`` as RFC 8785 JSON Canonicalization Scheme bytes."""
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise TreeError(f"cannot canonicalize value: {exc}") from exc


def canonical_json(value: Any) -> bytes:
    """The bytes of a tree file: UTF-8, keys sorted, two-space indent, ``\\n`` line ends,
    one final newline, non-ASCII kept, numbers in their shortest round-trip form."""
    text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def parse_json(data: bytes, where: str) -> Any:
    """Parse JSON bytes, naming ``where`` (a path) and the line in the error."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TreeError(f"{where}: not UTF-8 (byte {exc.start})") from exc
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise TreeError(f"{where}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc


def _reject_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)
