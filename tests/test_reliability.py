"""Apply under faults, as a process a CI runner or an operator would kill (issue 10 §3-4):
SIGKILL at random moments in every transaction mode on SQLite and PostgreSQL, concurrent
applies, a lock session terminated mid-apply, a busy SQLite database, a hot journal. After
each fault every table is checked: each unit is all there or not there, each committed unit
has its audit row, sync state matches what is on the target, and the next apply finishes
the job with a clean plan after it.

The trial count and seed come from APPSYNC_KILL_TRIALS / APPSYNC_KILL_SEED (RELIABILITY.md).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from appsync.instance.example import example_rows
from tests.helpers import run
from tests.sync_helpers import scalar, sql

pytestmark = pytest.mark.reliability

TRIALS = int(os.environ.get("APPSYNC_KILL_TRIALS", "26"))
SEED = int(os.environ.get("APPSYNC_KILL_SEED", "20261201"))
MODES = ("full", "batch", "per-category")
#: Tables per unit of each mode (the reference platform's categories).
UNITS = {
    "full": [
        [
            "roles",
            "users",
            "apps",
            "pages",
            "data_tables",
            "queries",
            "workflows",
            "connectors",
            "functions",
            "files",
            "reports",
        ]
    ],
    "batch": [
        ["roles", "users"],
        ["apps", "pages"],
        ["data_tables", "queries", "workflows", "connectors", "functions"],
        ["files", "reports"],
    ],
    "per-category": [
        ["roles"],
        ["users"],
        ["apps", "pages"],
        ["data_tables", "queries", "workflows", "connectors"],
        ["functions"],
        ["files"],
        ["reports"],
    ],
}
EXPECTED = {table: len(rows) for table, rows in example_rows().items()}


def appsync(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "appsync", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repo exported from the example instance, shared by every trial."""
    root = tmp_path_factory.mktemp("kill-source")
    dev = f"sqlite:///{root / 'dev.db'}"
    assert run("instance", "init", dev, "--example").exit_code == 0
    assert run("init", str(root / "repo")).exit_code == 0
    assert run("export", dev, "--repo", str(root / "repo"), "-m", "Example").exit_code == 0
    return root / "repo"


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                t: int(connection.execute(text(f"SELECT count(*) FROM {t}")).scalar() or 0)
                for t in [*EXPECTED, "appsync_sync_state", "appsync_audit", "appsync_history"]
            }
    finally:
        engine.dispose()


def check_consistent(url: str, mode: str) -> int:
    """Every unit whole or absent, its audit row with it, sync state as the data: returns
    how many units committed."""
    counts = _counts(url)
    committed = 0
    for tables in UNITS[mode]:
        present = [counts[t] == EXPECTED[t] for t in tables]
        absent = [counts[t] == 0 for t in tables]
        assert all(present) or all(absent), (mode, tables, counts)
        committed += all(present)
    objects = sum(counts[t] for t in EXPECTED)
    assert counts["appsync_sync_state"] == objects, counts
    assert counts["appsync_history"] == objects, counts
    assert counts["appsync_audit"] == committed, counts
    return committed


def _new_target(request: pytest.FixtureRequest, backend: str, tmp_path: Path, n: int) -> str:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / f'prod-{n}.db'}"
    else:
        url = request.getfixturevalue("pg_server").new_database()
    assert run("instance", "init", url).exit_code == 0
    return url


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_sigkill_during_apply_leaves_no_partial_unit(
    backend: str, source: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    rng = random.Random(f"{SEED}-{backend}")
    probe = _new_target(request, backend, tmp_path, 0)
    started = time.monotonic()
    done = appsync("apply", probe, "--repo", str(source), "--yes")
    _, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    span = time.monotonic() - started
    outcomes: dict[str, list[int]] = {m: [] for m in MODES}
    for n in range(1, TRIALS + 1):
        mode = MODES[n % len(MODES)]
        url = _new_target(request, backend, tmp_path, n)
        process = appsync("apply", url, "--repo", str(source), "--yes", "--transaction", mode)
        time.sleep(rng.uniform(0.0, span))
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        outcomes[mode].append(check_consistent(url, mode))
        # The next apply finishes the job (a killed SQLite lock row is recognised as dead;
        # PostgreSQL frees a killed client's lock when its server session ends, which may
        # take until the statement it ran ends: the apply waits for it, as RELIABILITY.md
        # tells users to).
        again = run(
            "apply",
            url,
            "--repo",
            str(source),
            "--yes",
            "--transaction",
            mode,
            "--lock-timeout",
            "30",
        )
        assert again.exit_code == 0, again.stderr
        assert run("plan", url, "--repo", str(source), "--detailed-exitcode").exit_code == 0
    print(f"{backend}: units committed before the kill, per mode: {outcomes}")


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_five_concurrent_applies_serialize(
    backend: str, source: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = _new_target(request, backend, tmp_path, 1)
    processes = [
        appsync("apply", url, "--repo", str(source), "--yes", "--lock-timeout", "60")
        for _ in range(5)
    ]
    results = [(p.wait(timeout=180), p.communicate()) for p in processes]
    assert [code for code, _ in results] == [0] * 5, [err for _, (_, err) in results]
    outputs = [out for _, (out, _) in results]
    assert sum("Applied: 29 created" in o for o in outputs) == 1, outputs
    assert sum("Nothing to apply." in o for o in outputs) == 4, outputs
    assert check_consistent(url, "full") == 1
    assert run("plan", url, "--repo", str(source), "--detailed-exitcode").exit_code == 0


@pytest.mark.postgres
def test_a_lock_session_terminated_mid_apply(
    source: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = _new_target(request, "postgres", tmp_path, 1)
    sql(
        url,
        "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN PERFORM pg_sleep(1.5); RETURN NEW; END$$",
    )
    sql(
        url,
        "CREATE TRIGGER slow_reports BEFORE INSERT ON reports FOR EACH ROW EXECUTE FUNCTION slow()",
    )
    process = appsync("apply", url, "--repo", str(source), "--yes", "--transaction", "per-category")
    killer = create_engine(url, isolation_level="AUTOCOMMIT")
    hi, lo = 0x61707073796E63 >> 32, 0x61707073796E63 & 0xFFFFFFFF
    try:
        deadline = time.monotonic() + 60
        terminated = False
        while time.monotonic() < deadline and not terminated:
            with killer.connect() as connection:
                files = connection.execute(text("SELECT count(*) FROM files")).scalar()
                if files:
                    terminated = bool(
                        connection.execute(
                            text(
                                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE "
                                "locktype = 'advisory' AND classid = :hi AND objid = :lo "
                                # Only this database's: other tests' applies run beside it.
                                "AND database = (SELECT oid FROM pg_database "
                                "WHERE datname = current_database())"
                            ),
                            {"hi": hi, "lo": lo},
                        ).scalar()
                    )
            time.sleep(0.05)
        assert terminated
    finally:
        killer.dispose()
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1, (out, err)
    assert "the apply lock was lost" in err
    assert "committed units: roles, users, ui, data, functions, files" in err
    assert scalar(url, "SELECT count(*) FROM reports") == 0
    assert check_consistent(url, "per-category") == 6
    sql(url, "DROP TRIGGER slow_reports ON reports")
    assert run("apply", url, "--repo", str(source), "--yes").exit_code == 0
    assert run("plan", url, "--repo", str(source), "--detailed-exitcode").exit_code == 0


@pytest.fixture
def busy(tmp_path: Path, source: Path) -> Iterator[tuple[str, sqlite3.Connection]]:
    """A SQLite target whose lock another apply holds: its row, and a write transaction."""
    url = f"sqlite:///{tmp_path / 'prod.db'}"
    assert run("instance", "init", url).exit_code == 0
    holder = sqlite3.connect(tmp_path / "prod.db", isolation_level=None)
    holder.execute(
        "INSERT INTO appsync_lock VALUES "
        "('apply', 'ci', 'runner-7', 1, 'apply prod', '2026-12-01T10:00:00Z')"
    )
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield url, holder
    finally:
        holder.rollback()
        holder.close()


def test_a_busy_sqlite_target_is_exit_4_within_the_lock_timeout(
    busy: tuple[str, sqlite3.Connection], source: Path
) -> None:
    url, _ = busy
    started = time.monotonic()
    held = run("apply", url, "--repo", str(source), "--yes", "--lock-timeout", "0")
    assert held.exit_code == 4, held.stderr
    assert time.monotonic() - started < 5
    assert "is locked by" in held.stderr
    started = time.monotonic()
    waited = run("apply", url, "--repo", str(source), "--yes", "--lock-timeout", "1.5")
    assert waited.exit_code == 4
    assert 1.4 < time.monotonic() - started < 8


def test_read_only_commands_work_after_a_write_killed_in_its_commit(
    tmp_path: Path, source: Path
) -> None:
    db = tmp_path / "prod.db"
    url = f"sqlite:///{db}"
    assert run("instance", "init", url).exit_code == 0
    assert run("apply", url, "--repo", str(source), "--yes").exit_code == 0
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
            "c.execute('PRAGMA cache_size = 1')\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "for i in range(200):\n"
            "    c.execute('UPDATE appsync_history SET content = ? WHERE seq = ?',\n"
            "              ('x' * 4000, i % 29 + 1))\n"
            "print('spilled', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "spilled"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()
    assert (tmp_path / "prod.db-journal").stat().st_size > 0  # a hot journal
    for command in (["plan", url], ["log", url], ["drift", url]):
        result = run(*command, "--repo", str(source))
        assert result.exit_code == 0, (command, result.stderr)
    assert run("export", url, "--repo", str(source)).exit_code == 0


def test_force_unlock_names_the_holder_and_breaks_the_lock(
    busy: tuple[str, sqlite3.Connection], source: Path
) -> None:
    url, holder = busy
    holder.rollback()  # the holder's process died: only its row is left (pid 1 is alive)
    asked = run("force-unlock", url, "--repo", str(source))
    assert asked.exit_code == 1
    assert "is locked by ci@runner-7 (pid 1)" in asked.stdout
    assert "refusing to break the lock without --yes" in asked.stderr
    assert run("apply", url, "--repo", str(source), "--yes").exit_code == 4
    done = run("force-unlock", url, "--repo", str(source), "--yes")
    assert done.exit_code == 0 and done.stdout.endswith(f"Unlocked {url}.\n")
    assert run("force-unlock", url, "--repo", str(source)).stdout.endswith(
        "not locked: nothing to do.\n"
    )
    assert run("apply", url, "--repo", str(source), "--yes").exit_code == 0


@pytest.mark.postgres
def test_force_unlock_ends_a_postgres_holder(
    source: Path, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = _new_target(request, "postgres", tmp_path, 1)
    holder = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with holder.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": 0x61707073796E63})
            assert run("apply", url, "--repo", str(source), "--yes").exit_code == 4
            forced = run("force-unlock", url, "--repo", str(source), "--yes")
            assert forced.exit_code == 0, forced.stderr
            assert "locked by another apply (holder unknown)" in forced.stdout
    except Exception as exc:  # the holder's session was ended under it
        assert "terminat" in str(exc).lower() or "closed" in str(exc).lower(), exc
    finally:
        holder.dispose()
    assert run("apply", url, "--repo", str(source), "--yes").exit_code == 0
