"""Resolving a TARGET: an environment name from appsync.yaml or a database URL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from appsync.config import CONFIG_FILE, Environment, load_config
from appsync.errors import ConfigError
from appsync.instance.connect import Instance, looks_like_url, open_instance


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    environment: Environment | None = None


def resolve_target(text: str, repo_root: Path | None) -> Target:
    if looks_like_url(text):
        return Target(name="", url=text)
    config = load_config(repo_root) if repo_root is not None else None
    if config is not None and text in config.environments:
        environment = config.environments[text]
        return Target(name=text, url=environment.expanded_url(text), environment=environment)
    where = f"{repo_root / CONFIG_FILE}" if repo_root is not None else CONFIG_FILE
    known = ", ".join(sorted(config.environments)) if config else ""
    hint = f" (known: {known})" if known else ""
    raise ConfigError(
        f"unknown target '{text}': not a database URL and no environment of that name "
        f"in {where}{hint}"
    )


def open_target(target: Target, *, read_only: bool = False) -> Instance:
    return open_instance(target.url, name=target.name or None, read_only=read_only)
