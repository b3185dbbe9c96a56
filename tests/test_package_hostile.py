"""The hostile corpus: every case refused by verify, unpack and import with exit 1, one
line per problem naming the entry, no traceback, no file written, the target unchanged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import Result

from appsync.kinds import Registry
from appsync.limits import Limits
from appsync.package import read_archive, verify_entries
from appsync.usecases.package import PackOptions, pack_folder
from tests.helpers import run, table_digest
from tests.package_corpus import Case, Entries, cases, example_tree, read_entries, write_tree

CASES = cases()


@pytest.fixture(scope="session")
def base_entries(reg: Registry, tmp_path_factory: pytest.TempPathFactory) -> Entries:
    root = tmp_path_factory.mktemp("corpus-repo")
    write_tree(root, example_tree(reg))
    out = root / "base.zip"
    pack_folder(reg, root / "apps" / "invoices", out, PackOptions(tag="1.0.0", exported_by="t"))
    return read_entries(out.read_bytes())


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('corpus-target') / 'target.db'}"
    assert run("instance", "init", url, "--example").exit_code == 0
    return url


def _package(case: Case, entries: Entries, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("APPSYNC_MAX_IMPORT_SIZE", "1M")
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    path = folder / f"{case.id}.zip"
    path.write_bytes(case.build(entries))
    return path


def _refused(result: Result, case: Case, package: Path) -> list[str]:
    assert result.exit_code == 1, (case.id, result.stdout, result.stderr)
    err = result.stderr
    assert "Traceback" not in err and "internal error" not in err, err
    lines = err.splitlines()
    assert lines, case.id
    prefix = f"appsync: error: {package.name}: "
    assert all(line.startswith(prefix) for line in lines), err
    assert len(lines) == len(set(lines)), f"repeated lines: {err}"
    assert any(case.expect in line for line in lines), (case.expect, err)
    return lines


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


def test_base_package_is_valid(base_entries: Entries, tmp_path: Path) -> None:
    from tests.package_corpus import rezip

    path = tmp_path / "base.zip"
    path.write_bytes(rezip(base_entries))
    result = run("verify", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("OK base.zip: app invoices 1.0.0")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_verify_refuses(
    case: Case, base_entries: Entries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _package(case, base_entries, tmp_path, monkeypatch)
    _refused(run("verify", str(package)), case, package)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_unpack_writes_nothing(
    case: Case, base_entries: Entries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    package = _package(case, base_entries, work, monkeypatch)
    before = sorted(tmp_path.rglob("*"))
    _refused(run("unpack", str(package), "-o", str(work / "out")), case, package)
    assert sorted(tmp_path.rglob("*")) == before
    assert not Path("/tmp/appsync-evil.txt").exists()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_import_changes_nothing(
    case: Case,
    base_entries: Entries,
    target: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    package = _package(case, base_entries, tmp_path, monkeypatch)
    before = table_digest(target)
    _refused(
        run("import", str(package), target, "--yes", "--conflicts", "overwrite"), case, package
    )
    assert table_digest(target) == before


@pytest.mark.postgres
@pytest.mark.parametrize("case_id", ["dotdot", "bomb-lying-size", "secret-credentials"])
def test_import_changes_nothing_on_postgres(
    case_id: str,
    base_entries: Entries,
    pg_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = next(c for c in CASES if c.id == case_id)
    assert run("instance", "init", pg_url, "--example").exit_code == 0
    package = _package(case, base_entries, tmp_path, monkeypatch)
    before = table_digest(pg_url)
    _refused(run("import", str(package), pg_url, "--yes"), case, package)
    assert table_digest(pg_url) == before


def test_bombs_stop_while_streaming(base_entries: Entries, tmp_path: Path) -> None:
    """A 512 MiB bomb declared as 100 bytes, and a 64 MiB one declared honestly: reading
    stops within a few chunks, long before the bytes exist."""
    import time

    from tests.package_corpus import Raw, bomb_stream, raw_zip

    for size, stream_mb in ((100, 512), (64 << 20, 64)):
        path = tmp_path / f"bomb-{stream_mb}.zip"
        bomb = Raw(b"apps/invoices/files/bomb.txt", b"", size=size, crc=0)
        bomb.stream = bomb_stream(stream_mb)
        path.write_bytes(raw_zip([bomb]))
        started = time.perf_counter()
        archive = read_archive(path, Limits(max_size=100 << 20))
        assert time.perf_counter() - started < 0.5
        assert archive.files == {}
        assert any("bomb.txt" in p for p in archive.problems), archive.problems


def test_every_problem_at_once(base_entries: Entries, tmp_path: Path, reg: Registry) -> None:
    """Several defects in one package: all reported, each on its own line."""
    from tests.package_corpus import PAGE, QUERY, rezip

    entries = [(n, b"{broken" if n == PAGE else d) for n, d in base_entries]
    entries += [("../evil", b"x"), ("apps/invoices/widgets/w.json", b"{}")]
    entries = [(n, d.replace(b'"name"', b'"nam"') if n == QUERY else d) for n, d in entries]
    path = tmp_path / "many.zip"
    path.write_bytes(rezip(entries))
    archive = read_archive(path, Limits())
    result = verify_entries(reg, archive.files, names=archive.names, problems=archive.problems)
    text = "\n".join(result.errors)
    for needle in ("../evil", PAGE, "widgets/w.json", f"{QUERY}: unknown field 'nam'"):
        assert needle in text, text
    assert os.path.exists(path)
