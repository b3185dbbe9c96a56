"""A thin, typed wrapper over a pygit2 repository; pygit2 errors become :class:`RepoError`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2
from pygit2.enums import CheckoutStrategy, FileMode, FileStatus, SortMode

from appsync.errors import RepoError, TreeError
from appsync.fsio import ONLY_REGULAR, Bounds, SizeCheck, TreeFiles, read_tree
from appsync.gitstore.locks import clear_stale_lock, owning_index
from appsync.heap import kept

if TYPE_CHECKING:
    from appsync.canonical.cache import ParseCache
    from appsync.kinds import Registry
    from appsync.model import Obj

DEFAULT_AUTHOR = ("appsync", "appsync@localhost")
#: The file that marks a project's folder (appsync.config.CONFIG_FILE).
CONFIG_NAME = "appsync.yaml"


class GitRepo:
    """A repository, seen from the project in it: ``root`` is the folder that holds
    appsync.yaml and the tree (the work tree's top, or a subfolder of a larger repository:
    ``prefix``); every path this class takes and gives is relative to it."""

    def __init__(self, repo: pygit2.Repository, prefix: str = "") -> None:
        self._repo = repo
        workdir = repo.workdir
        if workdir is None:
            raise RepoError(f"{repo.path}: a bare repository has no work tree")
        self.top = Path(workdir)
        self.prefix = prefix.strip("/")
        self.root = self.top / self.prefix if self.prefix else self.top
        #: Things appsync did on its own that the user should hear about (a stale lock
        #: cleared); the command prints them.
        self.notes: list[str] = []

    def _full(self, path: str) -> str:
        """A project path as the repository knows it."""
        return f"{self.prefix}/{path}" if self.prefix else path

    def _local(self, path: str) -> str | None:
        """A repository path as the project knows it; None outside the project."""
        if not self.prefix:
            return path
        lead = self.prefix + "/"
        return path[len(lead) :] if path.startswith(lead) else None

    def _status(self) -> dict[str, int]:
        """Status of the project's paths (ignored files aside), by project path."""
        found: dict[str, int] = {}
        for path, flags in self._repo.status().items():
            local = self._local(path)
            if local is not None and flags != FileStatus.IGNORED:
                found[local] = flags
        return found

    # ------------------------------------------------------------------ reading

    @property
    def head_commit(self) -> str | None:
        if self._repo.head_is_unborn:
            return None
        return str(self._repo.head.target)

    @property
    def head_ref(self) -> str | None:
        try:
            return str(self._repo.lookup_reference("HEAD").target)
        except (KeyError, pygit2.GitError):
            return None

    def resolve(self, ref: str) -> str:
        """The commit id a ref, tag, branch or commit prefix names."""
        try:
            obj = self._repo.revparse_single(ref)
            commit = obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError) as exc:
            raise RepoError(f"{self.root}: unknown revision '{ref}'") from exc
        return str(commit.id)

    def files_at(
        self, commit_id: str, roots: Iterable[str], *, bounds: Bounds | None = None
    ) -> dict[str, bytes]:
        """Every blob under ``roots`` in a commit, read from the object store. Only regular
        files are content: a symbolic link (mode 120000) or a submodule (a commit entry) is
        refused, as is a blob past ``bounds`` (its size is read from the object header
        first); :class:`TreeError` lists every problem."""
        commit = self._repo[commit_id].peel(pygit2.Commit)
        files: dict[str, bytes] = {}
        check = SizeCheck(bounds or Bounds())
        for root in roots:
            try:
                entry = commit.tree[self._full(root)]
            except KeyError:
                continue
            if entry.type_str == "tree":
                self._walk(self._repo[entry.id].peel(pygit2.Tree), root, files, check)
            else:
                check.problems.append(f"{root}: {_entry_kind(entry)}, not a folder; {ONLY_REGULAR}")
        if check.problems:
            raise TreeError(check.problems[0], check.problems)
        return files

    def _walk(
        self, tree: pygit2.Tree, prefix: str, out: dict[str, bytes], check: SizeCheck
    ) -> None:
        for entry in tree:
            path = f"{prefix}/{entry.name}"
            if entry.type_str == "tree":
                self._walk(self._repo[entry.id].peel(pygit2.Tree), path, out, check)
            elif entry.filemode not in (FileMode.BLOB, FileMode.BLOB_EXECUTABLE):
                check.problems.append(f"{path}: {_entry_kind(entry)}; {ONLY_REGULAR}")
            else:
                _, size = self._repo.odb.read_header(entry.id)
                if check.admit(path, size):
                    out[path] = self._repo[entry.id].peel(pygit2.Blob).data

    def history(self, start: str | None = None, limit: int = 200) -> list[str]:
        """Commit ids reachable from ``start`` (HEAD by default), newest first."""
        head = start or self.head_commit
        if head is None:
            return []
        walker = self._repo.walk(
            self._repo[head].peel(pygit2.Commit).id, SortMode.TOPOLOGICAL | SortMode.TIME
        )
        return [str(commit.id) for _, commit in zip(range(limit), walker, strict=False)]

    def has_commit(self, commit_id: str) -> bool:
        try:
            self._repo[commit_id].peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError):
            return False
        return True

    def work_tree_files(
        self,
        roots: Iterable[str],
        *,
        bounds: Bounds | None = None,
        cache: ParseCache | None = None,
    ) -> TreeFiles:
        """Every file under ``roots`` in the work tree (ignoring what Git ignores: as for
        Git, a tracked file is never ignored, so Git's ignore rules are asked only about
        files the index does not hold). Only regular files are content: links, special
        files and nested repositories are refused, as are files past ``bounds`` (see
        :func:`appsync.fsio.read_tree`). Files ``cache`` knows by their signature are read
        only when asked for."""
        index = self._repo.index
        index.read(False)

        def ignored(path: str) -> bool:
            full = self._full(path)
            return full not in index and bool(self._repo.path_is_ignored(full))

        vouched = cache.vouches if cache is not None else None
        with kept():
            return read_tree(
                self.root, roots, bounds=bounds or Bounds(), ignored=ignored, vouched=vouched
            )

    def dirty_paths(self) -> set[str]:
        """Paths whose work-tree or index state differs from HEAD (ignored files aside)."""
        return set(self._status())

    def changed_paths(self) -> tuple[set[str], set[str]]:
        """:meth:`dirty_paths`, and of them the tracked paths deleted in the work tree or
        staged for deletion, from one ``git status``."""
        gone = FileStatus.WT_DELETED | FileStatus.INDEX_DELETED
        status = self._status()
        return set(status), {p for p, flags in status.items() if flags & gone}

    def staged_elsewhere(self, changes: Mapping[str, bytes | None]) -> list[str]:
        """Paths of ``changes`` for which the user has staged something else: the index
        entry differs from HEAD's and from what ``changes`` would commit. Only the paths
        whose index entry differs from HEAD's (one diff of the two) are looked at."""
        index = self._repo.index
        index.read(True)
        head = None if self._repo.head_is_unborn else self._repo.head.peel(pygit2.Tree)
        if head is None:
            differ = {entry.path for entry in index}
        else:
            differ = set()
            for delta in index.diff_to_tree(head).deltas:
                differ.update((delta.old_file.path, delta.new_file.path))
        found: list[str] = []
        for path, data in sorted(changes.items()):
            full = self._full(path)
            if full not in differ:
                continue  # staged as committed (or not at all, as committed)
            staged = index[full].id if full in index else None
            try:
                committed = head[full].id if head is not None else None
            except KeyError:
                committed = None
            wanted = pygit2.hash(data) if data is not None else None
            if staged not in (committed, wanted):
                found.append(path)
        return found

    @property
    def git_dir(self) -> Path:
        return Path(self._repo.path)

    def parse_cache(self, registry: Registry) -> ParseCache:
        """The repository's parse cache (:mod:`appsync.canonical.cache`)."""
        from appsync.canonical.cache import ParseCache, cache_file

        return ParseCache(cache_file(self.git_dir, registry, self.prefix), registry)

    def parse(
        self, registry: Registry, files: Mapping[str, bytes], cache: ParseCache | None = None
    ) -> list[Obj]:
        """The objects of ``files`` (read from this repository), parsed through the
        repository's parse cache (or ``cache``, the one the files were read with)."""
        from appsync.canonical.tree import parse

        if cache is None:
            cache = self.parse_cache(registry)
        try:
            with kept():
                return parse(registry, files, cache)
        finally:  # the files that parsed are kept even when others have problems
            cache.save()

    def prepare_commit(self) -> None:
        """Fail now, before anything is written, when a commit could not be made: the index
        is locked (a lock a killed appsync left is cleared, with a note) or the repository's
        folder cannot be written."""
        git_dir = Path(self._repo.path)
        note = clear_stale_lock(git_dir, self.top)
        if note:
            self.notes.append(note)
        for folder in (git_dir, git_dir / "objects"):
            probe = folder / f"appsync-probe-{os.getpid()}"
            try:
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as exc:
                raise RepoError(f"{folder}: cannot write: {exc.strerror or exc}") from exc

    def is_dirty(self, roots: Iterable[str] | None = None) -> bool:
        """Whether anything under ``roots`` (folders or single files) differs from HEAD."""
        scope = tuple(roots) if roots is not None else None
        for path in self._status():
            if scope is None or any(path == r or path.startswith(f"{r}/") for r in scope):
                return True
        return False

    # ------------------------------------------------------------------ writing

    def signature(self) -> pygit2.Signature:
        """The author from the repository's git config, else APPSYNC_AUTHOR_NAME/EMAIL,
        else ``appsync <appsync@localhost>``."""
        try:
            return self._repo.default_signature
        except (KeyError, pygit2.GitError):
            name = os.environ.get("APPSYNC_AUTHOR_NAME") or DEFAULT_AUTHOR[0]
            email = os.environ.get("APPSYNC_AUTHOR_EMAIL") or DEFAULT_AUTHOR[1]
            return pygit2.Signature(name, email)

    def check_new_branch(self, name: str) -> None:
        if not pygit2.reference_is_valid_name(f"refs/heads/{name}"):
            raise RepoError(f"'{name}' is not a valid branch name")
        if self._repo.references.get(f"refs/heads/{name}") is not None:
            raise RepoError(f"branch '{name}' already exists")

    def commit_on_branch(
        self, branch: str, base: str, changes: dict[str, bytes | None], message: str
    ) -> str:
        """Commit ``base``'s tree with ``changes`` (``None`` deletes a path) as a new branch,
        leaving HEAD, the index and the work tree alone."""
        self.check_new_branch(branch)
        try:
            parent = self._repo[base].peel(pygit2.Commit)
            index = pygit2.Index()
            index.read_tree(parent.tree)
            for path, data in sorted(changes.items()):
                if data is None:
                    index.remove(self._full(path))
                else:
                    blob = self._repo.create_blob(data)
                    index.add(pygit2.IndexEntry(self._full(path), blob, FileMode.BLOB))
            tree = index.write_tree(self._repo)
            author = self.signature()
            oid = self._repo.create_commit(None, author, author, message, tree, [parent.id])
            self._repo.references.create(f"refs/heads/{branch}", oid)
        except pygit2.GitError as exc:
            raise RepoError(f"{self.root}: cannot commit on branch '{branch}': {exc}") from exc
        return str(oid)

    def fast_forward(self, branch: str) -> None:
        """Move the current branch and work tree to ``branch`` (``git merge --ff-only``)."""
        try:
            target = self._repo.references[f"refs/heads/{branch}"].target
            self._repo.checkout_tree(self._repo[target])  # type: ignore[no-untyped-call]
            self._repo.head.set_target(target)
        except (KeyError, pygit2.GitError) as exc:
            raise RepoError(f"{self.root}: cannot fast-forward to '{branch}': {exc}") from exc

    def revert_head(self) -> str:
        """Commit the reverse of HEAD and check it out (``git revert --no-edit HEAD``)."""
        try:
            head = self._repo.head.peel(pygit2.Commit)
            index = self._repo.revert_commit(head, head.parents[0])
            tree = index.write_tree(self._repo)
            author = self.signature()
            message = f'Revert "{head.message.strip()}"\n\nThis reverts commit {head.id}.\n'
            oid = self._repo.create_commit("HEAD", author, author, message, tree, [head.id])
            self._repo.checkout_head(strategy=CheckoutStrategy.FORCE)  # type: ignore[no-untyped-call]
        except (IndexError, pygit2.GitError) as exc:
            raise RepoError(f"{self.root}: cannot revert HEAD: {exc}") from exc
        return str(oid)

    def commit_paths(self, changes: Mapping[str, bytes | None], message: str) -> str | None:
        """Commit exactly ``changes`` on HEAD: HEAD's tree with each of these paths set to
        the file the caller wrote in the work tree (``None``: removed), and nothing else.

        The tree is built in a separate in-memory index, so whatever else the user has
        staged stays staged and out of the commit; then the real index entries of just these
        paths are updated (with their file stats) so ``git status`` shows them clean.
        Returns the new commit id, or ``None`` when HEAD already holds all of it.
        """
        if not changes:
            return None
        try:
            with owning_index(Path(self._repo.path), self.top, self.notes):
                index = self._repo.index
                index.read(True)
                full = {self._full(p): d for p, d in changes.items()}
                for path, data in sorted(full.items()):
                    if data is not None:
                        index.add(path)
                    elif path in index:
                        index.remove(path)
                unborn = self._repo.head_is_unborn
                head = None if unborn else self._repo.head.peel(pygit2.Commit)
                staged = pygit2.Index()
                if head is not None:
                    staged.read_tree(head.tree)
                for path, data in sorted(full.items()):
                    if data is not None:
                        entry = index[path]
                        staged.add(pygit2.IndexEntry(path, entry.id, entry.mode))
                    elif path in staged:
                        staged.remove(path)
                tree = staged.write_tree(self._repo)
                index.write()
            if head is not None and head.tree_id == tree:
                return None
            author = self.signature()
            parents = [] if head is None else [head.id]
            oid = self._repo.create_commit("HEAD", author, author, message, tree, parents)
        except (KeyError, OSError, pygit2.GitError) as exc:
            raise RepoError(f"{self.root}: cannot commit: {_git_reason(exc)}") from exc
        return str(oid)

    def tracked_changes(self) -> dict[str, bytes | None]:
        """What ``git commit -a`` would commit: tracked files changed or deleted in the
        work tree, with their bytes (``None``: deleted)."""
        changes: dict[str, bytes | None] = {}
        for path, flags in self._status().items():
            if flags & FileStatus.WT_DELETED:
                changes[path] = None
            elif flags & (FileStatus.WT_MODIFIED | FileStatus.INDEX_MODIFIED):
                changes[path] = (self.root / path).read_bytes()
        return changes


def _git_reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "lock" in text.lower():
        text += " (another Git process is writing this repository; if none is, remove the lock)"
    return text


def _entry_kind(entry: pygit2.Object) -> str:
    mode = entry.filemode
    if mode == FileMode.LINK:
        return "a symbolic link (mode 120000)"
    if mode == FileMode.COMMIT:
        return "a submodule (a commit entry, mode 160000)"
    if mode in (FileMode.BLOB, FileMode.BLOB_EXECUTABLE):
        return "a file"
    return f"an entry of mode {mode:o}"


def open_repo(path: Path) -> GitRepo:
    """The repository ``path`` is in (searching upwards, as git does), seen from its
    project: the nearest folder from ``path`` up that holds appsync.yaml, else the
    repository's top (a monorepo may hold several projects, each in its folder)."""
    if not path.is_dir():
        raise RepoError(f"{path}: no such folder")
    start = Path(os.path.realpath(path))
    try:
        found = pygit2.discover_repository(str(start))
        repo = pygit2.Repository(found) if found else None
    except pygit2.GitError:
        repo = None
    if repo is None or repo.workdir is None:
        raise RepoError(f"{path}: not a Git repository, nor inside one (run 'appsync init {path}')")
    top = Path(os.path.realpath(repo.workdir))
    inside = [f for f in [start, *start.parents] if f.is_relative_to(top)]
    project = next((f for f in inside if (f / CONFIG_NAME).is_file()), top)
    return GitRepo(repo, project.relative_to(top).as_posix() if project != top else "")


def find_repo_root(start: Path) -> Path | None:
    """The project folder (see :func:`open_repo`) of the repository ``start`` is in, if
    it is in one."""
    try:
        return open_repo(start).root
    except RepoError:
        return None


def init_repo(path: Path, initial_branch: str = "main") -> GitRepo:
    try:
        repo = pygit2.init_repository(str(path), initial_head=initial_branch)
    except pygit2.GitError as exc:
        raise RepoError(f"{path}: cannot create a Git repository: {exc}") from exc
    return GitRepo(repo)
