"""The benchmark harness (bench/): ``run.py --quick`` works and its JSON holds every figure,
on SQLite and PostgreSQL; the generator is deterministic. No timing is asserted: targets
live in the benchmark, not in timed tests."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PgServer
from tests.helpers import table_digest

BENCH = Path(__file__).resolve().parents[1] / "bench"

APPSYNC_STEPS = {
    "export_commit",
    "noop_export",
    "export_changed",
    "full_apply",
    "noop_plan",
    "plan_changed",
    "apply_changed",
    "pack",
    "unpack",
}
FLOOR_STEPS = {
    "select_source",
    "select_target",
    "git_commit",
    "hash_files",
    "write_all",
    "write_changed",
    "zip_pack",
    "zip_unpack",
}
TERRAFORM_STEPS = {
    "apply_empty",
    "noop_plan",
    "noop_plan_no_refresh",
    "plan_changed",
    "apply_changed",
}


@pytest.fixture(scope="session")  # once: the group's tests may not run back to back
def quick(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One ``--quick`` run for the session (its tests share a worker); PostgreSQL comes
    from the environment."""
    out = tmp_path_factory.mktemp("bench") / "out.json"
    done = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--quiet", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "export + commit" in done.stdout  # the table is printed
    document: dict[str, Any] = json.loads(out.read_text())
    return document


def _is_figure(figure: dict[str, Any], runs: int) -> bool:
    return (
        figure["seconds"] > 0
        and figure["peak_rss_mib"] > 0
        and len(figure["runs"]) == runs
        and figure["command"] != ""
    )


def _check_run(document: dict[str, Any], db: str) -> None:
    runs = [run for run in document["runs"] if run["db"] == db]
    assert [run["objects"] for run in runs] == document["settings"]["objects"]
    repeat = document["settings"]["repeat"]
    for run in runs:
        assert set(run["appsync"]) == APPSYNC_STEPS
        assert set(run["floor"]) == FLOOR_STEPS
        for name, figure in run["appsync"].items():
            assert _is_figure(figure, 1 if name == "export_changed" else repeat), name
            assert "appsync" in figure["command"]
        for name, figure in run["floor"].items():
            assert _is_figure(figure, repeat), name
        assert sum(run["counts"].values()) == run["objects"]
        assert set(run["counts"]) == {
            "app",
            "role",
            "user",
            "page",
            "table",
            "query",
            "workflow",
            "function",
            "file",
            "report",
            "connector",
        }
        percent = document["settings"]["mutate_percent"]
        assert run["changed"] == max(1, round(run["objects"] * percent / 100))
        ratios = run["ratios"]["appsync/floor"]
        assert set(ratios) == APPSYNC_STEPS and all(r > 0 for r in ratios.values())


#: The three tests of one --quick run share a worker (a second worker would run it again).
QUICK = pytest.mark.xdist_group("bench-quick")


@pytest.mark.slow
@QUICK
def test_quick_holds_every_sqlite_figure(quick: dict[str, Any]) -> None:
    _check_run(quick, "sqlite")


@pytest.mark.slow
@pytest.mark.postgres
@QUICK
def test_quick_holds_every_postgresql_figure(pg_server: PgServer, quick: dict[str, Any]) -> None:
    assert "postgresql" in quick["settings"]["db"]
    assert quick["machine"]["postgresql"]
    _check_run(quick, "postgresql")


@pytest.mark.slow
@QUICK
def test_quick_holds_startup_terraform_and_machine(quick: dict[str, Any]) -> None:
    repeat = quick["settings"]["repeat"]
    assert quick["complete"] is True
    assert quick["settings"]["settled"] is False  # --quick does not wait for the tree
    assert [run["settled"] for run in quick["runs"]] == [False] * len(quick["runs"])
    assert set(quick["startup"]) == {"version", "plan_help", "python"}
    assert all(_is_figure(f, repeat) for f in quick["startup"].values())
    machine = quick["machine"]
    for key in ("cpu_count", "python", "platform", "date", "appsync_commit", "git", "sqlite"):
        assert machine[key], key
    assert len(quick["terraform"]) == len(quick["settings"]["objects"])
    for entry in quick["terraform"]:
        if shutil.which("terraform") is None:
            assert entry["skipped"] == "terraform is not on PATH"
            continue
        assert set(entry["steps"]) == TERRAFORM_STEPS and entry["skipped_steps"] == {}
        assert all(
            _is_figure(f, quick["settings"]["terraform_repeat"]) for f in entry["steps"].values()
        )
        for run in quick["runs"]:
            assert set(run["ratios"]["terraform/appsync"]) == TERRAFORM_STEPS


def _generate(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / "generate.py"), *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _digest(url: str) -> dict[str, str]:
    digest = table_digest(url)
    del digest["appsync_meta"]  # instance init draws the instance_id at random
    return digest


def test_generator_is_deterministic(db_url: str, second_db: str, tmp_path: Path) -> None:
    assert "Generated 200 objects" in _generate(db_url, "--objects", "200", "--seed", "7")
    _generate(second_db, "--objects", "200", "--seed", "7")
    first = _digest(db_url)
    assert first == _digest(second_db)

    changed = [tmp_path / "a.json", tmp_path / "b.json"]
    for url, ids in zip((db_url, second_db), changed, strict=True):
        assert "Changed 10 objects" in _generate(
            url, "--mutate", "5", "--seed", "3", "--changed", str(ids)
        )
    assert changed[0].read_bytes() == changed[1].read_bytes()
    mutated = _digest(db_url)
    assert mutated == _digest(second_db)
    touched = set(json.loads(changed[0].read_text()))
    assert {t for t in first if first[t] != mutated[t]} == touched


def test_another_seed_gives_other_rows(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db")]
    for url, seed in zip(urls, ("1", "2"), strict=True):
        _generate(url, "--objects", "100", "--seed", seed)
    a, b = _digest(urls[0]), _digest(urls[1])
    assert all(a[table] != b[table] for table in a if not table.startswith("appsync_"))


def test_saved_commands_never_hold_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("bench_measure", BENCH / "measure.py")
    assert spec is not None and spec.loader is not None
    measure = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_measure", measure)  # dataclasses look it up
    spec.loader.exec_module(measure)
    shown = measure._show(["appsync", "plan", "postgresql+psycopg://bench:s3cr3t@db:5432/x"])
    assert "s3cr3t" not in shown and "postgresql+psycopg://bench:***@db:5432/x" in shown


def test_the_harness_waits_out_the_parse_caches_racy_margin() -> None:
    """No-op figures are of a settled tree: the harness sleeps past RACY_NS (if the margin
    grows, the harness must follow)."""
    import re

    from appsync.canonical.cache import RACY_NS

    found = re.search(r"^RACY_SECONDS = ([0-9.]+)$", (BENCH / "run.py").read_text(), re.M)
    assert found is not None
    assert RACY_NS / 1e9 < float(found.group(1)) < RACY_NS / 1e9 + 1
