"""Environment bindings (DESIGN section 7): values that differ per environment, such as a
connector's base URL, live in the tree as placeholders ``${binding:NAME}``.

``unbind`` turns an environment's values back into placeholders (on export and before
comparing live state); ``bind`` substitutes them on apply. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from appsync.canonical.revs import make_obj
from appsync.errors import ConfigError
from appsync.kinds import Registry
from appsync.model import Obj

PLACEHOLDER = re.compile(r"\$\{binding:([A-Za-z_][A-Za-z0-9_.-]*)\}")


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
    found: set[str] = set()

    def collect(text: str) -> str:
        found.update(PLACEHOLDER.findall(text))
        return text

    _walk(value, collect)
    return found


@dataclass(frozen=True)
class Bindings:
    """One environment's binding values by name."""

    environment: str = ""
    values: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.values)

    def _unbind_text(self, text: str) -> str:
        for name, value in sorted(self.values.items(), key=lambda kv: -len(kv[1])):
            if value and value in text:
                text = text.replace(value, placeholder(name))
        return text

    def _bind_text(self, text: str) -> str:
        return PLACEHOLDER.sub(lambda m: self.values.get(m.group(1), m.group(0)), text)

    def unbind_content(self, content: dict[str, Any]) -> dict[str, Any]:
        return _walk(content, self._unbind_text) if self.values else content

    def bind_content(self, content: dict[str, Any]) -> dict[str, Any]:
        return _walk(content, self._bind_text) if self.values else content

    def unbind(self, registry: Registry, objs: Iterable[Obj]) -> list[Obj]:
        """Live objects with this environment's values turned into placeholders."""
        if not self.values:
            return list(objs)
        result = []
        for obj in objs:
            content = self.unbind_content(obj.content)
            if content != obj.content:
                spec = registry.get(obj.kind)
                obj = make_obj(spec, content, obj.history, obj.path, app_id=obj.app_id)
            result.append(obj)
        return result

    def require(self, objs: Iterable[Obj]) -> None:
        """Refuse, before anything is written, placeholders this environment has no value
        for: one problem per binding, naming the objects that use it."""
        users: dict[str, list[str]] = {}
        for obj in objs:
            for name in sorted(names_in(obj.content) - set(self.values)):
                users.setdefault(name, []).append(obj.path or f"{obj.kind} {obj.id}")
        if users:
            where = f"environment '{self.environment}'" if self.environment else "this target"
            problems = [
                f"binding '{name}' has no value for {where} (used by {', '.join(paths[:3])}"
                f"{'...' if len(paths) > 3 else ''})"
                for name, paths in sorted(users.items())
            ]
            raise ConfigError(problems[0], problems)
