"""Field-level changes between two contents, from deepdiff, as :class:`FieldChange` values
with readable paths. No deepdiff type leaves this module.

Given the kind, lists are diffed the way the manifest says they mean: a keyed list item by
item by its key (``widgets[id=export]``: added, removed, or its own changed fields, and an
order change as one change), a set as members added and removed (``grants: + x``); other
values leaf by leaf (``definition.format.total``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from appsync.kinds import KeyedList, KindSpec

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ABSENT = object()
Op = Literal["add", "remove", "move"]


@dataclass(frozen=True)
class FieldChange:
    """One changed value: ``old`` is ``None`` for an added one, ``new`` for a removed one
    (``op`` tells them apart from a real ``null``; ``move`` is a keyed list's new order).
    ``item`` names a keyed list's item as a person would (its name, and its group)."""

    path: str
    old: Any = None
    new: Any = None
    op: Op | None = None
    item: str | None = None
    #: Where a keyed list's item sits, when its key is unique only there (``pane toolbar``).
    within: str | None = None

    @property
    def added(self) -> bool:
        return self.op == "add"

    @property
    def removed(self) -> bool:
        return self.op == "remove"


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


def _item_name(keyed: KeyedList, item: Any) -> str:
    """How a person names a keyed list's item: its name (or other label), else its key."""
    if not isinstance(item, dict):
        return repr(item)
    label = next(
        (str(item[k]) for k in ("name", "label", "field", "key") if isinstance(item.get(k), str)),
        None,
    )
    if label is None:
        label = ", ".join(str(item.get(k)) for k in keyed.key)
    return label


def _within(keyed: KeyedList, item: Any) -> str | None:
    if keyed.group is None or not isinstance(item, dict) or item.get(keyed.group) is None:
        return None
    return f"{keyed.group} {item[keyed.group]}"


def _unique_keys(items: Any, keyed: KeyedList) -> bool:
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return False
    keys = [repr(keyed.key_of(i)) for i in items]
    return len(set(keys)) == len(keys)


def _keyed_changes(
    name: str, old: list[Any], new: list[Any], keyed: KeyedList
) -> list[FieldChange]:
    before = {repr(keyed.key_of(i)): i for i in old}
    after = {repr(keyed.key_of(i)): i for i in new}
    changes: list[FieldChange] = []
    for key, item in before.items():
        if key not in after:
            path = f"{name}[{keyed.label(item)}]"
            changes.append(
                FieldChange(
                    path, item, None, "remove", _item_name(keyed, item), _within(keyed, item)
                )
            )
    for key, item in after.items():
        if key not in before:
            path = f"{name}[{keyed.label(item)}]"
            changes.append(
                FieldChange(path, None, item, "add", _item_name(keyed, item), _within(keyed, item))
            )
        elif not _same(before[key], item):
            prefix = f"{name}[{keyed.label(item)}]"
            for change in diff_fields(before[key], item):
                joiner = "" if change.path.startswith("[") else "."
                changes.append(
                    FieldChange(
                        f"{prefix}{joiner}{change.path}",
                        change.old,
                        change.new,
                        change.op,
                        change.item,
                    )
                )
    if keyed.ordered:
        common_before = [k for k in before if k in after]
        common_after = [k for k in after if k in before]
        if common_before != common_after:
            labels_before = [_item_name(keyed, before[k]) for k in common_before]
            labels_after = [_item_name(keyed, after[k]) for k in common_after]
            changes.append(FieldChange(f"{name} (order)", labels_before, labels_after, "move"))
    return changes


def _set_changes(name: str, old: Any, new: Any) -> list[FieldChange]:
    import json

    def members(value: Any) -> dict[str, Any]:
        if not isinstance(value, list):
            return {}
        return {json.dumps(v, sort_keys=True): v for v in value}

    before, after = members(old), members(new)
    changes = [
        FieldChange(name, v, None, "remove") for k, v in sorted(before.items()) if k not in after
    ]
    changes += [
        FieldChange(name, None, v, "add") for k, v in sorted(after.items()) if k not in before
    ]
    return changes


def _same(a: Any, b: Any) -> bool:
    """Whether two values are equal and of the same types all through: ``1``, ``1.0`` and
    ``true`` are equal in Python, and deepdiff reports them as changed types (or, inside a
    list, not at all)."""
    try:
        return _same_types(a, b)
    except RecursionError:
        return False  # nested past the stack: left to deepdiff


def _same_types(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_types(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_types(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def diff_fields(
    old: Mapping[str, Any], new: Mapping[str, Any], spec: KindSpec | None = None
) -> list[FieldChange]:
    """Every change between two contents; with ``spec``, keyed lists by key and sets by
    member. Sorted by path."""
    changes: list[FieldChange] = []
    plain_old, plain_new = dict(old), dict(new)
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if name in old and name in new and a == b and _same(a, b):
            del plain_old[name], plain_new[name]  # deepdiff need not walk it
            continue
        if isinstance(a, bytes) or isinstance(b, bytes):
            if a != b:
                changes.append(FieldChange(name, _display(a), _display(b)))
            plain_old.pop(name, None)
            plain_new.pop(name, None)
            continue
        field = spec.fields.get(name) if spec is not None else None
        if field is None or a == b:
            continue
        if field.keyed_list is not None and all(
            _unique_keys(v, field.keyed_list) for v in (a or [], b or [])
        ):
            changes += _keyed_changes(name, a or [], b or [], field.keyed_list)
        elif field.set and isinstance(a or [], list) and isinstance(b or [], list):
            changes += _set_changes(name, a, b)
        else:
            continue
        plain_old.pop(name, None)
        plain_new.pop(name, None)
    if not plain_old and not plain_new:
        return sorted(changes, key=lambda c: c.path)
    from deepdiff import DeepDiff  # only fields that differ get here: a no-op plan skips it

    tree = DeepDiff(plain_old, plain_new, verbose_level=2, view="tree")
    reported: set[Any] = set()
    for report, levels in tree.items():
        for level in levels:
            steps = level.path(output_format="list")
            if steps:
                reported.add(steps[0])
            path = readable_path(steps)
            t1 = _ABSENT if "added" in report else level.t1
            t2 = _ABSENT if "removed" in report else level.t2
            op: Op | None = "add" if t1 is _ABSENT else ("remove" if t2 is _ABSENT else None)
            changes.append(
                FieldChange(
                    path=path,
                    old=None if t1 is _ABSENT else t1,
                    new=None if t2 is _ABSENT else t2,
                    op=op,
                )
            )
    # deepdiff takes a list's 1 and true (or 0 and false) for the same item: such places
    # are found apart, and a field that still differs where nothing was seen is shown whole.
    shown = {c.path for c in changes}
    for name in plain_old.keys() & plain_new.keys():
        a, b = plain_old[name], plain_new[name]
        if _same(a, b):
            continue
        try:
            retyped = list(_retyped(a, b, [name]))
        except RecursionError:
            retyped = []
        for steps, x, y in retyped:
            path = readable_path(steps)
            if path not in shown:
                changes.append(FieldChange(path, x, y))
                reported.add(name)
        if name not in reported:
            changes.append(FieldChange(readable_path([name]), a, b))
    changes.sort(key=lambda c: c.path)
    return changes


def _retyped(a: Any, b: Any, steps: list[Any]) -> Iterator[tuple[list[Any], Any, Any]]:
    """The places where two values hold values equal in Python but of other JSON types
    (``1`` and ``true``), following keys both have and lists of one length."""
    if type(a) is not type(b):
        if a == b:
            yield steps, a, b
        return
    if isinstance(a, dict):
        for key in a.keys() & b.keys():
            yield from _retyped(a[key], b[key], [*steps, key])
    elif isinstance(a, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _retyped(x, y, [*steps, i])
