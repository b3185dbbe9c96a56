"""Resolving a TARGET: an environment name from appsync.yaml or a database URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from appsync.bindings import Bindings
from appsync.config import CONFIG_FILE, Environment, load_config
from appsync.errors import ConfigError
from appsync.instance.connect import Instance, looks_like_url, open_instance
from appsync.instance.reader import read_recorded_bindings
from appsync.kinds import DEFAULT_PLATFORM, Registry, registry


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    environment: Environment | None = None
    bindings: Bindings = field(default_factory=Bindings)
    #: The platform the environment says the instance runs (None: as the database says).
    platform: str | None = None


def _anchor_sqlite(url: str, root: Path) -> str:
    """A relative SQLite path in appsync.yaml is relative to the repository, not to the
    folder appsync happens to run in."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        path = url[len(prefix) :]
        if path and not path.startswith(":"):
            return prefix + str((root / path).resolve())
    return url


def resolve_target(text: str, repo_root: Path | None) -> Target:
    if looks_like_url(text):
        return Target(name="", url=text)
    config = load_config(repo_root) if repo_root is not None else None
    if config is not None and repo_root is not None and text in config.environments:
        environment = config.environments[text]
        url = _anchor_sqlite(environment.expanded_url(text), repo_root)
        values, secret = environment.expanded_bindings(text)
        return Target(
            name=text,
            url=url,
            environment=environment,
            bindings=Bindings(text, values, frozenset(secret)),
            platform=config.platform_of(text),
        )
    where = f"{repo_root / CONFIG_FILE}" if repo_root is not None else CONFIG_FILE
    known = ", ".join(sorted(config.environments)) if config else ""
    hint = f" (known: {known})" if known else ""
    raise ConfigError(
        f"unknown target '{text}': not a database URL and no environment of that name "
        f"in {where}{hint}"
    )


def open_target(target: Target, *, read_only: bool = False) -> Instance:
    instance = open_instance(
        target.url, name=target.name or None, read_only=read_only, platform=target.platform
    )
    try:
        instance.bindings = target.bindings.with_previous(read_recorded_bindings(instance))
    except BaseException:
        instance.close()
        raise
    if target.environment is not None and not read_only:  # plan needs no API token
        try:
            instance.api = target.environment.expanded_api(target.name)
            instance.token = target.environment.expanded_token(target.name)
        except BaseException:
            instance.close()
            raise
    return instance


def tree_registry(repo_root: Path | None) -> Registry:
    """The registry of the tree in a repository: its appsync.yaml's platform."""
    config = load_config(repo_root) if repo_root is not None else None
    name = config.tree_platform if config is not None else None
    return registry(name or DEFAULT_PLATFORM)
