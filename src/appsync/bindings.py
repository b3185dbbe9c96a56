"""Environment bindings (DESIGN section 7): values that differ per environment, such as a
connector's base URL, live in the tree as placeholders ``${binding:NAME}``. Pure: no I/O.

Bindings act only in the fields a kind's manifest declares ``bindable`` — never in ids,
references, conflict keys or the keys of keyed lists — and a value is recognised only where
it stands as the whole value, or as a whole URL or host inside a longer string (followed by
a path, a query, a port or the end; never inside a longer host or token).

``unbind`` turns live values into placeholders (on export and before comparing live
state): the environment's values, and the values earlier applies wrote (``previous``, as
the target recorded them) — an object still holding an earlier value is marked, so the plan
updates it ("binding ERP_URL changed"). ``bind`` substitutes the environment's values on
apply; a placeholder is never written.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from appsync.canonical.revs import make_obj
from appsync.errors import ConfigError
from appsync.kinds import KindSpec, Registry
from appsync.model import Obj
from appsync.paths import map_at, values_at

PLACEHOLDER = re.compile(r"\$\{binding:([A-Za-z_][A-Za-z0-9_.-]*)\}")
_HOST = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:\d+)?$")
#: What may follow a URL or host inside a longer string: a path, a query, a fragment, a
#: port, the end, or punctuation that ends it.
_AFTER = r"(?=$|[/?#:\s\"'`,;)\]>])"


def placeholder(name: str) -> str:
    return "${binding:" + name + "}"


def _walk(value: Any, change: Any) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_walk(v, change) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v, change) for k, v in value.items()}
    return value


def names_in(value: Any) -> set[str]:
    """The binding names of every placeholder in a value (found in its JSON text: one C
    pass rather than a walk over every string)."""
    if isinstance(value, str):
        return set(PLACEHOLDER.findall(value)) if "${binding:" in value else set()
    text = json.dumps(value, ensure_ascii=False, default=_opaque)
    return set(PLACEHOLDER.findall(text)) if "${binding:" in text else set()


def _opaque(value: Any) -> str:
    return "" if isinstance(value, bytes) else str(value)


def _pattern(value: str) -> re.Pattern[str] | None:
    """Where ``value`` is recognised inside a longer string: a URL or a host, delimited.
    Other values are recognised only as a whole value."""
    after = "" if value.endswith(("/", "?", "#", "=")) else _AFTER
    if "://" in value:
        return re.compile(r"(?<![A-Za-z0-9+.-])" + re.escape(value) + after)
    if _HOST.match(value):
        return re.compile(r"(?<![A-Za-z0-9.-])" + re.escape(value) + after)
    return None


def digest(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Rebound:
    """A live object holds an earlier value of a binding: the plan updates it."""

    name: str
    old: str
    new: str


@dataclass(frozen=True)
class Bindings:
    """One environment's binding values by name. ``secret`` names values that come from
    variables (never shown, never recorded); ``previous`` has the values earlier applies
    wrote, newest first."""

    environment: str = ""
    values: Mapping[str, str] = field(default_factory=dict)
    secret: frozenset[str] = frozenset()
    previous: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.values)

    def with_previous(self, previous: Mapping[str, tuple[str, ...]]) -> Bindings:
        return replace(self, previous=dict(previous))

    # ------------------------------------------------------------------ unbind

    def _candidates(self) -> list[tuple[str, str, bool]]:
        """(name, value, current?) to recognise, longest values first."""
        found = [(n, v, True) for n, v in self.values.items() if v]
        for name, older in self.previous.items():
            for value in older:
                if value and value != self.values.get(name):
                    found.append((name, value, False))
        found.sort(key=lambda c: (-len(c[1]), c[0]))
        return found

    def _unbind_text(self, text: str, stale: dict[str, str]) -> str:
        if PLACEHOLDER.fullmatch(text):
            return text
        for name, value, current in self._candidates():
            if text == value:
                if not current:
                    stale.setdefault(name, value)
                return placeholder(name)
        for name, value, current in self._candidates():
            pattern = _pattern(value)
            if pattern is None:
                continue
            replaced, n = pattern.subn(placeholder(name).replace("\\", "\\\\"), text)
            if n:
                if not current:
                    stale.setdefault(name, value)
                text = replaced
        return text

    def unbind_content(
        self, spec: KindSpec, content: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Content with bound values turned into placeholders in its bindable fields, and
        the bindings it held at an earlier value (name -> that value)."""
        stale: dict[str, str] = {}
        if not (self.values or self.previous) or not spec.bindable:
            return content, stale
        for path in spec.bindable:
            content = map_at(
                content, path, lambda v: _walk(v, lambda t: self._unbind_text(t, stale))
            )
        return content, stale

    def unbind(self, registry: Registry, objs: Iterable[Obj]) -> list[Obj]:
        """Live objects with this environment's values turned into placeholders."""
        if not (self.values or self.previous):
            return list(objs)
        result = []
        for obj in objs:
            spec = registry.get(obj.kind)
            content, stale = self.unbind_content(spec, obj.content)
            if content != obj.content or stale:
                rebound = tuple(
                    Rebound(n, old, self.values.get(n, "")) for n, old in sorted(stale.items())
                )
                obj = make_obj(spec, content, obj.history, obj.path, app_id=obj.app_id)
                obj = replace(obj, rebound=rebound)
            result.append(obj)
        return result

    # ------------------------------------------------------------------ bind

    def _bind_text(self, text: str, values: Mapping[str, str]) -> str:
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)

    def bind_content(
        self, spec: KindSpec, content: dict[str, Any], values: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Content with the placeholders of its bindable fields substituted (with this
        environment's values, or ``values``)."""
        use = self.values if values is None else values
        if not use or not spec.bindable:
            return content
        for path in spec.bindable:
            content = map_at(content, path, lambda v: _walk(v, lambda t: self._bind_text(t, use)))
        return content

    # ------------------------------------------------------------------ checks

    def require(self, registry: Registry, objs: Iterable[Obj]) -> None:
        """Refuse, before anything is written, placeholders this environment has no value
        for, and placeholders outside the fields that take them: one problem per binding,
        naming the objects that use it."""
        objs = list(objs)
        users: dict[str, list[str]] = {}
        for obj in objs:
            spec = registry.get(obj.kind)
            inside: set[str] = set()
            for path in spec.bindable:
                for value in values_at(obj.content, path):
                    inside |= names_in(value)
            for name in sorted(inside - set(self.values)):
                users.setdefault(name, []).append(obj.path or f"{obj.kind} {obj.id}")
        problems = misplaced(registry, objs)
        if users:
            target = f"environment '{self.environment}'" if self.environment else "this target"
            problems += [
                f"binding '{name}' has no value for {target} (used by {', '.join(paths[:3])}"
                f"{'...' if len(paths) > 3 else ''})"
                for name, paths in sorted(users.items())
            ]
        if problems:
            raise ConfigError(problems[0], problems)

    def fingerprint(self) -> dict[str, str]:
        """What a saved plan records of these bindings: values, or digests of secret ones."""
        return {
            name: digest(value) if name in self.secret else value
            for name, value in sorted(self.values.items())
        }


def misplaced(registry: Registry, objs: Iterable[Obj]) -> list[str]:
    """Placeholders outside the fields that take bindings: they would never be bound."""
    problems = []
    for obj in objs:
        if not obj.placeholders or not names_in(obj.content):
            continue
        spec = registry.get(obj.kind)
        outside: Any = obj.content
        for path in spec.bindable:
            outside = map_at(outside, path, lambda _: None)
        stray = sorted(names_in(outside))
        if stray:
            allowed = ", ".join(spec.bindable) or "none"
            problems.append(
                f"{obj.path or f'{obj.kind} {obj.id}'}: ${{binding:{stray[0]}}} is in a field "
                f"that takes no bindings (bindable fields of {spec.kind}: {allowed})"
            )
    return problems


def unbound_placeholders(content: Any) -> set[str]:
    """Placeholders left in content about to be written (none may be)."""
    return names_in(content)
