"""The Git index lock, the one lock a killed appsync can leave behind in a repository.

libgit2 (like git) writes ``.git/index`` by creating ``.git/index.lock`` (exclusively),
writing the new index into it and renaming it over ``index``. A process killed in between
leaves the lock, and every later commit fails until someone removes it.

Before appsync lets libgit2 write the index it writes an *owner file*,
``.git/appsync-index-<pid>.owner`` (pid, host, process start time), and removes it after.
A lock found later is cleared only when all of this holds:

* an owner file names an appsync process on this host that is no longer running (a reused
  pid is told apart by its start time);
* the lock was created within :data:`WINDOW` seconds after that owner file was written (the
  dead process created it, not a later one);
* no ``git`` process is running in this repository (read from ``/proc`` where there is one).

Otherwise the lock belongs to someone alive, usually git itself (``git commit`` holds it
while its editor is open): appsync refuses with a message saying whose it is and what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from appsync.errors import RepoError

LOCK = "index.lock"
OWNER_GLOB = "appsync-index-*.owner"
#: Seconds between an owner file and the lock its process created, at most.
WINDOW = 10.0


@dataclass(frozen=True)
class Owner:
    path: Path
    pid: int
    host: str
    start: str | None
    written: float

    @property
    def alive(self) -> bool:
        if self.host != socket.gethostname():
            return True  # cannot tell: treat as alive, never steal its lock
        return process_alive(self.pid, self.start)


def process_start(pid: int) -> str | None:
    """The start time of a process in clock ticks since boot (Linux), to tell a reused
    pid from the original; ``None`` where ``/proc`` does not say."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def process_alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    if start is not None:
        now = process_start(pid)
        if now is not None and now != start:
            return False  # the pid was reused
    return True


def git_processes(root: Path) -> list[int]:
    """Pids of ``git`` processes working in ``root`` (empty where ``/proc`` is missing)."""
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    top = str(root.resolve())
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            if comm != "git" and not comm.startswith("git-"):
                continue
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == top or cwd.startswith(top + os.sep):
            found.append(int(entry.name))
    return found


def _owners(git_dir: Path) -> list[Owner]:
    owners: list[Owner] = []
    for path in sorted(git_dir.glob(OWNER_GLOB)):
        try:
            data = json.loads(path.read_text())
            owners.append(
                Owner(
                    path,
                    int(data["pid"]),
                    str(data["host"]),
                    data.get("start"),
                    path.stat().st_mtime,
                )
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return owners


def _since(seconds: float) -> str:
    moment = time.strftime("%H:%M:%S", time.localtime(seconds))
    return f"since {moment}, {max(0, round(time.time() - seconds))} s ago"


def clear_stale_lock(git_dir: Path, root: Path) -> str | None:
    """Remove ``index.lock`` when a dead appsync left it; a note saying so, or ``None``
    when there was none. :class:`RepoError` when someone alive holds it."""
    lock = git_dir / LOCK
    owners = _owners(git_dir)
    try:
        created = lock.stat().st_mtime
    except FileNotFoundError:
        for owner in owners:  # killed after the index was written: nothing to clear
            if not owner.alive:
                with contextlib.suppress(OSError):
                    owner.path.unlink()
        return None
    live = [o for o in owners if o.alive and o.pid != os.getpid()]
    if live:
        raise RepoError(
            f"{lock}: another appsync (pid {live[0].pid}) is writing this repository's index "
            f"({_since(created)}); wait for it to finish and run again"
        )
    dead = [o for o in owners if o.written - 1 <= created <= o.written + WINDOW]
    running = git_processes(root)
    if dead and not running:
        owner = dead[-1]
        try:
            lock.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise RepoError(f"{lock}: cannot remove the stale lock: {exc.strerror}") from exc
        for stale in owners:
            with contextlib.suppress(OSError):
                stale.path.unlink()
        return (
            f"removed {lock}, left by appsync (pid {owner.pid}), which stopped while writing "
            "the index; the index is as it was before"
        )
    who = f"git (pid {running[0]})" if running else "another Git process"
    raise RepoError(
        f"{lock}: {who} holds this repository's index ({_since(created)}). Let it finish "
        f"(close the editor of a 'git commit'), then run again; if no git command is running "
        f"in {root}, the lock is stale: remove it (rm '{lock}') and run again"
    )


@contextlib.contextmanager
def owning_index(git_dir: Path, root: Path, notes: list[str]) -> Iterator[None]:
    """Around a write of the index: clear a stale lock (adding a note), then record this
    process as the one about to take the lock, until the write is done."""
    note = clear_stale_lock(git_dir, root)
    if note:
        notes.append(note)
    pid = os.getpid()
    owner = git_dir / f"appsync-index-{pid}.owner"
    record = {"pid": pid, "host": socket.gethostname(), "start": process_start(pid)}
    try:
        owner.write_text(json.dumps(record))
    except OSError as exc:
        raise RepoError(f"{git_dir}: cannot write: {exc.strerror or exc}") from exc
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            owner.unlink()
