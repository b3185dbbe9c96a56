"""Per-environment defaults and protection (appsync.yaml): command-line options win over an
environment's defaults, which win over appsync's own."""

from __future__ import annotations

from typing import Any

from appsync.errors import UsageError
from appsync.usecases.targets import Target

DEFAULTS: dict[str, Any] = {"conflicts": "prompt", "transaction": "full", "prune": False}


def effective(target: Target, name: str, given: Any) -> Any:
    """The value of an option: as given, else the environment's default, else appsync's."""
    if given is not None:
        return given
    environment = target.environment
    configured = getattr(environment, name, None) if environment is not None else None
    return configured if configured is not None else DEFAULTS.get(name)


def check_protected(target: Target, *, dirty: bool, conflicts: str, force: bool) -> None:
    """A protected environment takes applies only from a clean commit, and never
    ``--conflicts overwrite`` without ``--force``."""
    if target.environment is None or not target.environment.protected:
        return
    if dirty:
        raise UsageError(
            f"environment '{target.name}' is protected: apply from a clean commit "
            "(commit or stash the changes in the work tree, or use --ref)"
        )
    if conflicts == "overwrite" and not force:
        raise UsageError(
            f"environment '{target.name}' is protected: --conflicts overwrite needs --force"
        )
