"""Timing child processes: wall time, and peak RSS from ``os.wait4`` on the child itself.

``resource.getrusage(RUSAGE_CHILDREN)`` only ever grows (it is the largest child so far),
so it cannot tell one child's peak from an earlier one's. ``wait4`` returns the rusage of
exactly the child waited for (and of its own waited-for children, such as git under sh).
The fork, exec and ``wait4`` happen in bench/spawn.py, a tiny launcher, because a child
forked by this (large) process would report this process's size as its own peak; peaks
below the launcher's own size (about 7 MiB) read as that size. Output goes to log files.
"""

from __future__ import annotations

import re
import shlex
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPAWN = Path(__file__).resolve().with_name("spawn.py")


class BenchError(Exception):
    """A benchmarked command did not do what it should: its figure would be a lie."""


@dataclass(frozen=True)
class Sample:
    seconds: float
    peak_rss_mib: float
    exit_code: int
    stdout: str


@dataclass(frozen=True)
class Figure:
    """One measured step: the median wall time of its runs and the peak RSS over them."""

    command: str
    runs: list[float] = field(default_factory=list)
    rss_runs: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(self.runs)

    @property
    def peak_rss_mib(self) -> float:
        return max(self.rss_runs)

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 4),
            "peak_rss_mib": round(self.peak_rss_mib, 1),
            "runs": [round(s, 4) for s in self.runs],
            "command": self.command,
        }


_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def _show(argv: Sequence[str | Path]) -> str:
    """The command as it may be printed or saved: never with a URL's password."""
    return _PASSWORD.sub(r"\1***@", shlex.join(str(a) for a in argv))


class Runner:
    """Runs children with one environment, logging each one's output to its own files."""

    def __init__(self, logs: Path, env: dict[str, str], quiet: bool = False) -> None:
        self.logs = logs
        self.env = env
        self.quiet = quiet
        self._count = 0
        logs.mkdir(parents=True, exist_ok=True)

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)

    def once(
        self,
        argv: Sequence[str | Path],
        *,
        cwd: Path | None = None,
        expect: tuple[int, ...] = (0,),
    ) -> Sample:
        self._count += 1
        out_path = self.logs / f"{self._count:04d}.out"
        err_path = self.logs / f"{self._count:04d}.err"
        launcher = [sys.executable, "-I", "-S", SPAWN, out_path, err_path, cwd or Path.cwd()]
        done = subprocess.run(
            [str(a) for a in [*launcher, "--", *argv]],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"bench/spawn.py failed for {_show(argv)}: {done.stderr.strip()}")
        seconds, peak_kib, exit_code = done.stdout.split()
        stdout = out_path.read_text(errors="replace")
        if int(exit_code) not in expect:
            tail = (err_path.read_text(errors="replace") or stdout).strip().splitlines()[-8:]
            raise BenchError(
                f"{_show(argv)} exited {exit_code}, expected {expect} "
                f"(log {out_path}):\n  " + "\n  ".join(tail)
            )
        return Sample(float(seconds), int(peak_kib) / 1024, int(exit_code), stdout)

    def measure(
        self,
        label: str,
        argv: Sequence[str | Path],
        *,
        repeat: int,
        cwd: Path | None = None,
        expect: tuple[int, ...] = (0,),
        before: Callable[[int], object] | None = None,
        check: Callable[[str], str | None] | None = None,
    ) -> Figure:
        """Run ``argv`` ``repeat`` times; ``before(i)`` prepares run i (untimed) and
        ``check(stdout)`` returns a complaint when the run did not do its work."""
        figure = Figure(_show(argv))
        for i in range(repeat):
            if before is not None:
                before(i)
            sample = self.once(argv, cwd=cwd, expect=expect)
            complaint = check(sample.stdout) if check is not None else None
            if complaint:
                raise BenchError(f"{label}: {complaint}; {_show(argv)} printed:\n{sample.stdout}")
            figure.runs.append(sample.seconds)
            figure.rss_runs.append(sample.peak_rss_mib)
            self.say(
                f"  {label:<34} {sample.seconds:8.3f} s {sample.peak_rss_mib:7.1f} MiB"
                f"  ({i + 1}/{repeat})"
            )
        return figure


def compile_appsync() -> None:
    """Write the bytecode of appsync's own modules, as installing a wheel does, so that no
    figure times Python compiling them (an editable install compiles on first import)."""
    import appsync

    package = Path(appsync.__file__).parent
    done = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(package)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"compileall {package} failed: {done.stdout}{done.stderr}")


def expect_text(*needles: str) -> Callable[[str], str | None]:
    """A check that the output holds every needle."""

    def check(stdout: str) -> str | None:
        missing = [n for n in needles if n not in stdout]
        return f"expected {missing!r} in the output" if missing else None

    return check


def expect_count(prefix: str, count: int, *, exact: bool = True) -> Callable[[str], str | None]:
    """A check for floor.py's "PREFIX COUNT" line: exactly ``count``, or at least it."""

    def check(stdout: str) -> str | None:
        words = stdout.split()
        done = int(words[1]) if len(words) >= 2 and words[0] == prefix else -1
        if done == count or (not exact and done > count):
            return None
        return f"expected '{prefix} {'' if exact else '>= '}{count}'"

    return check
