"""Field-level changes between two contents, from deepdiff, as :class:`FieldChange` values
with readable paths (``widgets[2].props.label``). No deepdiff type leaves this module."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ABSENT = object()


@dataclass(frozen=True)
class FieldChange:
    """One changed value: ``old`` is ``None`` for an added one, ``new`` for a removed one
    (``added``/``removed`` tell them apart from a real ``null``)."""

    path: str
    old: Any = None
    new: Any = None
    added: bool = False
    removed: bool = False


def readable_path(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("[") and part.endswith("]"):
            out += part  # an item of a keyed list: widgets[id=title]
        elif _IDENT.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def _display(value: Any) -> Any:
    if isinstance(value, bytes):
        digest = hashlib.sha256(value).hexdigest()[:12]
        return f"<{len(value)} bytes, sha256 {digest}>"
    return value


def diff_fields(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    """Every changed leaf between two contents, in path order."""
    changes: list[FieldChange] = []
    binary = {
        k
        for k in set(old) | set(new)
        if isinstance(old.get(k), bytes) or isinstance(new.get(k), bytes)
    }
    for key in sorted(binary):
        if old.get(key) != new.get(key):
            changes.append(FieldChange(key, _display(old.get(key)), _display(new.get(key))))
    plain_old = {k: v for k, v in old.items() if k not in binary}
    plain_new = {k: v for k, v in new.items() if k not in binary}
    tree = DeepDiff(plain_old, plain_new, verbose_level=2, view="tree")
    for report, levels in tree.items():
        for level in levels:
            path = readable_path(level.path(output_format="list"))
            t1 = _ABSENT if "added" in report else level.t1
            t2 = _ABSENT if "removed" in report else level.t2
            changes.append(
                FieldChange(
                    path=path,
                    old=None if t1 is _ABSENT else t1,
                    new=None if t2 is _ABSENT else t2,
                    added=t1 is _ABSENT,
                    removed=t2 is _ABSENT,
                )
            )
    changes.sort(key=lambda c: c.path)
    return changes
