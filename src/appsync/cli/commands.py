"""The commands of issue 2 onwards; each parses options, calls one use-case and prints."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from appsync.choices import MODES, STRATEGIES
from appsync.cli.options import REPO_OPTION, RESULT_FORMAT
from appsync.errors import TreeError, UsageError

if TYPE_CHECKING:
    from appsync.kinds import Registry
    from appsync.usecases.export import ExportResult

# The engine is imported inside each command: 'appsync export --help' loads none of it.


@click.command("init")
@click.argument("directory", type=click.Path(path_type=Path), default=Path("."))
def init_command(directory: Path) -> None:
    """Create a Git repository with an appsync.yaml in DIRECTORY — or, inside an existing
    repository, an appsync project in that folder (a monorepo may hold several).

    \b
    Example:
      appsync init myapps
      cd myapps && appsync env add dev --url sqlite:///dev.db
      appsync init platform/cms          # inside an existing repository
    """
    from appsync.usecases import init as init_uc

    repo = init_uc.init(directory)
    if repo.prefix:
        click.echo(f"Added an appsync project in {repo.prefix} of the repository {repo.top}")
    else:
        click.echo(f"Initialised appsync repository in {directory}")


@click.group("instance")
def instance_group() -> None:
    """Create reference instances, or adopt a platform's existing database.

    \b
    Example:
      appsync instance init sqlite:///dev.db --example
      appsync instance adopt prod
    """


@instance_group.command("init")
@click.argument("url")
@click.option("--example", is_flag=True, help="Seed the example invoices and contractors apps.")
def instance_init(url: str, example: bool) -> None:
    """Create the reference schema (and appsync's tables) in a new database at URL.

    \b
    Example:
      appsync instance init sqlite:///dev.db --example
      appsync instance init postgresql+psycopg://app@db/prod
    """
    from appsync.instance.admin import init_instance
    from appsync.instance.connect import mask_url
    from appsync.kinds import registry

    counts = init_instance(url, registry(), example=example)
    click.echo(f"Initialised instance {mask_url(url)}")
    if counts:
        summary = ", ".join(f"{n} {t}" for t, n in counts.items())
        click.echo(f"Seeded example: {summary}")


@instance_group.command("adopt")
@click.argument("target")
@REPO_OPTION
def instance_adopt(target: str, repo_dir: Path) -> None:
    """Add appsync's own tables to an existing platform database (Directus) at TARGET, an
    environment or a URL. Touches none of the platform's tables; safe to run again.
    \b
    Example:
      appsync instance adopt prod
      appsync instance adopt sqlite:///directus/data.db
    """
    from appsync.gitstore import find_repo_root
    from appsync.usecases.targets import open_target, resolve_target

    resolved = resolve_target(target, find_repo_root(repo_dir) or repo_dir)
    with open_target(resolved) as instance:
        added = instance.platform.adopt(instance)
        name = instance.platform.name
    what = "added appsync's tables" if added else "already adopted, nothing changed"
    click.echo(f"Adopted {instance.display} as a {name} instance: {what}.")


@click.command("export")
@click.argument("target")
@REPO_OPTION
@click.option("--app", "apps", multiple=True, help="Only this app (name or folder slug).")
@click.option("--components", help="Only these kinds, comma separated (e.g. query,page).")
@click.option("-m", "--message", help="Commit message.")
@click.option("--no-commit", is_flag=True, help="Write the tree but do not commit.")
@click.option(
    "--branch",
    help="Commit the live state on this new branch from HEAD; the current branch, index "
    "and work tree stay as they are (capture a hotfix for a pull request).",
)
@click.option("--force", is_flag=True, help="Overwrite uncommitted changes in the work tree.")
@click.option(
    "--zip",
    "zip_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the one --app as a package (ZIP) instead; no Git repository needed.",
)
@click.option("--tag", help="With --zip: the package's version tag.")
@RESULT_FORMAT
def export_command(
    target: str,
    repo_dir: Path,
    apps: tuple[str, ...],
    components: str | None,
    message: str | None,
    no_commit: bool,
    branch: str | None,
    force: bool,
    zip_file: Path | None,
    tag: str | None,
    result_format: str,
) -> None:
    """Write TARGET's apps into the canonical tree and commit them.

    \b
    Example:
      appsync export dev -m "Import from dev"
      appsync export prod --branch capture/prod-hotfix
      appsync export dev --app invoices --zip invoices.zip
      appsync export dev --format json
    """
    from appsync.config import load_config
    from appsync.gitstore import open_repo
    from appsync.usecases import export as export_uc
    from appsync.usecases.targets import open_target, resolve_target

    if zip_file is not None:
        if result_format == "json":
            raise UsageError("--format json reports a Git export; drop it with --zip")
        from appsync.cli.package_commands import export_zip

        export_zip(target, repo_dir, apps, zip_file, tag)
        return
    if branch and no_commit:
        raise UsageError("--branch always commits (on the new branch): drop --no-commit")
    repo = open_repo(repo_dir)
    resolved = resolve_target(target, repo.root)
    kinds = [c.strip() for c in components.split(",") if c.strip()] if components else None
    if kinds is None and resolved.environment is not None:
        kinds = resolved.environment.components
    config = load_config(repo.root)
    from_config = not apps and config is not None and bool(config.apps)
    if from_config and config is not None:
        apps = tuple(config.apps)
    with open_target(resolved, read_only=True) as instance:
        result = export_uc.export(
            instance,
            repo,
            instance.registry,
            apps=apps,
            components=kinds,
            message=message or (f"Capture {instance.name}" if branch else None),
            commit=not no_commit,
            branch=branch,
            force=force,
            strict_apps=not from_config,
        )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result_format == "json":
        click.echo(_export_json(result, instance.name, branch, committing=not no_commit))
        return
    if not result.changed:
        where = f"HEAD; branch '{branch}' not created" if branch else instance.name
        click.echo(f"No changes: {result.objects} objects already match {where}.")
        if result.commit:
            click.echo(f"Committed {result.commit[:12]} (changes already in the work tree).")
        return
    click.echo(
        f"Exported {result.objects} objects from {instance.name}: "
        f"{_count(len(result.written), 'file')} written, {len(result.removed)} removed."
    )
    if branch and result.commit:
        click.echo(f"Committed {result.commit[:12]} on new branch '{branch}'.")
    elif result.commit:
        click.echo(f"Committed {result.commit[:12]}.")
    else:
        click.echo("Not committed (--no-commit).")


def _export_json(result: ExportResult, source: str, branch: str | None, *, committing: bool) -> str:
    """What an export did, for machines (``--format json``): one document on stdout."""
    import json

    document = {
        "format_version": 1,
        "source": source,
        "objects": result.objects,
        "changed": result.changed,
        "written": result.written,
        "removed": result.removed,
        "commit": result.commit,
        "branch": branch,
        "committed": result.commit is not None,
        "no_commit": not committing,
        "warnings": result.warnings,
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@click.command("fmt")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--check", is_flag=True, help="Only report files not in canonical form (exit 1).")
def fmt_command(paths: tuple[Path, ...], check: bool) -> None:
    """Put object files under PATHS (default: .) into canonical form.

    \b
    Example:
      appsync fmt
      appsync fmt --check apps/invoices
    """
    from appsync.usecases import fmt as fmt_uc

    result = fmt_uc.fmt(_fmt_registry(paths), paths or (Path("."),), check=check)
    for path in result.changed:
        click.echo(f"{'would reformat' if check else 'reformatted'} {path}")
    if check and result.changed:
        click.echo(f"{len(result.changed)} of {result.checked} files not canonical", err=True)
        raise SystemExit(1)
    if not result.changed:
        click.echo(f"{result.checked} files already canonical")


@click.command("validate")
@REPO_OPTION
@click.option("--ref", help="Check the tree at this Git revision instead of the work tree.")
def validate_command(repo_dir: Path, ref: str | None) -> None:
    """Check the tree without a database: structure, references inside it, conflict keys,
    keyed lists, bindings, file kinds and sizes (for CI and pre-commit, no credentials).

    \b
    Example:
      appsync validate                 # the work tree; exit 1 with every problem
      appsync validate --ref origin/main
    """
    from appsync.gitstore import open_repo
    from appsync.usecases.check import check_tree
    from appsync.usecases.targets import tree_registry

    repo = open_repo(repo_dir)
    checked = check_tree(repo, tree_registry(repo.root), ref)
    for warning in checked.warnings:
        click.echo(f"warning: {warning}", err=True)
    if checked.problems:
        count = len(checked.problems)
        raise TreeError(f"{checked.problems[0]} ({count} problem(s))", checked.problems)
    click.echo(f"OK: {checked.objects} objects in {checked.files} files.")


@click.command("schema")
@click.option(
    "-o",
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".appsync/schemas"),
    show_default=True,
    help="The folder to write the schemas into.",
)
@REPO_OPTION
def schema_command(out: Path, repo_dir: Path) -> None:
    """Write a JSON Schema for each kind's object files (for editors), from the manifests
    of the repository's platform.

    \b
    Example:
      appsync schema -o .appsync/schemas
    """
    import json

    from appsync.gitstore import find_repo_root
    from appsync.kinds.schema import schemas
    from appsync.usecases.targets import tree_registry

    registry = tree_registry(find_repo_root(repo_dir))
    written = schemas(registry)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, schema in written.items():
            (out / name).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        raise UsageError(f"{out}: cannot write the schemas: {exc.strerror}") from exc
    click.echo(f"Wrote {len(written)} {registry.name} schemas into {out}.")


def _fmt_registry(paths: tuple[Path, ...]) -> Registry:
    """The platform of the repository the first path is in (reference outside one)."""
    from appsync.gitstore import find_repo_root
    from appsync.usecases.targets import tree_registry

    start = paths[0] if paths else Path(".")
    root = find_repo_root(start if start.is_dir() else start.parent)
    return tree_registry(root)


@click.group("env")
def env_group() -> None:
    """Manage the environments in appsync.yaml (comments and layout are kept).

    \b
    Example:
      appsync env add prod --url '${APPSYNC_PROD_URL}' --protected
      appsync env list
    """


@env_group.command("add")
@click.argument("name")
@click.option("--url", required=True, help="Database URL; may name variables: ${VAR}.")
@click.option(
    "--allow-literal-password",
    is_flag=True,
    help="Write a URL with a password in clear (a local file only: appsync.yaml is in Git).",
)
@click.option("--protected", is_flag=True, help="Apply only from a clean commit.")
@click.option("--conflicts", type=click.Choice(STRATEGIES))
@click.option("--transaction", type=click.Choice(MODES))
@click.option("--prune/--no-prune", default=None)
@click.option("--components", help="Default kinds to export, comma separated.")
@click.option(
    "--binding",
    "bindings",
    multiple=True,
    metavar="NAME=VALUE",
    help="A per-environment value, used as ${binding:NAME} in the tree.",
)
@REPO_OPTION
def env_add(
    name: str,
    url: str,
    allow_literal_password: bool,
    protected: bool,
    conflicts: str | None,
    transaction: str | None,
    prune: bool | None,
    components: str | None,
    bindings: tuple[str, ...],
    repo_dir: Path,
) -> None:
    """Add environment NAME to appsync.yaml.

    \b
    Example:
      appsync env add dev --url sqlite:///dev.db --binding ERP_URL=https://erp.dev.example.com
      appsync env add prod --url '${APPSYNC_PROD_URL}' --protected --conflicts prompt
    """
    from appsync.config.edit import add_environment
    from appsync.instance.connect import mask_url

    values: dict[str, str] = {}
    for item in bindings:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--binding '{item}' must be NAME=VALUE")
        values[key] = value
    settings = {
        "url": url,
        "protected": protected,
        "conflicts": conflicts,
        "transaction": transaction,
        "prune": prune,
        "components": [c.strip() for c in components.split(",")] if components else None,
        "bindings": values,
    }
    add_environment(repo_dir, name, settings, allow_literal_password=allow_literal_password)
    click.echo(f"Added environment {name} ({mask_url(url)}).")


@env_group.command("remove")
@click.argument("name")
@REPO_OPTION
def env_remove(name: str, repo_dir: Path) -> None:
    """Remove environment NAME from appsync.yaml.

    \b
    Example:
      appsync env remove staging
    """
    from appsync.config.edit import remove_environment

    remove_environment(repo_dir, name)
    click.echo(f"Removed environment {name}.")


@env_group.command("list")
@REPO_OPTION
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def env_list(repo_dir: Path, fmt: str) -> None:
    """List the environments in appsync.yaml (passwords masked).

    \b
    Example:
      appsync env list
      appsync env list --format json
    """
    import json

    from appsync.config.edit import list_environments

    rows = list_environments(repo_dir)
    if fmt == "json":
        click.echo(json.dumps([row.__dict__ for row in rows], indent=2))
        return
    if not rows:
        click.echo("No environments (add one with 'appsync env add NAME --url URL').")
    for row in rows:
        flags = " (protected)" if row.protected else ""
        bound = f"  bindings: {', '.join(row.bindings)}" if row.bindings else ""
        click.echo(f"{row.name:12} {row.url}{flags}{bound}")
    for row in rows:
        if row.literal_password:
            click.echo(
                f"warning: environment '{row.name}': its URL in appsync.yaml holds a password "
                "in clear; use ${VAR} placeholders (see 'appsync env add --help')",
                err=True,
            )


@click.command("demo")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def demo_command(directory: Path | None) -> None:
    """Play the whole story on SQLite in DIRECTORY (a new temporary folder by default).

    \b
    Example:
      appsync demo
      appsync demo ./try-appsync
    """
    from appsync.cli.demo import run_demo

    run_demo(directory)
