"""The only module that imports ruamel.yaml: load and dump YAML, translating its errors."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from appsync.errors import ConfigError


def _safe() -> YAML:
    return YAML(typ="safe", pure=True)


def _round_trip() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def load_text(text: str, where: str) -> Any:
    """Parse YAML text into plain Python values; ``where`` names the source in errors."""
    try:
        return _safe().load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}{line}: invalid YAML: {problem}") from exc
    except ValueError as exc:  # a tagged value that is not one (!!int abc, 2001-13-45)
        raise ConfigError(f"{where}: invalid YAML: {exc}") from exc


def load_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    return load_text(text, str(path))


def load_round_trip(text: str, where: str) -> Any:
    """Parse YAML keeping comments and layout, for files that people and appsync both edit."""
    try:
        return _round_trip().load(text)
    except (YAMLError, ValueError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where}{line}: invalid YAML") from exc


def dump_round_trip(data: Any) -> str:
    buffer = io.StringIO()
    _round_trip().dump(data, buffer)
    return buffer.getvalue()
