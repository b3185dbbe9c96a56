"""Editing appsync.yaml the way a person would: comments, blank lines and layout stay.

Every edit is validated as a whole file before it is written, so a command never leaves an
appsync.yaml that appsync itself would refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from appsync import yamlio
from appsync.config.model import CONFIG_FILE, AppsyncConfig, read_config_text
from appsync.errors import AppsyncError, ConfigError
from appsync.fsio import write_atomic
from appsync.instance.connect import literal_password, mask_url, with_password_variable

_NAME = re.compile(r"[^A-Za-z0-9]+")


def variable_for(name: str, what: str) -> str:
    """``APPSYNC_<NAME>_<WHAT>``: the variable to suggest for an environment's secret."""
    return f"APPSYNC_{_NAME.sub('_', name).strip('_').upper()}_{what}"


def refuse_literal_password(name: str, url: str) -> None:
    """A URL with a password in clear does not go into appsync.yaml, a file in Git: say
    what to write instead."""
    if not literal_password(url):
        return
    password = variable_for(name, "PASSWORD")
    whole = variable_for(name, "URL")
    raise ConfigError(
        f"the URL for environment '{name}' holds a password in clear, and appsync.yaml is "
        f"committed to Git: name a variable instead, --url "
        f"'{with_password_variable(url, password)}' (export {password}=...), or --url "
        f"'${{{whole}}}' (the whole URL in {whole}); --allow-literal-password writes it "
        "as given, for a local file that never leaves this machine"
    )


@dataclass(frozen=True)
class EnvironmentRow:
    name: str
    #: Masked: a literal password shows as ``***``.
    url: str
    protected: bool
    bindings: tuple[str, ...]
    #: The URL in appsync.yaml holds a password in clear.
    literal_password: bool = False


def _path(root: Path) -> Path:
    path = root / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: no such file (run 'appsync init' first)")
    return path


def _load(path: Path) -> Any:
    document = yamlio.load_round_trip(read_config_text(path), str(path))
    if document is None:
        document = CommentedMap()
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return document


def _save(path: Path, document: Any) -> None:
    text = yamlio.dump_round_trip(document)
    try:
        AppsyncConfig.model_validate(yamlio.load_text(text, str(path)))
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"])
        raise ConfigError(f"{path}: {key}: {error['msg']} (nothing written)") from exc
    try:
        write_atomic(path, text.encode("utf-8"))
    except AppsyncError as exc:
        raise ConfigError(str(exc)) from exc


def set_platform(root: Path, platform: str) -> None:
    """Record the repository's platform (``platform: directus``) right after ``version``."""
    path = _path(root)
    document = _load(path)
    if "platform" in document:
        document["platform"] = platform
    else:
        keys = list(document)
        at = keys.index("version") + 1 if "version" in keys else 0
        document.insert(at, "platform", platform)
    _save(path, document)


def add_environment(
    root: Path, name: str, settings: dict[str, Any], *, allow_literal_password: bool = False
) -> None:
    if not allow_literal_password:
        refuse_literal_password(name, str(settings.get("url", "")))
    path = _path(root)
    document = _load(path)
    environments = document.get("environments")
    if environments is None or (isinstance(environments, dict) and not environments):
        environments = CommentedMap()
        document["environments"] = environments
    if not isinstance(environments, dict):
        raise ConfigError(f"{path}: 'environments' must be a mapping")
    if name in environments:
        raise ConfigError(f"{path}: environment '{name}' already exists")
    entry = CommentedMap()
    for key, value in settings.items():
        if value is None or value == {} or value is False:
            continue
        entry[key] = CommentedMap(value) if isinstance(value, dict) else value
    trailing = _take_trailing(environments) if environments else None
    environments[name] = entry
    if trailing:
        _give_trailing(environments, trailing)
    _save(path, document)


def _last_leaf(mapping: Any) -> tuple[Any, Any]:
    key = list(mapping)[-1]
    value = mapping[key]
    if isinstance(value, CommentedMap) and value:
        return _last_leaf(value)
    return mapping, key


def _take_trailing(mapping: Any) -> str | None:
    """Detach the comment lines (and blank lines) that follow a mapping's last entry: in
    the file they introduce the next top-level key, so they must stay below new entries."""
    parent, key = _last_leaf(mapping)
    entry = parent.ca.items.get(key)
    if not entry or len(entry) < 3 or entry[2] is None:
        return None
    token = entry[2]
    same_line, _, rest = token.value.partition("\n")
    if not rest:
        return None
    token.value = same_line + "\n"
    return str(rest)


def _give_trailing(mapping: Any, text: str) -> None:
    parent, key = _last_leaf(mapping)
    entry = parent.ca.items.setdefault(key, [None, None, None, None])
    if entry[2] is not None:  # keep the comment on the entry's own line
        entry[2].value = entry[2].value + text
    else:
        entry[2] = CommentToken("\n" + text, CommentMark(0), None)


def remove_environment(root: Path, name: str) -> None:
    path = _path(root)
    document = _load(path)
    environments = document.get("environments")
    if not isinstance(environments, dict) or name not in environments:
        raise ConfigError(f"{path}: no environment '{name}'")
    trailing = _take_trailing(environments) if list(environments)[-1] == name else None
    del environments[name]
    if trailing and environments:
        _give_trailing(environments, trailing)
    elif trailing:
        keys = list(document)
        after = keys.index("environments") + 1
        if after < len(keys):
            entry = document.ca.items.setdefault(keys[after], [None, None, None, None])
            entry[1] = [CommentToken(trailing, CommentMark(0), None)]
    _save(path, document)


def list_environments(root: Path) -> list[EnvironmentRow]:
    from appsync.config.model import load_config

    config = load_config(root)
    if config is None:
        _path(root)
        return []
    return [
        EnvironmentRow(
            name,
            mask_url(env.url),
            env.protected,
            tuple(sorted(env.bindings)),
            literal_password(env.url),
        )
        for name, env in config.environments.items()
    ]
