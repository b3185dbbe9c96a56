"""The parse cache (appsync.canonical.cache): an unchanged file is not parsed again, and a
changed byte anywhere — the object file, a sidecar, the cache itself — is never missed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from appsync.canonical.cache import ParseCache, cache_file
from appsync.canonical.tree import parse
from appsync.errors import ConfigError, TreeError
from appsync.gitstore import open_repo
from appsync.kinds import registry
from tests.helpers import git, run


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, str]:
    dev = f"sqlite:///{tmp_path / 'dev.db'}"
    assert run("instance", "init", dev, "--example").exit_code == 0
    assert run("init", str(tmp_path / "repo")).exit_code == 0
    repo = tmp_path / "repo"
    assert run("export", dev, "--repo", str(repo), "-m", "Export").exit_code == 0
    return repo, dev


def _cache(repo: Path) -> Path:
    path = cache_file(repo / ".git", registry(), "")
    assert path is not None
    return path


def _plan(repo: Path, dev: str) -> dict[str, object]:
    done = run("plan", dev, "--repo", str(repo), "--format", "json")
    assert done.exit_code in (0, 2), done.stderr
    plan = json.loads(done.stdout)
    for when in ("created_at", "digest"):  # the time it was made, and the seal over it
        plan.pop(when)
    return plan


def _same_stat(path: Path, edit: bytes) -> None:
    """Rewrite ``path`` with bytes of the same length and the same mtime: what a stat-based
    cache would take for unchanged."""
    before = path.stat()
    assert len(edit) == before.st_size
    path.write_bytes(edit)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_a_plan_fills_the_cache_outside_the_tree_and_reuses_it(project: tuple[Path, str]) -> None:
    repo, dev = project
    first = _plan(repo, dev)
    cache = _cache(repo)
    assert cache.is_file() and ".git" in cache.parts
    assert git(repo, "status", "--porcelain") == ""  # nothing new for Git to see
    entries = json.loads(cache.read_bytes())["entries"]
    assert "apps/invoices/functions/calculate-vat.json" in entries
    assert _plan(repo, dev) == first


def test_an_edit_the_file_system_cannot_see_is_still_planned(project: tuple[Path, str]) -> None:
    repo, dev = project
    _plan(repo, dev)
    role = repo / "admin/roles/viewers.json"
    _same_stat(role, role.read_bytes().replace(b'"Viewers"', b'"Viewerz"'))
    sidecar = repo / "apps/invoices/functions/calculate-vat.js"
    text = sidecar.read_bytes()
    _same_stat(sidecar, text.replace(b"return", b"retUrn", 1))
    changed = {(c["kind"], c["name"]) for c in _plan(repo, dev)["changes"]}  # type: ignore[union-attr,index]
    assert ("role", "Viewerz") in changed
    assert any(kind == "function" for kind, _ in changed)


def test_a_damaged_or_foreign_cache_is_ignored(project: tuple[Path, str]) -> None:
    repo, dev = project
    clean = _plan(repo, dev)
    cache = _cache(repo)
    document = json.loads(cache.read_bytes())
    path = "admin/roles/viewers.json"
    record = document["entries"][path][3]
    record[1]["name"], record[3] = "Forged", "sha256:" + "0" * 64  # content no file has
    document["stamp"][1] = "0.0.0-another-appsync"
    cache.write_text(json.dumps(document))
    assert _plan(repo, dev) == clean
    for damage in (b"{", b"[]", b'{"stamp": 1, "entries": []}', os.urandom(64)):
        cache.write_bytes(damage)
        assert _plan(repo, dev) == clean


def test_a_damaged_entry_is_a_miss_not_an_error(project: tuple[Path, str]) -> None:
    repo, _ = project
    reg = registry()
    files = open_repo(repo).work_tree_files(["apps", "admin"])
    path = _cache(repo)
    cache = ParseCache(path, reg)
    objs = parse(reg, files, cache)
    cache.save()
    document = json.loads(path.read_bytes())
    for entry in document["entries"].values():
        entry[3] = [None]  # every record broken
    path.write_text(json.dumps(document))
    again = parse(reg, files, ParseCache(path, reg))
    assert [(o.key, o.rev, o.content) for o in again] == [(o.key, o.rev, o.content) for o in objs]


def test_files_with_problems_are_reported_every_time(project: tuple[Path, str]) -> None:
    repo, _ = project
    (repo / "admin/roles/broken.json").write_text('{"id": 1}')
    for _ in range(2):
        done = run("validate", "--repo", str(repo))
        assert done.exit_code == 1 and "admin/roles/broken.json" in done.stderr


def test_binary_sidecars_and_history_survive_the_cache(project: tuple[Path, str]) -> None:
    repo, _ = project
    reg = registry()
    files = open_repo(repo).work_tree_files(["apps", "admin"])
    path = _cache(repo)
    cold = parse(reg, files)
    cache = ParseCache(path, reg)
    parse(reg, files, cache)
    cache.save()
    warm = parse(reg, files, ParseCache(path, reg))
    assert any(isinstance(v, bytes) for o in warm for v in o.content.values())
    for a, b in zip(cold, warm, strict=True):
        assert (a, a.path, a.placeholders) == (b, b.path, b.placeholders)


def test_a_cache_with_binary_content_is_saved_again_after_a_change(
    project: tuple[Path, str],
) -> None:
    """A hit on an object with a binary sidecar leaves the cache's own record as it was, so
    the cache is rewritten after a later change."""
    repo, _ = project
    reg = registry()
    path = _cache(repo)
    files = open_repo(repo).work_tree_files(["apps", "admin"])
    cache = ParseCache(path, reg)
    parse(reg, files, cache)
    cache.save()
    role = repo / "admin/roles/accountants.json"
    role.write_text(role.read_text().replace('"Accountants"', '"Accountant team"', 1))
    files = open_repo(repo).work_tree_files(["apps", "admin"])
    cache = ParseCache(path, reg)
    first = parse(reg, files, cache)
    cache.save()
    assert [o.content for o in first] == [o.content for o in parse(reg, files)]
    entry = json.loads(path.read_bytes())["entries"]["admin/roles/accountants.json"]
    assert "Accountant team" in json.dumps(entry)


def test_a_cache_of_other_code_is_not_used(
    project: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stamp names the code that parsed: an edited appsync (same version) parses again."""
    from appsync.canonical import cache as cache_module

    repo, _ = project
    reg = registry()
    files = open_repo(repo).work_tree_files(["apps", "admin"])
    cache = ParseCache(_cache(repo), reg)
    parse(reg, files, cache)
    cache.save()
    warm = ParseCache(_cache(repo), reg)
    assert warm._entries
    monkeypatch.setattr(cache_module, "code_fingerprint", lambda: "other code")
    assert ParseCache(_cache(repo), reg)._entries == {}


def test_switched_off_with_an_environment_variable(
    project: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, dev = project
    monkeypatch.setenv("APPSYNC_NO_CACHE", "1")
    _plan(repo, dev)
    assert not (repo / ".git/appsync").exists()


def test_manifests_are_parsed_again_when_they_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parsed kind manifests are kept in the user's cache by the digest of their bytes."""
    import shutil

    from appsync.kinds.load import load_registry, manifests_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "reference"
    shutil.copytree(manifests_dir() / "reference", folder)
    first = load_registry(folder)
    kept = list((tmp_path / "cache/appsync/manifests").glob("reference-*.json"))
    assert len(kept) == 1
    assert load_registry(folder).get("role").model_dump() == first.get("role").model_dump()
    role = folder / "role.yaml"
    role.write_text(role.read_text().replace("risk: high", "risk: medium", 1))
    assert load_registry(folder).get("role").risk == "medium"
    # YAML that JSON cannot carry as it is (a number as a key) is never kept: validation
    # sees it as YAML gave it, on every run.
    role.write_text(role.read_text() + "\n1: one\n")
    for _ in range(2):
        with pytest.raises(ConfigError):
            load_registry(folder)
    role.write_text(role.read_text().replace("\n1: one\n", ""))
    for damage in (b"{", b"[]", b'{"platform.yaml": 1}'):
        for path in (tmp_path / "cache/appsync/manifests").glob("*.json"):
            path.write_bytes(damage)
        assert load_registry(folder).get("role").risk == "medium"


# Files known by their lstat signature are not read again (as ``git status`` trusts its
# index), and every way a file can change without the signature the cache trusted is seen.


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tree files read from here on (every read goes through fsio.read_regular)."""
    from appsync import fsio

    done: list[str] = []
    real = fsio.read_regular

    def counted(path: Path | str, rel: str, limit: int | None) -> bytes:
        done.append(rel)
        return real(path, rel, limit)

    monkeypatch.setattr(fsio, "read_regular", counted)
    return done


def _parse_work_tree(repo: Path) -> list[object]:
    reg = registry()
    opened = open_repo(repo)
    cache = opened.parse_cache(reg)
    files = opened.work_tree_files(["apps", "admin"], cache=cache)
    return [(o.key, o.rev, o.content) for o in opened.parse(reg, files, cache)]


def _trust_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust signatures however recent (the tree was just written): what a later run does
    once the files are older than RACY_NS."""
    from appsync.canonical import cache as cache_module

    monkeypatch.setattr(cache_module, "RACY_NS", -(10**12))


def test_files_known_by_their_signature_are_not_read(
    project: tuple[Path, str], reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = project
    cold = _parse_work_tree(repo)  # fills the cache, records the signatures
    assert len(reads) > 29
    reads.clear()
    assert _parse_work_tree(repo) == cold  # signatures too recent: read, checked by digest
    assert len(reads) > 29
    _trust_now(monkeypatch)
    reads.clear()
    assert _parse_work_tree(repo) == cold  # stamped again; now they are trusted
    reads.clear()
    assert _parse_work_tree(repo) == cold
    assert reads == []


@pytest.mark.parametrize(
    "path",
    ["admin/roles/viewers.json", "apps/invoices/functions/calculate-vat.js"],
    ids=["object file", "sidecar"],
)
def test_a_trusted_file_edited_behind_its_size_and_mtime_is_seen(
    project: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    repo, _ = project
    _trust_now(monkeypatch)
    before = _parse_work_tree(repo)
    assert _parse_work_tree(repo) == before  # trusted from here on
    target = repo / path
    old, new = (b'"Viewers"', b'"Viewerz"') if path.endswith(".json") else (b"return", b"retUrn")
    data = target.read_bytes()
    assert old in data
    _same_stat(target, data.replace(old, new, 1))  # same size and mtime: the ctime tells
    after = _parse_work_tree(repo)
    assert after != before
    assert new.decode().strip('"') in repr(after)


def test_a_trusted_file_replaced_by_a_link_is_refused(
    project: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = project
    _trust_now(monkeypatch)
    _parse_work_tree(repo)
    _parse_work_tree(repo)
    role = repo / "admin/roles/viewers.json"
    outside = repo.parent / "outside.json"
    outside.write_bytes(role.read_bytes())
    role.unlink()
    role.symlink_to(outside)
    with pytest.raises(TreeError, match=r"viewers\.json: a symbolic link"):
        _parse_work_tree(repo)


def test_a_damaged_stamp_is_a_miss(
    project: tuple[Path, str], reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = project
    _trust_now(monkeypatch)
    clean = _parse_work_tree(repo)
    _parse_work_tree(repo)
    path = _cache(repo)
    document = json.loads(path.read_bytes())
    stamps: list[object] = ["x", [1, 2], [None, [0] * 5, {}], [2**70, "size", {}], None]
    for i, entry in enumerate(document["entries"].values()):
        entry[4] = stamps[i % len(stamps)]
    path.write_text(json.dumps(document))
    reads.clear()
    assert _parse_work_tree(repo) == clean
    assert len(reads) > 29  # nothing trusted: every file read and checked by its digest


def test_a_no_op_export_reads_no_file_it_knows(
    project: tuple[Path, str], reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, dev = project
    _trust_now(monkeypatch)
    for _ in range(2):
        assert run("export", dev, "--repo", str(repo)).exit_code == 0
    reads.clear()
    assert run("export", dev, "--repo", str(repo)).exit_code == 0
    assert reads == []
    # A file changed behind its size and mtime is an uncommitted edit export sees...
    role = repo / "admin/roles/viewers.json"
    clean = role.read_bytes()
    _same_stat(role, clean.replace(b'"Viewers"', b'"Viewerz"'))
    refused = run("export", dev, "--repo", str(repo))
    assert refused.exit_code == 1 and "admin/roles/viewers.json" in refused.stderr
    # ... and writes back from the instance when told to.
    assert run("export", dev, "--repo", str(repo), "--force").exit_code == 0
    assert role.read_bytes() == clean
    assert git(repo, "status", "--porcelain") == ""
