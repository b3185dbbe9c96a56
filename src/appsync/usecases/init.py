"""init: a new Git repository with an appsync.yaml, committed."""

from __future__ import annotations

from pathlib import Path

from appsync.config.model import CONFIG_FILE, TEMPLATE
from appsync.errors import UsageError
from appsync.gitstore import GitRepo, init_repo


def init(path: Path) -> GitRepo:
    if (path / CONFIG_FILE).exists():
        raise UsageError(f"{path / CONFIG_FILE} already exists")
    if (path / ".git").exists():
        raise UsageError(f"{path} is already a Git repository; add {CONFIG_FILE} by hand")
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path} exists and is not a folder")
    repo = init_repo(path)
    (path / CONFIG_FILE).write_text(TEMPLATE, encoding="utf-8")
    (path / ".gitattributes").write_text(
        "# appsync writes canonical bytes: keep them as they are on every platform.\n* -text\n",
        encoding="utf-8",
    )
    repo.commit_all("Initialise appsync repository")
    return repo
