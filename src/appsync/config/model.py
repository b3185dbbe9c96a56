"""The typed model of appsync.yaml, validated with errors that name file, line and key."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from appsync import yamlio
from appsync.choices import Mode, Strategy
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
    #: The platform the instance runs (``reference``, ``directus``); default: the file's.
    platform: str | None = None
    #: The running platform's API, told about applies (``https://cms.example.com``), and
    #: its admin token: always from a variable (``${DIRECTUS_TOKEN}``), never literal.
    api: str | None = None
    token: str | None = None
    protected: bool = False
    conflicts: Strategy | None = None
    transaction: Mode | None = None
    prune: bool | None = None
    components: list[str] | None = None
    bindings: dict[str, str] = Field(default_factory=dict)

    def expanded_url(self, name: str) -> str:
        return _expand(self.url, name, "url")

    def expanded_bindings(self, name: str) -> tuple[dict[str, str], set[str]]:
        """Binding values with their variables expanded, and the names of those that came
        from a variable (secrets: never shown or recorded)."""
        values = {k: _expand(v, name, f"bindings.{k}") for k, v in self.bindings.items()}
        return values, {k for k, v in self.bindings.items() if _VAR.search(v)}

    def expanded_api(self, name: str) -> str | None:
        return _expand(self.api, name, "api") if self.api else None

    def expanded_token(self, name: str) -> str | None:
        return _expand(self.token, name, "token") if self.token else None


def _expand(text: str, name: str, key: str) -> str:
    where = f"environment '{name}': " + ("" if key == "url" else f"{key}: ")

    def repl(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is None:
            raise ConfigError(f"{where}variable {match.group(1)} is not set")
        if not value:
            # What CI gives a job that may not read the secret (a fork's pull request).
            raise ConfigError(
                f"{where}variable {match.group(1)} is empty "
                "(in CI: is its secret available to this job?)"
            )
        return value

    return _VAR.sub(repl, text)


class AppsyncConfig(_Model):
    version: int = 1
    #: The platform of every environment that does not name one (default: reference).
    platform: str | None = None
    environments: dict[str, Environment] = Field(default_factory=dict)
    apps: list[str] = Field(default_factory=list)

    @field_validator("environments")
    @classmethod
    def _token_from_variable(cls, value: dict[str, Environment]) -> dict[str, Environment]:
        for name, env in value.items():
            if env.token and not _VAR.fullmatch(env.token.strip()):
                raise ValueError(
                    f"{name}: token must name a variable (token: ${{DIRECTUS_TOKEN}}), "
                    "never hold the token itself"
                )
        return value

    def platform_of(self, name: str) -> str | None:
        """The platform an environment runs: its own, else the file's."""
        env = self.environments.get(name)
        return (env.platform if env is not None else None) or self.platform

    @property
    def tree_platform(self) -> str | None:
        """The one platform of the tree this repository holds, where the file names one
        (at the top or per environment, all agreeing); None where it names none."""
        found = {p for n in self.environments if (p := self.platform_of(n))}
        if self.platform:
            found.add(self.platform)
        if len(found) > 1:
            raise ConfigError(
                f"{CONFIG_FILE}: environments run different platforms "
                f"({', '.join(sorted(found))}); one repository holds the tree of one platform"
            )
        return next(iter(found), None)


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


def read_config_text(path: Path) -> str:
    """appsync.yaml's text; a file that cannot be read or is not UTF-8 is one error line."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start})") from exc


def load_config(repo_root: Path) -> AppsyncConfig | None:
    """The repository's appsync.yaml, or ``None`` when it has none."""
    path = repo_root / CONFIG_FILE
    if not path.is_file():
        return None
    text = read_config_text(path)
    data = yamlio.load_text(text, str(path))
    if data is None:
        return AppsyncConfig()
    try:
        return AppsyncConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        # Parsed again keeping positions, only to name the line (half of every command's
        # time spent on appsync.yaml went to that second parse).
        line = _line_of(yamlio.load_round_trip(text, str(path)), loc)
        where = f"{path}:{line}" if line else str(path)
        key = ".".join(str(p) for p in loc) or "(top level)"
        raise ConfigError(f"{where}: {key}: {error['msg']}") from exc
