"""pack, unpack, verify and import: thin commands over the package use-cases."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from appsync.choices import ENVIRONMENTS, MODES, STRATEGIES
from appsync.cli.options import RESULT_FORMAT, apply_options
from appsync.errors import UsageError

if TYPE_CHECKING:
    from appsync.package import Verified
    from appsync.usecases.package import PackOptions, PackResult

# The engine is imported inside each command: 'appsync import --help' loads none of it.

OUT_FILE = click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The package file to write.",
)


def pack_options(command: Any) -> Any:
    """What a package says about itself, shared by pack and export --zip."""
    options = [
        click.option("--tag", help="Version tag  [default: tree-<digest of the tree>]"),
        click.option(
            "--environment",
            type=click.Choice(ENVIRONMENTS, case_sensitive=False),
            default="DEV",
            show_default=True,
            help="The environment the app comes from.",
        ),
        click.option("--notes", default="", help="Release notes for metadata.json and README."),
        click.option(
            "--exported-at",
            help="Time to record  [default: the newest history entry of the packed objects]",
        ),
        click.option(
            "--exported-by", help="Who exported it  [default: APPSYNC_ACTOR or user@host]"
        ),
        click.option(
            "--conflicts",
            type=click.Choice(STRATEGIES),
            default="prompt",
            show_default=True,
            help="import_config.json: the default conflict strategy of an import.",
        ),
        click.option(
            "--transaction",
            type=click.Choice(MODES),
            default="full",
            show_default=True,
            help="import_config.json: the default transaction mode of an import.",
        ),
        click.option(
            "--allow-role-creation/--no-allow-role-creation",
            default=True,
            show_default=True,
            help="import_config.json: may an import create roles the target lacks?",
        ),
        click.option(
            "--audit/--no-audit",
            default=True,
            show_default=True,
            help="Carry each object's history (its audit trail of revisions).",
        ),
        click.option(
            "--include-users",
            is_flag=True,
            help="Also pack the instance-wide objects that refer to the packed ones "
            "(the users holding the app's roles).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def pack_settings(options: dict[str, Any]) -> PackOptions:
    from appsync.package import ImportConfig, ImportOptions
    from appsync.usecases import package as package_uc

    config = ImportConfig(
        conflicts=options["conflicts"],
        transaction=options["transaction"],
        options=ImportOptions(
            allow_role_creation=options["allow_role_creation"],
            verify_integrity=True,
            include_audit=options["audit"],
        ),
    )
    return package_uc.PackOptions(
        tag=options["tag"],
        environment=options["environment"].upper(),
        notes=options["notes"],
        exported_at=options["exported_at"],
        exported_by=options["exported_by"],
        config=config,
        include_holders=options["include_users"],
    )


def report_pack(result: PackResult) -> None:
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    meta = result.metadata
    click.echo(
        f"Packed {meta.app.name} {meta.tag} ({meta.environment}): "
        f"{sum(meta.objects.values())} objects in {result.files} files, "
        f"{result.size:,} bytes -> {result.path}"
    )


@click.command("pack")
@click.argument("app_dir", type=click.Path(file_okay=False, path_type=Path))
@OUT_FILE
@pack_options
def pack_command(app_dir: Path, out: Path, **options: Any) -> None:
    """Pack APP_DIR (<repo>/apps/<app>) and the instance-wide objects it needs into a ZIP.

    \b
    Example:
      appsync pack apps/invoices -o invoices-1.2.0.zip --tag 1.2.0 --notes "VAT fix"
    """
    from appsync.gitstore import find_repo_root
    from appsync.usecases import package as package_uc
    from appsync.usecases.targets import tree_registry

    root = find_repo_root(app_dir if app_dir.is_dir() else Path("."))
    reg = tree_registry(root)
    report_pack(package_uc.pack_folder(reg, app_dir, out, pack_settings(options)))


def export_zip(
    target: str, repo_dir: Path, apps: tuple[str, ...], out: Path, tag: str | None
) -> None:
    """``export TARGET --app NAME --zip FILE``: one app straight from an instance."""
    from appsync.cli.sync_commands import target_for
    from appsync.usecases import package as package_uc
    from appsync.usecases.targets import open_target

    if len(apps) != 1:
        raise UsageError("--zip packs one app: name it with --app")
    resolved = target_for(target, repo_dir)
    options = package_uc.PackOptions(tag=tag)
    with open_target(resolved, read_only=True) as instance:
        result = package_uc.export_zip(instance, instance.registry, apps[0], out, options)
    report_pack(result)


def _describe(name: str, verified: Verified) -> str:
    """One line about a verified package; what it says about itself is escaped."""
    from appsync.package.names import show

    meta = verified.metadata
    assert meta is not None
    counts = ", ".join(f"{n} {k}" for k, n in meta.objects.items())
    source = f"; {meta.source.describe()}" if meta.source is not None else ""
    return show(
        f"{name}: app {meta.app.name} {meta.tag} ({meta.environment}), exported "
        f"{meta.exported_at} by {meta.exported_by}; {len(verified.objs)} objects in "
        f"{len(verified.tree)} files ({counts}); package schema {meta.schema_version}{source}"
    )


def _warn(verified: Verified) -> None:
    for warning in [*verified.warnings, *verified.reference_warnings]:
        click.echo(f"warning: {warning}", err=True)


@click.command("verify")
@click.argument("package", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--verify-integrity/--no-verify-integrity",
    default=None,
    help="Require checksums.json  [default: as import_config.json says]",
)
@RESULT_FORMAT
def verify_command(package: Path, verify_integrity: bool | None, result_format: str) -> None:
    """Check PACKAGE: integrity, structure, schema version, references. Exit 1 on problems.

    \b
    Example:
      appsync verify invoices-1.2.0.zip
      appsync verify invoices-1.2.0.zip --format json
    """
    from appsync.package.names import show
    from appsync.usecases import package as package_uc

    verified = package_uc.verify_package(None, package, integrity=verify_integrity)
    if result_format == "json":
        import json

        meta = verified.metadata
        assert meta is not None
        data = {
            "format_version": 1,
            "package": show(package.name),
            "ok": True,
            "metadata": meta.model_dump(mode="json"),
            "objects": len(verified.objs),
            "files": len(verified.tree),
            "warnings": [*verified.warnings, *verified.reference_warnings],
        }
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    _warn(verified)
    click.echo(f"OK {_describe(package.name, verified)}")


@click.command("unpack")
@click.argument("package", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A new or empty folder for the tree.",
)
def unpack_command(package: Path, out: Path) -> None:
    """Write PACKAGE's canonical tree into a new folder, after verifying all of it.

    \b
    Example:
      appsync unpack invoices-1.2.0.zip -o out/
    """
    from appsync.usecases import package as package_uc

    verified = package_uc.unpack(None, package, out)
    _warn(verified)
    click.echo(
        f"Unpacked {len(verified.tree)} files into {out}: {_describe(package.name, verified)}"
    )


@click.command("import")
@click.argument("package", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("target")
@click.option(
    "--allow-role-creation/--no-allow-role-creation",
    default=None,
    help="Create roles the target lacks  [default: as import_config.json says]",
)
@click.option(
    "--verify-integrity/--no-verify-integrity",
    default=None,
    help="Require checksums.json  [default: as import_config.json says]",
)
@click.option(
    "--prune/--no-prune",
    default=None,
    help="Delete the app's objects that appsync applied before and the package no longer "
    "holds  [default: no]",
)
@apply_options
def import_command(
    package: Path,
    target: str,
    allow_role_creation: bool | None,
    verify_integrity: bool | None,
    prune: bool | None,
    **options: Any,
) -> None:
    """Verify PACKAGE, then plan and apply it to TARGET (options and exit codes as apply;
    options left out come from appsync.yaml's environment, then import_config.json).
    \b
    Example:
      appsync import invoices-1.2.0.zip prod --yes
      appsync import invoices-1.2.0.zip prod --dry-run
    """
    from appsync.cli.console import Console
    from appsync.cli.sync_commands import finish_apply, target_for
    from appsync.usecases import package as package_uc
    from appsync.usecases.policy import check_protected, check_protected_package, effective
    from appsync.usecases.targets import open_target

    if options["write_merged"]:
        raise UsageError("--write-merged needs a work tree; unpack the package into Git first")
    verified = package_uc.verify_package(None, package, integrity=verify_integrity)
    for warning in verified.warnings:
        click.echo(f"warning: {warning}", err=True)
    resolved = target_for(target, options["repo_dir"])
    environment = resolved.environment

    def configured(name: str) -> Any:
        return getattr(environment, name, None) if environment is not None else None

    settings = package_uc.ImportSettings(
        conflicts=options["conflicts"],
        transaction=options["transaction"],
        allow_role_creation=allow_role_creation,
        allow_mass_delete=options["allow_mass_delete"],
        yes=options["yes"],
        dry_run=options["dry_run"],
        lock_timeout=options["lock_timeout"],
    )
    apply, roles = package_uc.apply_options(
        verified, settings, f"import {package.name}", configured
    )
    assert verified.metadata is not None
    check_protected_package(
        resolved, package=package.name, source=verified.metadata.source, force=options["force"]
    )
    check_protected(resolved, dirty=False, conflicts=apply.conflicts, force=options["force"])
    with open_target(resolved) as instance:
        reg = instance.registry
        if verified.registry is not reg:
            raise UsageError(
                f"{package.name} holds a {verified.registry.name if verified.registry else '?'} "
                f"app; {instance.target} is a {reg.name} instance"
            )
        outcome = package_uc.import_package(
            instance,
            reg,
            verified,
            apply,
            Console(show=options["result_format"] == "text"),
            prune=bool(effective(resolved, "prune", prune)),
            allow_role_creation=roles,
        )
    finish_apply(outcome, options["result_format"])
