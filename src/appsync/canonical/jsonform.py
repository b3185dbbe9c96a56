"""JSON in its two canonical forms: RFC 8785 (JCS) for hashing, and the pretty, sorted,
newline-terminated form of the files in the tree."""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from appsync.errors import TreeError

_MAX_SAFE = 2**53 - 1


def _plain(value: Any) -> bool:
    """Whether ``json.dumps`` gives the JCS bytes for ``value``: no floats (JCS formats them
    the ECMAScript way), integers in the safe range, and keys without characters beyond the
    BMP (for BMP text, code point order is UTF-16 order)."""
    stack = [value]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is dict:
            for key, inner in item.items():
                if type(key) is not str or not (key.isascii() or max(key) <= "\uffff"):
                    return False
                push(inner)
        elif kind is list:
            extend(item)
        elif kind is int:
            if not -_MAX_SAFE <= item <= _MAX_SAFE:
                return False
        else:
            return False
    return True


def jcs(value: Any) -> bytes:
    """Serialize ``value`` as RFC 8785 JSON Canonicalization Scheme bytes.

    The ``rfc8785`` package is the reference; values it would serialize exactly like the
    standard library (no floats, see :func:`_plain`) take the C-accelerated ``json`` path,
    which the property tests check byte for byte against ``rfc8785``.
    """
    if _plain(value):
        try:
            text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            return text.encode("utf-8")
        except UnicodeEncodeError:
            pass  # lone surrogates: let rfc8785 report them
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
