"""Writing to disk: a verified package's tree into a folder (the last stage of unpack), and
a package file (the last stage of pack), each atomically.

Only after the whole package verified: the files go into a fresh temporary folder beside
the destination (each path checked once more to stay inside it, each file created new,
never through an existing file or link), which is then renamed into place. On any failure
the temporary folder is removed and the destination is untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from appsync.errors import AppsyncError
from appsync.package.names import name_problems, show


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_tree(files: Mapping[str, bytes], out: Path) -> None:
    out = Path(os.path.abspath(out))
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise AppsyncError(f"{out}: exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        raise AppsyncError(f"{out}: exists and is not empty; unpack into a new or empty folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.unpack-", dir=out.parent))
    except OSError as exc:
        raise AppsyncError(f"{out}: cannot create: {exc.strerror or exc}") from exc
    try:
        for name, data in sorted(files.items()):
            if name_problems(name) or name.endswith("/"):
                raise AppsyncError(f"{show(name)}: unsafe path, nothing written")
            target = staging.joinpath(*name.split("/"))
            if os.path.commonpath([staging, target]) != str(staging):
                raise AppsyncError(f"{show(name)}: leaves the output folder, nothing written")
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        mode = 0o777 & ~_umask()
        for folder, _, _ in os.walk(staging):
            os.chmod(folder, mode)
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise AppsyncError(f"{out}: cannot write the tree: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_file(out: Path, data: bytes) -> None:
    """A package file: written to a temporary file beside ``out``, then renamed into place."""
    target = Path(os.path.abspath(out))
    if target.is_dir():
        raise AppsyncError(f"{out}: is a folder; name the package file to write")
    temp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, target)
    except OSError as exc:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        raise AppsyncError(f"{out}: cannot write: {exc.strerror or exc}") from exc
