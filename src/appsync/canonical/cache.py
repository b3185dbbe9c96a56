"""What parsing a tree file gave, kept by the digest of its bytes: a file that did not
change since the last plan or export is not parsed, checked and hashed again — the work of
a no-op plan grows with what changed, as ``git status`` reuses its index.

The cache is a local file in the Git directory (``.git/appsync/``), never in the tree or in
Git's history. An entry is used only when the object file and every sidecar it read have
the bytes they had (BLAKE2b digests), for the same appsync code and the same kind
manifests; anything else — a missing, unreadable, foreign or damaged cache — is a miss, and
the file is parsed as if there were no cache. Only files that parsed without a problem are
kept, so every error is still found and reported.

Files of a work tree are not even read when their ``lstat`` signature (size, modification
and change times in nanoseconds, inode, device: :data:`appsync.fsio.Signature`) is the one
the entry recorded, as ``git status`` trusts its index. A signature is trusted only when
both times were at least :data:`RACY_NS` older than the moment the tree was listed: a file
written again within the same tick of a coarse file-system clock would otherwise keep its
times (Git's "racy clean" case). Every write, rename over, ``chmod`` or ``utime`` sets the
change time to now, which no user can set back, so an edit that keeps the size and the
modification time is still seen.
"""

from __future__ import annotations

import base64
import os
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from appsync import __version__
from appsync.fsio import Signature, TreeFiles, write_atomic
from appsync.fsio import digest as _digest
from appsync.heap import kept
from appsync.kinds import KindSpec, Registry
from appsync.model import HistoryEntry, Obj

FORMAT = 2
#: How much older than the listing a file's times must be for its signature to be trusted:
#: well past the tick of any clock a file system keeps (FAT's two seconds included).
RACY_NS = 3_000_000_000
#: Above this many bytes the cache is not written (it would cost more than it saves).
MAX_BYTES = 512 * 1024 * 1024


def code_fingerprint() -> str:
    """Which appsync code parsed the cached objects: its version alone does not change with
    every edit of a development checkout, the names, sizes and times of its files do."""
    package = Path(__file__).resolve().parents[1]
    parts = []
    for path in sorted(package.rglob("*.py")):
        try:
            info = path.stat()
        except OSError:
            continue
        parts.append(f"{path.relative_to(package)}:{info.st_size}:{info.st_mtime_ns}")
    return _digest("\n".join(parts).encode("utf-8"))


def registry_fingerprint(registry: Registry) -> str:
    """Which kind manifests the cached objects were parsed with."""
    parts = [registry.platform.model_dump_json()]
    parts += [spec.model_dump_json() for spec in registry]
    return _digest("\n".join(parts).encode("utf-8"))


class ParseCache:
    """Parsed objects by path, each with the digests of the bytes it came from."""

    def __init__(self, path: Path | None, registry: Registry) -> None:
        self.path = path
        self._stamp = [FORMAT, __version__, code_fingerprint(), registry_fingerprint(registry)]
        self._entries: dict[str, list[Any]] = {}
        self._used: set[str] = set()
        self._dirty = False
        self._trusted: dict[str, Signature] | None = None
        self._recorded: dict[str, dict[str, Signature] | None] = {}
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            with kept():
                document = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return
        if (
            isinstance(document, dict)
            and document.get("stamp") == self._stamp
            and isinstance(document.get("entries"), dict)
        ):
            self._entries = document["entries"]

    def vouches(self, path: str, known: Signature) -> bool:
        """Whether ``path`` (an object file or a sidecar) is known by ``known`` alone: its
        entry recorded that trusted signature. Such a file need not be read."""
        if self._trusted is None:
            self._trusted = {}
            for entry_path in self._entries:
                self._trusted.update(self._signatures_of(entry_path) or {})
        return self._trusted.get(path) == known

    def _signatures_of(self, path: str) -> dict[str, Signature] | None:
        """The trusted signatures of the entry at ``path`` (worked out once)."""
        try:
            return self._recorded[path]
        except KeyError:
            found = self._recorded[path] = _entry_signatures(path, self._entries[path])
            return found

    def get(self, spec: KindSpec, path: str, files: Mapping[str, bytes]) -> Obj | None:
        """The object parsed from ``path`` when its bytes (and its sidecars') are the same:
        known from trusted signatures, else from their digests."""
        entry = self._entries.get(path)
        if entry is None:
            return None
        try:
            digest, sidecars, kind, record = entry[:4]
            if kind != spec.kind:
                return None
            folder = posixpath.dirname(path)
            if not (isinstance(files, TreeFiles) and self._known(files, path)):
                if _digest(files[path]) != digest:
                    return None
                for name, want in sidecars.items():
                    data = files.get(f"{folder}/{name}")
                    if data is None or _digest(data) != want:
                        return None
                if isinstance(files, TreeFiles):
                    self._stamp_entry(entry, path, files, list(sidecars))
            obj = _obj(record, spec.kind, path)
            if isinstance(files, TreeFiles):
                files.digests[path] = digest
                files.digests.update({f"{folder}/{n}": d for n, d in sidecars.items()})
        except (TypeError, ValueError, KeyError, AttributeError):
            return None  # a damaged entry is a miss
        self._used.add(path)
        return obj

    def _known(self, files: TreeFiles, path: str) -> bool:
        """Whether the entry's own trusted signatures are those the files have now."""
        recorded = self._signatures_of(path)
        if recorded is None:
            return False
        signatures = files.signatures
        return all(signatures.get(p) == known for p, known in recorded.items())

    def _stamp_entry(self, entry: list[Any], path: str, files: TreeFiles, names: list[str]) -> None:
        """Record the signatures the files had when listed (only a work tree has them)."""
        folder = posixpath.dirname(path)
        signatures = files.signatures
        stamp = [
            files.listed_ns,
            list(signatures[path]),
            {name: list(signatures[f"{folder}/{name}"]) for name in names},
        ]
        if len(entry) > 4 and entry[4] == stamp:
            return
        del entry[4:]
        entry.append(stamp)
        self._recorded.pop(path, None)
        self._dirty = True

    def put(self, obj: Obj, path: str, files: Mapping[str, bytes], read: list[str]) -> None:
        """Keep ``obj``, parsed from ``path`` and the other files in ``read`` (sidecars)."""
        folder = posixpath.dirname(path)
        sidecars = [posixpath.relpath(p, folder) for p in read if p != path]
        digests = {name: _digest(files[f"{folder}/{name}"]) for name in sidecars}
        entry: list[Any] = [_digest(files[path]), digests, obj.kind, _record(obj)]
        if isinstance(files, TreeFiles):
            self._stamp_entry(entry, path, files, sidecars)
        self._entries[path] = entry
        self._used.add(path)
        self._dirty = True

    def save(self) -> None:
        """Write what this parse used (entries for files gone are dropped). Best effort:
        a cache that cannot be written only costs the next run its speed."""
        if self.path is None:
            return
        if not self._dirty and set(self._entries) == self._used:
            return
        entries = {p: e for p, e in self._entries.items() if p in self._used}
        try:
            data = orjson.dumps({"stamp": self._stamp, "entries": entries})
            if len(data) > MAX_BYTES:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, data)
        except (OSError, TypeError, orjson.JSONEncodeError):
            return


def _entry_signatures(path: str, entry: list[Any]) -> dict[str, Signature] | None:
    """The signatures an entry recorded for its object file and sidecars, by path, when
    every one of them can be trusted; ``None`` otherwise (no stamp, damaged, too recent).
    The sidecars must be those the entry's digests name."""
    try:
        seen, own, sidecars = entry[4]
        if type(seen) is not int or sidecars.keys() != entry[1].keys():
            return None
        folder = posixpath.dirname(path)
        found = {path: _signature(own, seen - RACY_NS)}
        for name, value in sidecars.items():
            found[f"{folder}/{name}"] = _signature(value, seen - RACY_NS)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError):
        return None
    return found


def _signature(value: Any, before: int) -> Signature:
    """A recorded signature, if both its times are older than ``before``."""
    size, mtime, ctime, inode, device = value
    if (
        type(size) is not int
        or type(mtime) is not int
        or type(ctime) is not int
        or type(inode) is not int
        or type(device) is not int
        or mtime >= before
        or ctime >= before
    ):
        raise ValueError("damaged, or too recent to trust")
    return (size, mtime, ctime, inode, device)


def _record(obj: Obj) -> list[Any]:
    binary = sorted(k for k, v in obj.content.items() if isinstance(v, bytes))
    content = {
        k: base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v
        for k, v in obj.content.items()
    }
    history = [[h.rev, h.at, h.origin] for h in obj.history]
    return [obj.id, content, binary, obj.rev, history, obj.name, obj.app_id, obj.placeholders]


def _obj(record: list[Any], kind: str, path: str) -> Obj:
    obj_id, content, binary, rev, history, name, app_id, placeholders = record
    if not isinstance(content, dict) or not isinstance(obj_id, str) or not isinstance(rev, str):
        raise TypeError("damaged entry")
    if binary:  # decoded into a copy: the entry itself is saved again as it was read
        content = dict(content)
    for key in binary:
        content[key] = base64.b64decode(content[key], validate=True)
    return Obj(
        kind=kind,
        id=obj_id,
        content=content,
        rev=rev,
        history=tuple(HistoryEntry(rev=r, at=a, origin=o) for r, a, o in history),
        name=str(name),
        app_id=app_id if app_id is None else str(app_id),
        path=path,
        placeholders=bool(placeholders),
    )


def cache_file(git_dir: Path, registry: Registry, prefix: str) -> Path | None:
    """Where a repository keeps its parse cache (``None``: caching is switched off)."""
    if os.environ.get("APPSYNC_NO_CACHE"):
        return None
    where = prefix.strip("/").replace("/", "__") or "root"
    return git_dir / "appsync" / f"parsed.{registry.name}.{where}.json"
