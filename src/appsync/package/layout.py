"""The package layout of DESIGN section 6: metadata.json, import_config.json,
checksums.json and README.md beside the canonical tree. Pure: models, bytes, problems."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from appsync.canonical.jsonform import canonical_json
from appsync.choices import Environment, Mode, Strategy

FORMAT = "appsync-package"
#: The package schema this appsync writes; it reads every 1.x (a newer minor only adds).
#: 1.1 added ``source`` to metadata.json.
SCHEMA_VERSION = "1.1"
READS_MAJOR = 1
METADATA = "metadata.json"
IMPORT_CONFIG = "import_config.json"
CHECKSUMS = "checksums.json"
README = "README.md"
PACKAGE_FILES = (METADATA, IMPORT_CONFIG, CHECKSUMS, README)
TAG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$"
_VERSION = re.compile(r"^(\d+)\.(\d+)$")

Conflicts = Strategy
Transaction = Mode


class _Model(BaseModel):
    # Strict: "true" is not a boolean. Unknown keys are ignored so that a newer minor
    # schema version, which may only add keys, still reads.
    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")


class AppInfo(_Model):
    id: str
    name: str
    folder: str


class PackageSource(_Model):
    """Where a package's tree came from: a Git commit, and whether the package holds exactly
    what packing that commit gives (``clean``); or, for ``export --zip``, an instance."""

    commit: str | None = None
    clean: bool = False
    instance: str | None = None

    def describe(self) -> str:
        if self.commit:
            state = "clean" if self.clean else "with uncommitted changes"
            return f"packed from commit {self.commit[:12]} ({state})"
        if self.instance:
            return f"exported from instance {self.instance}, not from a commit"
        return "not packed from a Git commit"


class Metadata(_Model):
    format: Literal["appsync-package"] = "appsync-package"
    schema_version: str = Field(default=SCHEMA_VERSION, pattern=r"^\d+\.\d+$")
    appsync_version: str
    #: The platform whose tree the package holds (packages before platforms: reference).
    platform: str = Field(default="reference", pattern=r"^[a-z][a-z0-9_-]*$")
    app: AppInfo
    tag: str = Field(pattern=TAG_PATTERN)
    environment: Environment
    exported_at: str
    exported_by: str
    notes: str = ""
    objects: dict[str, int] = Field(default_factory=dict)
    #: Since schema 1.1; ``None`` in older packages (where the source is unknown).
    source: PackageSource | None = None


class ImportOptions(_Model):
    allow_role_creation: bool = True
    verify_integrity: bool = True
    include_audit: bool = True


class ImportConfig(_Model):
    conflicts: Conflicts = "prompt"
    transaction: Transaction = "full"
    options: ImportOptions = ImportOptions()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checksums_bytes(entries: Mapping[str, bytes]) -> bytes:
    files = {name: sha256(data) for name, data in sorted(entries.items())}
    return canonical_json({"algorithm": "sha256", "files": files})


def model_problems(entry: str, exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        problems.append(f"{entry}: {where}: {error['msg']}")
    return problems


def schema_problem(version: str) -> str | None:
    """Why this appsync cannot read a package of schema ``version``, if it cannot."""
    match = _VERSION.match(version)
    if match is None:
        return f"schema_version {version!r} is not MAJOR.MINOR"
    major = int(match.group(1))
    if major > READS_MAJOR:
        return (
            f"schema_version {version} is newer than this appsync reads "
            f"({READS_MAJOR}.x): upgrade appsync to import it"
        )
    if major < READS_MAJOR:
        return f"schema_version {version} is older than any this appsync reads ({READS_MAJOR}.x)"
    return None


def parse_checksums(data: Any) -> tuple[dict[str, str], list[str]]:
    """The SHA-256 per entry that checksums.json lists, and what is wrong with it."""
    if not isinstance(data, dict):
        return {}, [f"{CHECKSUMS}: expected a JSON object"]
    problems = []
    if data.get("algorithm") != "sha256":
        problems.append(f'{CHECKSUMS}: algorithm must be "sha256"')
    files = data.get("files")
    if not isinstance(files, dict):
        return {}, [*problems, f"{CHECKSUMS}: 'files' must be an object of entry -> SHA-256"]
    good: dict[str, str] = {}
    for name, digest in files.items():
        if isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest):
            good[name] = digest
        else:
            problems.append(f"{CHECKSUMS}: the checksum of {name!r} is not a SHA-256 hex digest")
    return good, problems


def metadata_bytes(metadata: Metadata) -> bytes:
    return canonical_json(metadata.model_dump(mode="json"))


def config_bytes(config: ImportConfig) -> bytes:
    return canonical_json(config.model_dump(mode="json"))


def readme(metadata: Metadata, config: ImportConfig, files: int) -> bytes:
    """README.md: for a person who finds the file, what is inside and how to import it."""
    app = metadata.app
    zip_name = f"{app.folder}-{metadata.tag}.zip"
    lines = [
        f"# {app.name} {metadata.tag}",
        "",
        f"An appsync package of the app **{app.name}** (`apps/{app.folder}/`), exported from a "
        f"{metadata.environment} instance at {metadata.exported_at} by {metadata.exported_by} "
        f"with appsync {metadata.appsync_version} (package schema {metadata.schema_version}).",
        "",
    ]
    if metadata.source is not None:
        lines[-1:-1] = [f"It was {metadata.source.describe()}."]
    if metadata.notes:
        lines += ["## Notes", "", *metadata.notes.splitlines(), ""]
    lines += ["## What is inside", "", "| kind | objects |", "|---|---:|"]
    lines += [f"| {kind} | {count} |" for kind, count in metadata.objects.items()]
    total = sum(metadata.objects.values())
    lines += [
        "",
        f"{total} objects in {files} files: the app's canonical tree under `apps/{app.folder}/` "
        "and the instance-wide objects it refers to under `admin/`. `metadata.json` describes "
        "the package, `import_config.json` holds the import defaults, `checksums.json` the "
        "SHA-256 of every other file. Passwords and credentials are never in a package.",
        "",
        "## How to import",
        "",
        "```sh",
        f"appsync verify {zip_name}            # integrity, structure, references",
        f"appsync import {zip_name} TARGET --dry-run   # apply, then roll back: a rehearsal",
        f"appsync import {zip_name} TARGET     # plan + apply, as 'appsync apply'",
        f"appsync unpack {zip_name} -o DIR     # the canonical tree, for Git",
        "```",
        "",
        f"TARGET is a database URL or an environment of appsync.yaml. Defaults from "
        f"`import_config.json`: conflicts `{config.conflicts}`, transaction "
        f"`{config.transaction}`, role creation "
        f"{'allowed' if config.options.allow_role_creation else 'refused'}; "
        "command-line options override them.",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")
