"""Fault injection for subprocess tests: with ``APPSYNC_FAULT_KILL_AT_WRITE=N`` and
``APPSYNC_FAULT_UNDER=DIR`` in the environment, the process writes half of the bytes of the
N-th ``write()`` to a file under DIR and then SIGKILLs itself: a real death in the middle of
writing a file, at a chosen moment, whoever the writer is. Loaded by Python at start-up when
this folder is on PYTHONPATH; nothing of appsync is replaced."""

from __future__ import annotations

import io
import os
import signal

_AT = int(os.environ.get("APPSYNC_FAULT_KILL_AT_WRITE", "0") or 0)
_UNDER = os.environ.get("APPSYNC_FAULT_UNDER", "")
_count = 0


class _Dying:
    def __init__(self, stream: object) -> None:
        self._stream = stream

    def write(self, data: bytes) -> int:
        global _count
        _count += 1
        if _count == _AT:
            half = bytes(data)[: len(data) // 2]
            self._stream.write(half)  # type: ignore[attr-defined]
            self._stream.flush()  # type: ignore[attr-defined]
            os.kill(os.getpid(), signal.SIGKILL)
        return self._stream.write(data)  # type: ignore[attr-defined,no-any-return]

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)

    def __enter__(self) -> _Dying:
        self._stream.__enter__()  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.__exit__(*exc)  # type: ignore[attr-defined]

    def __iter__(self) -> object:
        return iter(self._stream)  # type: ignore[call-overload]


def _where(file: object) -> str:
    if isinstance(file, int):
        try:
            return os.readlink(f"/proc/self/fd/{file}")
        except OSError:
            return ""
    return os.path.abspath(os.fsdecode(file)) if isinstance(file, (str, bytes, os.PathLike)) else ""


if _AT and _UNDER:
    _open = io.open

    def _patched(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        stream = _open(file, mode, *args, **kwargs)
        writing = any(m in mode for m in "wxa") and "b" in mode
        if writing and _where(file).startswith(_UNDER):
            return _Dying(stream)
        return stream

    io.open = _patched
    import builtins

    builtins.open = _patched
