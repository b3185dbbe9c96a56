"""The typed model of appsync.yaml, validated with errors that name file, line and key."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from appsync import yamlio
from appsync.errors import ConfigError

CONFIG_FILE = "appsync.yaml"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

TEMPLATE = """\
# appsync.yaml: what this repository syncs, and where to.
version: 1

# Environments: a name and the database URL of its instance. A URL may name environment
# variables, e.g. url: ${APPSYNC_PROD_URL}; passwords are never printed. Add them with
# 'appsync env add NAME --url URL'.
environments: {}

# Apps to sync, by name; an empty list syncs every app on the instance.
apps: []
"""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Environment(_Model):
    url: str
    protected: bool = False
    conflicts: Literal["prompt", "overwrite", "skip", "merge"] | None = None
    transaction: Literal["full", "batch", "per-category"] | None = None
    prune: bool | None = None
    components: list[str] | None = None
    bindings: dict[str, str] = Field(default_factory=dict)

    def expanded_url(self, name: str) -> str:
        def repl(match: re.Match[str]) -> str:
            value = os.environ.get(match.group(1))
            if value is None:
                raise ConfigError(f"environment '{name}': variable {match.group(1)} is not set")
            return value

        return _VAR.sub(repl, self.url)


class AppsyncConfig(_Model):
    version: int = 1
    environments: dict[str, Environment] = Field(default_factory=dict)
    apps: list[str] = Field(default_factory=list)


def _line_of(document: Any, loc: tuple[int | str, ...]) -> int | None:
    node = document
    line: int | None = None
    for key in loc:
        try:
            lc = node.lc
            if isinstance(key, str) and key in node:
                line = lc.key(key)[0] + 1
            elif isinstance(key, int) and isinstance(node, list):
                line = lc.item(key)[0] + 1
            node = node[key]
        except (AttributeError, KeyError, IndexError, TypeError):
            break
    return line


def load_config(repo_root: Path) -> AppsyncConfig | None:
    """The repository's appsync.yaml, or ``None`` when it has none."""
    path = repo_root / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start})") from exc
    document = yamlio.load_round_trip(text, str(path))
    if document is None:
        return AppsyncConfig()
    try:
        return AppsyncConfig.model_validate(yamlio.load_text(text, str(path)))
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        line = _line_of(document, loc)
        where = f"{path}:{line}" if line else str(path)
        key = ".".join(str(p) for p in loc) or "(top level)"
        raise ConfigError(f"{where}: {key}: {error['msg']}") from exc
