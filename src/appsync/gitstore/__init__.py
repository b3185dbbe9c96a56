"""Git: the only package that imports pygit2. Open and create repositories, read a tree at a
ref or in the work tree, and commit exactly the paths appsync wrote (nothing the user has
staged or left untracked)."""

from __future__ import annotations

from appsync.gitstore.repo import GitRepo, find_repo_root, init_repo, open_repo

__all__ = ["GitRepo", "find_repo_root", "init_repo", "open_repo"]
