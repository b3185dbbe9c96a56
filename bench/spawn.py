"""Start one command; print its wall time, peak RSS and exit code (for measure.py).

    python -I -S bench/spawn.py OUT ERR CWD -- ARGV...

Why a separate, tiny process: Linux keeps ``ru_maxrss`` across ``execve``, and a forked
child starts with its parent's resident pages, so a child forked by the harness (which has
SQLAlchemy and the generated rows loaded) would report at least the harness's size. This
launcher imports nothing but ``os`` and ``sys``, so the peak it reports is the command's own
(or the launcher's few MiB, whichever is larger). It times from just before ``fork`` to
``wait4``, so its own start-up is not counted.
"""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    out, err, cwd, separator, *argv = sys.argv[1:]
    if separator != "--" or not argv:
        raise SystemExit(__doc__)
    streams = (
        os.open(os.devnull, os.O_RDONLY),
        os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
    )
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(cwd)
            for target, fd in enumerate(streams):
                os.dup2(fd, target)
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(2, f"spawn: cannot run {argv[0]}: {exc}\n".encode())
        os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    # ru_maxrss is in KiB on Linux
    print(seconds, usage.ru_maxrss, os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
