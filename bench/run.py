"""The benchmark harness: appsync through its real CLI, beside the floor and Terraform.

    python bench/run.py [--objects 1000,10000,100000] [--db sqlite,postgresql]
                        [--json FILE] [--quick] [--repeat K] [--pg-url URL]

For each size and database, in one run: export + commit into an empty repo, no-op export,
export of the changed objects, first apply into an empty instance, no-op plan, plan and
apply with 1% of the objects changed, pack and unpack of one app — each a child process of
the installed ``appsync``, timed from start to exit (median of K runs), with its peak RSS.
Beside them the floor (bench/floor.py: plain SELECTs, git add + commit, hashing, plain
INSERT/UPDATE, zipfile) and, when ``terraform`` is on PATH and the size is at most
``--terraform-max``, N ``terraform_data`` resources. Start-up (``appsync --version``,
``appsync plan --help``) is measured once per run. Every run checks its output (the plan's
counts, the commit, the rows written), so a figure never times a command that failed or did
nothing. Prints a table; ``--json`` writes every figure with the machine it ran on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

import generate
import report
import terraform
from databases import PostgresScratch, Scratch, SqliteScratch
from measure import BenchError, Figure, Runner, compile_appsync, expect_count, expect_text

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
FLOOR = BENCH / "floor.py"
PG_ENV = "APPSYNC_TEST_DATABASE_URL"
QUICK_OBJECTS = 100
#: A little more than the parse cache's racy margin (appsync.canonical.cache.RACY_NS; a
#: test holds the two together).
RACY_SECONDS = 3.2
NOTES = [
    "seconds: median wall time of the runs, each a child process timed from fork to exit",
    "peak_rss_mib: the child's own peak (wait4 in bench/spawn.py), the largest over its runs; "
    "peaks below rss_baseline_mib (the launcher's size) read as that",
    "export_changed runs once: a second run would be a no-op export",
    "terraform: one terraform_data per object, input = the text of its files as one string",
]


class Scenario:
    """Every step for one size on one database, in the order a team meets them."""

    def __init__(
        self,
        runner: Runner,
        scratch: Scratch,
        folder: Path,
        *,
        objects: int,
        seed: int,
        percent: float,
        repeat: int,
        settle: bool = True,
    ) -> None:
        self.runner = runner
        self.scratch = scratch
        self.folder = folder
        self.objects = objects
        self.seed = seed
        self.percent = percent
        self.repeat = repeat
        self.settle = settle
        #: Whether the timed no-op exports met a settled tree (set by _settle).
        self.settled = False
        self.appsync = generate.appsync_command()
        self.python = sys.executable
        self.repo = folder / "repo"
        self.ours: dict[str, Figure] = {}
        self.floor: dict[str, Figure] = {}
        self.trees: dict[str, dict[str, Any]] = {}

    def measure(
        self, label: str, argv: list[str | Path], *, repeat: int | None = None, **kw: Any
    ) -> Figure:
        return self.runner.measure(label, argv, repeat=repeat or self.repeat, **kw)

    def init_instance(self, name: str) -> str:
        url = self.scratch.new(name)
        self.runner.once([*self.appsync, "instance", "init", url])
        return url

    def run(self, keep_trees: bool) -> dict[str, Any]:
        n, say = self.objects, self.runner.say
        self.folder.mkdir(parents=True, exist_ok=True)
        say(f"[{n:,} objects, {self.scratch.name}] generating")
        source = self.scratch.new("source")
        started = time.perf_counter()
        counts = generate.generate(source, n, self.seed, env=self.runner.env)
        generated = time.perf_counter() - started
        self.floor["select_source"] = self.measure(
            "floor: select (source)",
            [self.python, FLOOR, "select", source],
            check=expect_count("rows", n, exact=False),
        )
        self._export(source)
        if keep_trees:
            self.trees["before"] = terraform.tree_objects(self.repo)
        self._pack()
        target = self._first_apply(source)
        changed = generate.mutate(source, self.percent, self.seed)
        k = sum(len(ids) for ids in changed.values())
        ids_file = self.folder / "changed.json"
        ids_file.write_text(json.dumps(changed))
        self.ours["export_changed"] = self.measure(
            "export (changed)",
            [*self.appsync, "export", source, "--repo", self.repo, "-m", "Changed"],
            repeat=1,  # a second run would be a no-op export
            check=expect_text("Committed"),
        )
        if keep_trees:
            self.trees["after"] = terraform.tree_objects(self.repo)
        self._apply_changes(source, target, k, ids_file)
        return {
            "objects": n,
            "db": self.scratch.name,
            "counts": counts,
            "generate_seconds": round(generated, 3),
            "changed": k,
            "settled": self.settled,
            "appsync": {key: f.to_json() for key, f in self.ours.items()},
            "floor": {key: f.to_json() for key, f in self.floor.items()},
        }

    def _export(self, source: str) -> None:
        n = self.objects

        def empty_repo(_: int) -> None:
            shutil.rmtree(self.repo, ignore_errors=True)
            self.runner.once([*self.appsync, "init", self.repo])

        self.ours["export_commit"] = self.measure(
            "export + commit (empty repo)",
            [*self.appsync, "export", source, "--repo", self.repo, "-m", "Export"],
            before=empty_repo,
            check=expect_text(f"Exported {n} objects", "Committed"),
        )
        self._settle(source)
        self.ours["noop_export"] = self.measure(
            "export (no-op)",
            [*self.appsync, "export", source, "--repo", self.repo],
            check=expect_text("No changes"),
        )
        copy = self.folder / "git-floor"

        def fresh_copy(_: int) -> None:
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(self.repo, copy, ignore=shutil.ignore_patterns(".git"))
            self.runner.once(["git", "init", "-q", copy])

        self.floor["git_commit"] = self.measure(
            "floor: git add -A && git commit",
            ["sh", "-c", "git add -A && git commit -q -m floor"],
            cwd=copy,
            before=fresh_copy,
        )
        files = sum(1 for p in self.repo.rglob("*") if p.is_file() and ".git" not in p.parts)
        self.floor["hash_files"] = self.measure(
            "floor: sha256 of every file",
            [self.python, FLOOR, "hash", self.repo],
            check=expect_count("files", files),
        )

    def _settle(self, source: str) -> None:
        """Bring the tree just exported to the state a later command meets: files older
        than the parse cache's racy margin (a signature recorded within 3 s of a file's
        last change is not trusted, as ``git status`` re-reads a file as new as its index)
        and recorded after it. Two untimed no-op exports, one before and one after the
        margin; the timed runs then find what a user running export again later finds.
        ``--quick`` (a check that every step runs, not a measurement) does not wait."""
        if not self.settle:
            return
        self.settled = True
        export: list[str | Path] = [*self.appsync, "export", source, "--repo", self.repo]
        self.runner.once(export)
        time.sleep(RACY_SECONDS)
        self.runner.once(export)

    def _pack(self) -> None:
        app = sorted(p for p in (self.repo / "apps").iterdir() if p.is_dir())[0]
        package, out = self.folder / "app.zip", self.folder / "unpacked"
        self.ours["pack"] = self.measure(
            "pack one app",
            [*self.appsync, "pack", app, "-o", package],
            before=lambda _: package.unlink(missing_ok=True),
            check=expect_text("Packed"),
        )
        self.ours["unpack"] = self.measure(
            "unpack one app",
            [*self.appsync, "unpack", package, "-o", out],
            before=lambda _: shutil.rmtree(out, ignore_errors=True),
            check=expect_text("Unpacked"),
        )
        plain, plain_out = self.folder / "plain.zip", self.folder / "plain-unpacked"
        self.floor["zip_pack"] = self.measure(
            "floor: zipfile -c",
            [self.python, "-m", "zipfile", "-c", plain, app],
            before=lambda _: plain.unlink(missing_ok=True),
        )
        self.floor["zip_unpack"] = self.measure(
            "floor: zipfile -e",
            [self.python, "-m", "zipfile", "-e", plain, plain_out],
            before=lambda _: shutil.rmtree(plain_out, ignore_errors=True),
        )

    def _first_apply(self, source: str) -> str:
        n = self.objects
        target, copy = self.scratch.url("target"), self.scratch.url("floor")
        self.ours["full_apply"] = self.measure(
            "first apply (empty instance)",
            [*self.appsync, "apply", target, "--repo", self.repo, "--yes"],
            before=lambda _: self.init_instance("target"),
            check=expect_text(f"Applied: {n} created, 0 updated, 0 deleted"),
        )
        self.floor["write_all"] = self.measure(
            "floor: INSERT every object row",
            [self.python, FLOOR, "copy", source, copy],
            before=lambda _: self.init_instance("floor"),
            check=expect_count("rows", n),
        )
        self.ours["noop_plan"] = self.measure(
            "plan (no-op)",
            [*self.appsync, "plan", target, "--repo", self.repo, "--detailed-exitcode"],
            check=expect_text("No changes", f"{n} unchanged"),
        )
        self.floor["select_target"] = self.measure(
            "floor: select (target)",
            [self.python, FLOOR, "select", target],
            check=expect_count("rows", n, exact=False),
        )
        return target

    def _apply_changes(self, source: str, target: str, k: int, ids_file: Path) -> None:
        self.ours["plan_changed"] = self.measure(
            "plan (changed)",
            [*self.appsync, "plan", target, "--repo", self.repo, "--detailed-exitcode"],
            expect=(2,),
            check=expect_text(f"Plan: 0 to create, {k} to update, 0 to delete, 0 conflicts"),
        )
        saved = self.scratch.clone(target, "target_saved")

        def restore(i: int) -> None:
            if i:
                self.scratch.clone(saved, "target")

        self.ours["apply_changed"] = self.measure(
            "apply (changed)",
            [*self.appsync, "apply", target, "--repo", self.repo, "--yes"],
            before=restore,
            check=expect_text(f"Applied: 0 created, {k} updated, 0 deleted"),
        )
        self.floor["write_changed"] = self.measure(
            "floor: UPDATE the changed rows",
            [self.python, FLOOR, "update", source, self.scratch.url("floor"), ids_file],
            check=expect_count("rows", k),
        )


def startup(runner: Runner, repeat: int) -> dict[str, Any]:
    appsync = generate.appsync_command()
    commands: dict[str, list[str | Path]] = {
        "version": [*appsync, "--version"],
        "plan_help": [*appsync, "plan", "--help"],
        "python": [sys.executable, "-c", "pass"],
    }
    runner.say("[start-up]")
    figures = {}
    for key, argv in commands.items():
        runner.once(argv)  # warm the page cache and the bytecode
        figures[key] = runner.measure(key, argv, repeat=repeat).to_json()
    return figures


def child_env(home: Path) -> dict[str, str]:
    """The children's environment: no personal git or Terraform config, a pinned author,
    Terraform offline and quiet, Python's bytecode cache on (as for an installed appsync;
    :func:`measure.compile_appsync` fills it before anything is timed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "TF_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    home.mkdir(parents=True, exist_ok=True)
    (home / "terraformrc").write_text("")
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="Bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
        APPSYNC_AUTHOR_NAME="Bench",
        APPSYNC_AUTHOR_EMAIL="bench@example.com",
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        TF_CLI_CONFIG_FILE=str(home / "terraformrc"),
        CHECKPOINT_DISABLE="1",
    )
    return env


def _output(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, check=False)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _proc_field(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def machine(pg_version: str | None) -> dict[str, Any]:
    memory = _proc_field("/proc/meminfo", "MemTotal")
    tf = terraform.executable()
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _proc_field("/proc/cpuinfo", "model name"),
        "memory_mib": int(memory.split()[0]) // 1024 if memory else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "appsync_commit": _output(["git", "rev-parse", "HEAD"]),
        "appsync_dirty": bool(_output(["git", "status", "--porcelain"])),
        "appsync_version": _output([*generate.appsync_command(), "--version"]),
        "git": _output(["git", "--version"]),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg_version,
        "terraform": json.loads(_output([tf, "version", "-json"]) or "{}").get("terraform_version")
        if tf
        else None,
    }


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of sizes: {text}") from None
    if not sizes or min(sizes) < generate.MIN_OBJECTS:
        raise argparse.ArgumentTypeError(f"sizes must be at least {generate.MIN_OBJECTS}")
    return sizes


def _dbs(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names or set(names) - {"sqlite", "postgresql"}:
        raise argparse.ArgumentTypeError("--db takes sqlite and/or postgresql")
    return names


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=_sizes, help="Sizes (default 1000,10000,100000).")
    parser.add_argument(
        "--db", type=_dbs, help="sqlite,postgresql (default: both when a PG URL is given)."
    )
    parser.add_argument("--json", type=Path, help="Write every figure to this file.")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_OBJECTS} objects, one run of each, no waiting for the tree to settle.",
    )
    parser.add_argument("--repeat", type=int, help="Runs per figure, the median kept (3).")
    parser.add_argument("--pg-url", default=os.environ.get(PG_ENV), help=f"Default: ${PG_ENV}.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mutate-percent", type=float, default=1.0)
    parser.add_argument(
        "--terraform-max", type=int, default=10_000, help="Skip Terraform above this size."
    )
    parser.add_argument(
        "--terraform-apply-max",
        type=int,
        default=1000,
        help="Above this size, write Terraform's state instead of timing apply from empty.",
    )
    parser.add_argument("--terraform-repeat", type=int, default=1)
    parser.add_argument("--no-terraform", action="store_true")
    parser.add_argument("--workdir", type=Path, help="Scratch folder (default: a temp folder).")
    parser.add_argument("--keep", action="store_true", help="Keep the scratch folder.")
    parser.add_argument("--quiet", action="store_true", help="No progress lines on stderr.")
    args = parser.parse_args(argv)
    args.objects = args.objects or ([QUICK_OBJECTS] if args.quick else [1000, 10_000, 100_000])
    args.repeat = args.repeat or (1 if args.quick else 3)
    if args.db is None:
        args.db = ["sqlite", "postgresql"] if args.pg_url else ["sqlite"]
    if "postgresql" in args.db and not args.pg_url:
        parser.error(f"--db postgresql needs --pg-url or ${PG_ENV}")
    if args.repeat < 1 or args.terraform_repeat < 1:
        parser.error("--repeat and --terraform-repeat must be at least 1")
    return args


def bench(
    args: argparse.Namespace, work: Path, save: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """Every figure; ``save`` gets the document so far after each run, so a long run that
    fails or is stopped keeps what it measured."""
    runner = Runner(work / "logs", child_env(work / "home"), quiet=args.quiet)
    compile_appsync()
    scratches: dict[str, Callable[[], Scratch]] = {
        "sqlite": lambda: SqliteScratch(work / "sqlite"),
        "postgresql": lambda: PostgresScratch(args.pg_url),
    }
    pg_version = None
    if "postgresql" in args.db:
        probe = PostgresScratch(args.pg_url)
        pg_version = probe.version()
        probe.close()
    tf_on = terraform.executable() is not None and not args.no_terraform
    document: dict[str, Any] = {
        "format": 1,
        "complete": False,
        "machine": machine(pg_version),
        "settings": {
            "objects": args.objects,
            "db": args.db,
            "repeat": args.repeat,
            "terraform_repeat": args.terraform_repeat,
            "terraform_max": args.terraform_max,
            "terraform_apply_max": args.terraform_apply_max,
            "seed": args.seed,
            "mutate_percent": args.mutate_percent,
            "quick": args.quick,
            "settled": not args.quick,
        },
        "floor_of": {step: list(parts) for step, parts in report.FLOOR_OF.items()},
        "floor_labels": report.FLOOR_LABELS,
        "notes": NOTES,
        "rss_baseline_mib": round(runner.once(["true"]).peak_rss_mib, 1),
        "startup": startup(runner, args.repeat),
        "runs": [],
        "terraform": [],
    }
    save(document)
    for size in args.objects:
        tf_here = tf_on and size <= args.terraform_max
        trees: dict[str, Any] = {}
        runs = []
        for db in args.db:
            scratch = scratches[db]()
            folder = work / f"{size}-{db}"
            try:
                scenario = Scenario(
                    runner,
                    scratch,
                    folder,
                    objects=size,
                    seed=args.seed,
                    percent=args.mutate_percent,
                    repeat=args.repeat,
                    settle=not args.quick,
                )
                runs.append(scenario.run(keep_trees=tf_here and not trees))
                trees = trees or scenario.trees
            finally:
                scratch.close()
                if not args.keep:
                    shutil.rmtree(folder, ignore_errors=True)
            runs[-1]["ratios"] = report.ratios(runs[-1], None)
            document["runs"].append(runs[-1])
            save(document)
        document["terraform"].append(_terraform(args, runner, work, size, tf_on, trees))
        for run in runs:
            run["ratios"] = report.ratios(run, document["terraform"][-1])
        save(document)
    document["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    document["complete"] = True
    save(document)
    return document


def _terraform(
    args: argparse.Namespace, runner: Runner, work: Path, size: int, on: bool, trees: Any
) -> dict[str, Any]:
    if not on:
        why = "--no-terraform" if args.no_terraform else "terraform is not on PATH"
        return {"objects": size, "skipped": why}
    if size > args.terraform_max:
        return {"objects": size, "skipped": f"above --terraform-max {args.terraform_max}"}
    runner.say(f"[{size:,} objects, terraform]")
    folder = work / f"{size}-terraform"
    try:
        bench = terraform.TerraformBench(
            runner, folder, args.terraform_repeat, args.terraform_apply_max
        )
        steps = bench.run(trees["before"], trees["after"])
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return {
        "objects": size,
        "steps": {key: f.to_json() for key, f in steps.items()},
        "skipped_steps": bench.skipped,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # A plain kill must still drop the PostgreSQL databases and the scratch folder.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="appsync-bench-", dir=args.workdir))

    def save(document: dict[str, Any]) -> None:
        if args.json:
            args.json.write_text(json.dumps(document, indent=2) + "\n")

    try:
        document = bench(args, work, save)
    except (BenchError, psycopg.Error, subprocess.CalledProcessError) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        if args.json:
            print(f"bench: the figures measured so far are in {args.json}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"bench: scratch folder kept: {work}", file=sys.stderr)
    print(report.table(document))
    if args.json:
        print(f"\nWrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
