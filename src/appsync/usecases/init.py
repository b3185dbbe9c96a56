"""init: a new Git repository with an appsync.yaml, a .gitattributes and a .gitignore,
committed."""

from __future__ import annotations

from pathlib import Path

from appsync.config.model import CONFIG_FILE, TEMPLATE
from appsync.errors import UsageError
from appsync.fsio import TEMP_SUFFIX, write_atomic
from appsync.gitstore import GitRepo, find_repo_root, init_repo, open_repo

GITIGNORE = ".gitignore"
GITATTRIBUTES = ".gitattributes"
ATTRIBUTES = "# appsync writes canonical bytes: keep them as they are on every platform.\n* -text\n"

#: What must never reach Git from an appsync repository, with why.
IGNORED: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Database files: a SQLite instance holds secrets (connector logins, user passwords).",
        ("*.db", "*.sqlite", "*.sqlite3", "*-journal", "*-wal", "*-shm"),
    ),
    (
        "Saved plans ('appsync plan --out') hold the content they would write.",
        (
            "*.plan.json",
            "plan.json",
            "plans/",
        ),
    ),
    ("Local state and environment files with secrets.", ("/.appsync/", "*.env", ".env")),
)
#: The folders appsync manages hold only tree files, whatever their names: a file object
#: named 'plan' or a sidecar ending in .db must never be ignored there.
KEEP = ("!/apps/**", "!/admin/**")
#: Temporary files of an interrupted atomic write (never a tree file: slugs start with a
#: letter or digit), ignored everywhere, so after KEEP.
TEMPS = f".*{TEMP_SUFFIX}"


def gitignore_lines() -> list[str]:
    lines = ["# Written by 'appsync init': keep secrets and local files out of Git."]
    for why, patterns in IGNORED:
        lines += ["", f"# {why}", *patterns]
    lines += [
        "",
        "# Everything under the folders appsync manages is tree content, never ignored...",
        *KEEP,
        "# ...but the temporary files of an interrupted appsync write.",
        TEMPS,
    ]
    return lines


def ensure_gitignore(root: Path) -> bytes:
    """The repository's .gitignore with every pattern appsync needs: written new, or the
    missing patterns added below an existing one (which is otherwise kept as it is).
    Returns the file's bytes (to commit)."""
    path = root / GITIGNORE
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    present = {line.strip() for line in existing.splitlines()}
    wanted = gitignore_lines()
    patterns = [line for line in wanted if line and not line.startswith("#")]
    if not existing:
        text = "\n".join(wanted) + "\n"
    elif all(p in present for p in patterns):
        return existing.encode("utf-8")
    else:
        missing = [p for p in patterns if p not in present and p not in (*KEEP, TEMPS)]
        added = ["", "# Added by appsync: keep secrets and local files out of Git.", *missing]
        added += [*KEEP, TEMPS]  # last, so that nothing above ignores a tree file
        text = existing.rstrip("\n") + "\n" + "\n".join(added) + "\n"
    data = text.encode("utf-8")
    write_atomic(path, data)
    return data


def init(path: Path) -> GitRepo:
    """A new repository with an appsync project at its top — or, inside an existing
    repository (a monorepo), a project in that folder, committed on its own."""
    if (path / CONFIG_FILE).exists():
        raise UsageError(f"{path / CONFIG_FILE} already exists")
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path} exists and is not a folder")
    known = next((f for f in [path, *path.absolute().parents] if f.is_dir()), None)
    existing = find_repo_root(known) if known is not None else None
    if existing is None:
        init_repo(path)
    else:
        path.mkdir(parents=True, exist_ok=True)
    files = {
        CONFIG_FILE: TEMPLATE.encode("utf-8"),
        GITATTRIBUTES: ATTRIBUTES.encode("utf-8"),
    }
    for name, data in files.items():
        write_atomic(path / name, data)
    files[GITIGNORE] = ensure_gitignore(path)
    repo = open_repo(path)
    where = f" in {repo.prefix}" if repo.prefix else ""
    message = "Add an appsync project" + where if existing else "Initialise appsync repository"
    repo.commit_paths(dict(files), message)
    return repo
