"""Per-environment defaults and protection (appsync.yaml): command-line options win over an
environment's defaults, which win over appsync's own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from appsync.errors import UsageError
from appsync.usecases.targets import Target

if TYPE_CHECKING:  # the package modules load only for the commands that read packages
    from appsync.package.layout import PackageSource

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


def check_protected_package(
    target: Target, *, package: str, source: PackageSource | None, force: bool
) -> None:
    """A protected environment takes imports only of packages packed from a clean commit
    (as it takes applies only from one), unless ``--force``. What metadata.json says is not
    proof (whoever edits a package can recompute its checksums): this guards against
    mistakes, such as packing a folder with uncommitted edits."""
    if target.environment is None or not target.environment.protected or force:
        return
    if source is not None and source.commit and source.clean:
        return
    if source is None:
        why = "does not say which commit it was packed from (an older appsync made it)"
    elif source.commit:
        why = (
            f"was packed from commit {source.commit[:12]} with uncommitted changes "
            "(commit them, then pack again)"
        )
    elif source.instance:
        why = f"was exported from instance {source.instance}, not packed from a commit"
    else:
        why = "was not packed from a Git commit"
    raise UsageError(
        f"environment '{target.name}' is protected: it takes imports only of packages packed "
        f"from a clean commit, and {package} {why}; --force imports it anyway"
    )
