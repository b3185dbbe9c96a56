"""Tree files on disk, the edge between the canonical tree and the file system.

Reading: only regular files are tree content. A symbolic link, a FIFO, a device, a socket or
a nested Git repository is refused, naming its path, and every file is checked against the
size bounds from ``lstat`` before a byte of it is read (then opened without following links
and read at most one byte past its bound, so a file that grows meanwhile is caught too).

Writing: every file is written atomically: a temporary file in the same folder, flushed to
disk, then renamed over the old one, so a process killed at any moment leaves each file
either old or new, never empty or half written. A killed writer can leave its temporary
file behind (``.<name>.<pid>.<random>.appsync-tmp``): readers skip those, and export removes
those whose process is gone.
Every ``OSError`` becomes one :class:`AppsyncError` line naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from appsync.errors import AppsyncError, TreeError

TEMP_SUFFIX = ".appsync-tmp"
ONLY_REGULAR = "only regular files are tree content"


def is_temp(name: str) -> bool:
    """A temporary file of an atomic write (maybe left by a killed appsync)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def human(size: int) -> str:
    """``104857600`` -> ``100 MB (104,857,600 bytes)``; small sizes as bytes."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.4g} {unit} ({size:,} bytes)"
    return f"{size:,} bytes"


@dataclass(frozen=True)
class Bounds:
    """Size bounds for reading tree files; ``None`` is unbounded. The names say which
    environment variable sets each (for the message)."""

    max_file: int | None = None
    max_total: int | None = None
    file_setting: str = "APPSYNC_MAX_FILE_SIZE"
    total_setting: str = "APPSYNC_MAX_TREE_SIZE"


@dataclass
class SizeCheck:
    """Running total of the bytes read under one set of bounds."""

    bounds: Bounds
    #: What the bounds stop: "read" a file, or "export" one.
    verb: str = "read"
    total: int = 0
    over_total: bool = False
    problems: list[str] = field(default_factory=list)

    def admit(self, rel: str, size: int) -> bool:
        """Whether a file of ``size`` bytes may be read; records why not."""
        bounds = self.bounds
        if bounds.max_file is not None and size > bounds.max_file:
            self.problems.append(
                f"{rel}: {human(size)}, larger than {bounds.file_setting} "
                f"({human(bounds.max_file)}); raise it to {self.verb} this file"
            )
            return False
        if self.over_total:
            return False
        if bounds.max_total is not None and self.total + size > bounds.max_total:
            self.over_total = True
            self.problems.append(
                f"{rel}: the tree passes {bounds.total_setting} ({human(bounds.max_total)}) "
                f"at this file; raise it to {self.verb} the tree"
            )
            return False
        self.total += size
        return True


def kind_of_mode(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def read_regular(path: Path | str, rel: str, limit: int | None) -> bytes:
    """The bytes of the regular file at ``path``, never through a link, at most ``limit``."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        handle = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise TreeError(f"{rel}: a symbolic link; {ONLY_REGULAR}") from exc
        raise TreeError(f"{rel}: cannot read: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise TreeError(f"{rel}: {kind_of_mode(info.st_mode)}; {ONLY_REGULAR}")
        wanted = info.st_size + 1 if limit is None else min(info.st_size, limit) + 1
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(handle, max(wanted - size, 64 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if limit is not None and size > limit:
                raise TreeError(f"{rel}: grew past its size bound while being read")
    except OSError as exc:
        raise TreeError(f"{rel}: cannot read: {exc.strerror or exc}") from exc
    finally:
        os.close(handle)
    return b"".join(chunks)


#: What ``lstat`` says of a regular file, as a parse cache records it: size, modification
#: and change times (nanoseconds), inode and device. Any write, rename over, ``chmod`` or
#: ``touch`` changes it.
Signature = tuple[int, int, int, int, int]


def digest(data: bytes) -> str:
    """The digest a parse cache keeps of a file's bytes (BLAKE2b, 128 bits)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def signature(info: os.stat_result) -> Signature:
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


class TreeFiles(Mapping[str, bytes]):
    """The regular files of a tree by posix path, with the ``lstat`` signature each had
    when the tree was listed. A file the caller vouched for (a parse cache that holds what
    it parsed from exactly that file) is read only when asked for: a no-op plan does not
    open the files it already knows. Reading one then is :func:`read_regular`, and its
    problems are a :class:`TreeError` at that moment."""

    def __init__(self, top: Path, limit: int | None) -> None:
        self.top = top
        #: At most how many bytes a file may have when it is read (``None``: unbounded).
        self.limit = limit
        #: When listing began (``time.time_ns``): no file's signature predates it.
        self.listed_ns = time.time_ns()
        self.signatures: dict[str, Signature] = {}
        #: Digests (:func:`digest`) of files a parse cache knows unchanged, by path.
        self.digests: dict[str, str] = {}
        self._data: dict[str, bytes] = {}

    def add(self, path: str, known: Signature, data: bytes | None = None) -> None:
        """List the file at ``path``, with its bytes if they were read (else read later)."""
        if data is not None:
            self._data[path] = data
        self.signatures[path] = known

    def __getitem__(self, path: str) -> bytes:
        data = self._data.get(path)
        if data is None:
            if path not in self.signatures:
                raise KeyError(path)
            data = read_regular(self.top / path, path, self.limit)
            self._data[path] = data
        return data

    def holds(self, path: str, data: bytes) -> bool:
        """Whether the file at ``path`` has exactly ``data`` (by its known digest when
        there is one, so without reading it)."""
        known = self.digests.get(path)
        if known is not None and path not in self._data:
            return digest(data) == known
        return path in self.signatures and self[path] == data

    def __contains__(self, path: object) -> bool:
        return path in self.signatures

    def __iter__(self) -> Iterator[str]:
        return iter(self.signatures)

    def __len__(self) -> int:
        return len(self.signatures)


def read_tree(
    top: Path,
    roots: Iterable[str],
    *,
    bounds: Bounds,
    ignored: Callable[[str], bool] = lambda _: False,
    vouched: Callable[[str, Signature], bool] | None = None,
) -> TreeFiles:
    """Every regular file under the folders ``roots`` of ``top``, by posix path relative to
    ``top``; what ``ignored`` says (Git's ignore rules) is passed over unread. Raises
    :class:`TreeError` with every problem: links, special files, nested repositories,
    unreadable files, files past the bounds. A root that does not exist is empty. Files
    ``vouched`` says are known by their signature are read later, if at all (checked for
    kind and bounds like the others now)."""
    files = TreeFiles(top, bounds.max_file)
    check = SizeCheck(bounds)
    problems = check.problems
    for root in roots:
        _read_folder(top, root, files, check, ignored, vouched)
    if problems:
        raise TreeError(problems[0], problems)
    return files


def _read_folder(
    top: Path,
    rel: str,
    files: TreeFiles,
    check: SizeCheck,
    ignored: Callable[[str], bool],
    vouched: Callable[[str, Signature], bool] | None,
    *,
    top_level: bool = True,
) -> None:
    problems = check.problems
    folder = top / rel
    if top_level:
        try:
            mode = os.lstat(folder).st_mode
        except FileNotFoundError:
            return
        except OSError as exc:
            problems.append(f"{rel}: cannot read: {exc.strerror or exc}")
            return
        if not stat.S_ISDIR(mode):
            problems.append(f"{rel}: {kind_of_mode(mode)}, not a folder; {ONLY_REGULAR}")
            return
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
    except OSError as exc:
        problems.append(f"{rel}: cannot read: {exc.strerror or exc}")
        return
    if any(e.name == ".git" for e in entries):
        problems.append(f"{rel}: a nested Git repository (a submodule?); {ONLY_REGULAR}")
        return
    for entry in entries:
        path = f"{rel}/{entry.name}"
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError as exc:
            problems.append(f"{path}: cannot read: {exc.strerror or exc}")
            continue
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            _read_folder(top, path, files, check, ignored, vouched, top_level=False)
            continue
        if is_temp(entry.name) or ignored(path):
            continue
        if not stat.S_ISREG(mode):
            problems.append(f"{path}: {kind_of_mode(mode)}; {ONLY_REGULAR}")
            continue
        if not check.admit(path, info.st_size):
            continue
        known = signature(info)
        if vouched is not None and vouched(path, known):
            files.add(path, known)
            continue
        try:
            files.add(path, known, read_regular(entry.path, path, files.limit))
        except TreeError as exc:
            problems.append(str(exc))


# ---------------------------------------------------------------------------- writing


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system can sync a folder
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def cannot(path: Path | str, exc: OSError, what: str = "write") -> AppsyncError:
    """One line for an ``OSError``: the path and the reason."""
    reason = exc.strerror or str(exc)
    return AppsyncError(f"{path}: cannot {what}: {reason}")


def write_atomic(path: Path, data: bytes, *, display: str | None = None) -> None:
    """Write ``data`` at ``path`` atomically (see :func:`write_files`)."""
    write_files([(path, data, display or str(path))])


#: Above this many files, one system-wide flush is cheaper than one per file.
BATCH = 8


def write_files(items: Sequence[tuple[Path, bytes, str]]) -> None:
    """Write each ``(path, data, display)`` atomically; folders are created as needed.

    Every temporary file is written first, then all of them are flushed to disk together,
    then each is renamed over its file, then the folders are flushed: two waits for the disk
    in all, not two per file. Killed at any moment this leaves each file old or new; on an
    error no file has changed unless the renames had begun (each file is still old or new).
    A file that is replaced keeps its permission bits; a new one gets the umask's. A link at
    a path is replaced by the file, never written through.
    """
    temps: list[tuple[str, Path, str]] = []
    renamed = 0
    try:
        for path, data, shown in items:
            temps.append((_stage(path, data, shown), path, shown))
        _flush([Path(temp) for temp, _, _ in temps], files=True)
        for temp, path, shown in temps:
            try:
                os.replace(temp, path)
            except OSError as exc:
                raise cannot(shown, exc) from exc
            renamed += 1
        _flush(sorted({path.parent for path, _, _ in items}), files=False)
    finally:
        for temp, _, _ in temps[renamed:]:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def _stage(path: Path, data: bytes, shown: str) -> str:
    """A temporary file beside ``path`` holding ``data`` with the mode ``path`` will have."""
    temp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            previous = os.lstat(path)
            mode = stat.S_IMODE(previous.st_mode) if stat.S_ISREG(previous.st_mode) else None
        except FileNotFoundError:
            mode = None
        handle, temp = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=path.parent
        )
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temp, mode if mode is not None else 0o666 & ~_umask())
    except OSError as exc:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        raise cannot(shown, exc) from exc
    return temp


def _flush(paths: Sequence[Path], *, files: bool) -> None:
    """Get ``paths`` (files, or folders whose entries changed) onto the disk."""
    if len(paths) > BATCH and hasattr(os, "sync"):
        os.sync()
        return
    for path in paths:
        if files:
            try:
                handle = os.open(path, os.O_RDONLY)
            except OSError as exc:
                raise cannot(path, exc) from exc
            try:
                os.fsync(handle)
            finally:
                os.close(handle)
        else:
            _fsync_folder(path)


def remove_file(path: Path, *, display: str | None = None) -> None:
    """Remove a file; one that is gone already is fine."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise cannot(display or path, exc, "remove") from exc


def prune_empty(stop: Path, folder: Path) -> None:
    """Remove ``folder`` and its parents while they are empty, up to ``stop``."""
    with contextlib.suppress(OSError):
        while folder != stop and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent


def _writer_alive(name: str) -> bool:
    """Whether the process that made a temporary file (its pid is in the name) still runs."""
    parts = name[: -len(TEMP_SUFFIX)].rsplit(".", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def sweep_temps(top: Path, roots: Iterable[str]) -> list[str]:
    """Remove the temporary files killed writers left under ``roots`` (not those of a
    writer still running); their paths."""
    removed: list[str] = []
    for root in roots:
        base = top / root
        if not base.is_dir() or base.is_symlink():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
            for name in filenames:
                if is_temp(name) and not _writer_alive(name):
                    full = Path(dirpath) / name
                    with contextlib.suppress(OSError):
                        full.unlink()
                        removed.append(full.relative_to(top).as_posix())
    return sorted(removed)
