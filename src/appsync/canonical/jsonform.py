"""JSON in its two canonical forms: RFC 8785 (JCS) for hashing, and the pretty, sorted,
newline-terminated form of the files in the tree."""

from __future__ import annotations

import json
import re
from typing import Any

import rfc8785

from appsync.errors import TreeError

#: A number where numbers stand (at the start, or after ``:``, ``[`` or ``,``, and before
#: ``,``, ``]``, ``}`` or the end). Text inside a string may look like one; that only costs
#: the slow path, never a wrong result.
_NUMBER = re.compile(r"(?:^|[:\[,])(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?=[,\]}]|$)")
#: Characters beyond the BMP: their keys sort differently in UTF-16 (JCS) and code points.
_NON_BMP = re.compile("[\U00010000-\U0010ffff]")
_SAFE_DIGITS = 15


def _plain(text: str) -> bool:
    """Whether the standard library's compact, sorted serialization ``text`` is already the
    JCS form: no fractions or exponents, no integers too long to be exact in a double, no
    characters beyond the BMP."""
    if _NON_BMP.search(text):
        return False
    for match in _NUMBER.finditer(text):
        token = match.group(1)
        if "." in token or "e" in token or "E" in token or len(token.lstrip("-")) > _SAFE_DIGITS:
            return False
    return True


def jcs(value: Any) -> bytes:
    """Serialize ``value`` as RFC 8785 JSON Canonicalization Scheme bytes.

    The ``rfc8785`` package is the reference; values it would serialize exactly like the
    standard library (no floats, see :func:`_plain`) take the C-accelerated ``json`` path,
    which the property tests check byte for byte against ``rfc8785``.
    """
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        if _plain(text):
            return text.encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError):
        pass  # let rfc8785 say what is wrong
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
