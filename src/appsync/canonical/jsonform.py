"""JSON in its two canonical forms: RFC 8785 (JCS) for hashing, and the pretty, sorted,
newline-terminated form of the files in the tree."""

from __future__ import annotations

import json
import math
from typing import Any

import rfc8785

from appsync.errors import TreeError

_MAX_SAFE = 2**53 - 1
#: The deepest nesting any JSON appsync reads may have (tree files, packages, plans): real
#: objects nest about ten levels; deeper input is refused before it can exhaust the stack.
MAX_DEPTH = 64


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


def parse_json(data: bytes, where: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON bytes, naming ``where`` (a path) and the line in the error.

    The one parser for JSON from files (the tree, packages, saved plans): it refuses, with
    :class:`TreeError`, what a reader could take two ways or what could exhaust it —
    duplicate keys (the last would win unseen), ``NaN``/``Infinity`` and numbers out of
    range, and nesting deeper than ``max_depth`` levels.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TreeError(f"{where}: not UTF-8 (byte {exc.start})") from exc
    deep = f"{where}: JSON nested deeper than {max_depth} levels"
    try:
        value = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as exc:
        raise TreeError(f"{where}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    except RecursionError as exc:
        raise TreeError(deep) from exc
    except ValueError as exc:  # a duplicate key, a constant, a number out of range
        raise TreeError(f"{where}: invalid JSON: {exc}") from exc
    if data.count(b"[") + data.count(b"{") < max_depth:
        return value  # cannot nest deeper than it has brackets
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        # A value is one level below its container: a non-empty container on the last
        # level holds values beyond it.
        if depth > max_depth or (depth == max_depth and isinstance(item, dict | list) and item):
            raise TreeError(deep)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return result


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("a number is out of range")
    return number


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
