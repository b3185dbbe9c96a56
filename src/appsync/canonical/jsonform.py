"""JSON in its two canonical forms: RFC 8785 (JCS) for hashing, and the pretty, sorted,
newline-terminated form of the files in the tree."""

from __future__ import annotations

import json
import math
import re
from typing import Any, AnyStr

import orjson
import rfc8785

from appsync.errors import TreeError

#: Where a number may stand that JCS (or the tree's form) writes differently from the
#: standard library: after ``:``, ``[`` or ``,``, digits followed by a fraction or an
#: exponent, or sixteen digits. Cheap to search for (a bare number is looked at apart: an
#: anchor would slow the search down); text inside strings may match, which costs the
#: precise check below and nothing else.
_MAYBE_UNSAFE = re.compile(r"[:\[,]-?(?:\d+[.eE]|\d{16})")
#: The precise check: such a number as a whole JSON token (at the start, or after ``:``,
#: ``[`` or ``,``, and before ``,``, ``]``, ``}`` or the end).
_UNSAFE_NUMBER = re.compile(
    r"(?:^|[:\[,])-?(?:\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d{16,})(?=[,\]}]|$)"
)
#: Characters beyond the BMP: their keys sort differently in UTF-16 (JCS) and code points.
_NON_BMP = re.compile("[\U00010000-\U0010ffff]")
#: The deepest nesting any JSON appsync reads may have (tree files, packages, plans): real
#: objects nest about ten levels; deeper input is refused before it can exhaust the stack.
MAX_DEPTH = 64


def _unsafe_numbers(text: str) -> bool:
    """Whether compact JSON ``text`` holds a number with a fraction or an exponent, or an
    integer too long to be exact in a double."""
    return _has_unsafe_number(text, "-0123456789", _MAYBE_UNSAFE, _UNSAFE_NUMBER)


def _has_unsafe_number(
    data: AnyStr, digits: AnyStr, maybe: re.Pattern[AnyStr], exact: re.Pattern[AnyStr]
) -> bool:
    if data[:1] not in digits and maybe.search(data) is None:
        return False
    return exact.search(data) is not None


def _plain(text: str) -> bool:
    """Whether the standard library's compact, sorted serialization ``text`` is already the
    JCS form: no fractions or exponents, no integers too long to be exact in a double, no
    characters beyond the BMP."""
    if _unsafe_numbers(text):
        return False
    return text.isascii() or _NON_BMP.search(text) is None


#: The byte forms of the checks above, for orjson's output (UTF-8): a lead byte of a
#: four-byte sequence is a character beyond the BMP.
_MAYBE_UNSAFE_BYTES = re.compile(_MAYBE_UNSAFE.pattern.encode())
_UNSAFE_NUMBER_BYTES = re.compile(_UNSAFE_NUMBER.pattern.encode())
_NON_BMP_BYTES = re.compile(b"[\xf0-\xf4]")
#: A ``null`` token: orjson writes NaN and the infinities as ``null`` where JCS refuses
#: them, so output holding one is not taken from orjson.
_NULL_TOKEN = re.compile(rb"(?:^|[:\[,])null")
#: Values the standard library refuses (dates, dataclasses) make orjson refuse them too.
_COMPACT = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _plain_bytes(data: bytes, value: Any) -> bool:
    """:func:`_plain` for orjson's compact, sorted output of ``value``, whose every
    ``null`` must also stand for a ``None`` (orjson writes NaN and the infinities as
    ``null``): when it holds one, reading it back must give ``value`` (where ``value`` had
    a NaN, it gives ``None``, which no float equals)."""
    if _has_unsafe_number(data, b"-0123456789", _MAYBE_UNSAFE_BYTES, _UNSAFE_NUMBER_BYTES):
        return False
    if not (data.isascii() or _NON_BMP_BYTES.search(data) is None):
        return False
    if b"null" in data and _NULL_TOKEN.search(data) is not None:  # the find first: faster
        return bool(orjson.loads(data) == value)
    return True


def jcs(value: Any) -> bytes:
    """Serialize ``value`` as RFC 8785 JSON Canonicalization Scheme bytes.

    The ``rfc8785`` package is the reference. Values it would serialize exactly like
    orjson (no NaN or infinity, which orjson writes as ``null``, no floats or long
    integers, nothing beyond the BMP) take orjson; values it would serialize like the
    standard library (see :func:`_plain`) take the C-accelerated ``json`` path. The
    property tests check both byte for byte against ``rfc8785``.
    """
    try:
        data = orjson.dumps(value, option=_COMPACT)
        if _plain_bytes(data, value):
            return data
    except (TypeError, orjson.JSONEncodeError):
        pass  # a key that is not a string, a surrogate, a long integer: decided below
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
    one final newline, non-ASCII kept, numbers in their shortest round-trip form.

    The standard library's indenting encoder is pure Python; orjson writes the same bytes
    ten times faster for values without fractions, exponents or integers past 64 bits
    (tests/test_jcs.py checks byte for byte). The compact C encoder vets the value first:
    it refuses NaN and infinities (which orjson would write as ``null``) and shows whether
    any number needs the standard library's own spelling.
    """
    compact = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    if not _unsafe_numbers(compact):
        try:
            return orjson.dumps(value, option=_INDENTED)
        except (TypeError, orjson.JSONEncodeError):
            pass  # a key that is not a string, a surrogate: the standard library decides
    text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


_INDENTED = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


#: Nineteen digits in a row: an integer orjson may read as a float (past 64 bits). Found by
#: mapping every ASCII digit to ``0`` and every other byte to a space, then searching for
#: nineteen ``0`` (eight times faster than a regular expression over column text).
_LONG_DIGITS = b"0" * 19
_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))


def load_stored(data: str | bytes | bytearray | memoryview) -> Any:
    """JSON a database column holds, parsed as the standard library parses it, in C
    throughout: orjson reads it, unless it holds what orjson reads differently or refuses
    (an integer past 64 bits, which it would make a float; NaN; a lone surrogate), which
    the standard library reads. Anything but text or bytes is a :class:`TypeError`, as
    for ``json.loads``: SQLAlchemy counts on it to pass through a number that SQLite holds
    in a JSON column as a number."""
    if isinstance(data, memoryview | bytearray):
        data = bytes(data)  # psycopg hands over a buffer
    if isinstance(data, str):
        raw = data.encode("utf-8", "surrogatepass")
    elif isinstance(data, bytes):
        raw = data
    else:
        raise TypeError(f"the JSON object must be str or bytes, not {type(data).__name__}")
    if _LONG_DIGITS not in raw.translate(_DIGITS_ONLY):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


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
