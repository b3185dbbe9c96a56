"""Git hygiene (issue 10, section 1): export commits the files it writes and nothing else;
init keeps databases, plans and local state out of Git. Read back with the git CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from appsync.instance.example import uid
from appsync.usecases.init import ensure_gitignore, gitignore_lines
from tests.helpers import git, run
from tests.sync_helpers import sql

QUERY = "apps/invoices/data/queries/monthly-totals"


def fsck(repo: Path) -> None:
    subprocess.run(["git", "-C", str(repo), "fsck", "--strict"], check=True, capture_output=True)


def committed(repo: Path, ref: str = "HEAD") -> list[str]:
    """The paths a commit changed."""
    return git(repo, "show", "--name-only", "--format=", ref).split()


def everything_ever_committed(repo: Path) -> set[str]:
    return set(git(repo, "log", "--all", "--name-only", "--format=").split())


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, str]:
    """examples/repo's layout: the SQLite file beside appsync.yaml, an environment for it."""
    repo = tmp_path / "repo"
    assert run("init", str(repo)).exit_code == 0
    assert run("instance", "init", f"sqlite:///{repo / 'dev.db'}", "--example").exit_code == 0
    assert run("env", "add", "dev", "--url", "sqlite:///dev.db", "--repo", str(repo)).exit_code == 0
    return repo, f"sqlite:///{repo / 'dev.db'}"


def edit_query(url: str) -> None:
    sql(
        url,
        "UPDATE queries SET sql = :s WHERE id = :id",
        s="SELECT 42\n",
        id=uid("query/monthly-totals"),
    )


def test_export_never_commits_the_database_beside_it(layout: tuple[Path, str]) -> None:
    repo, url = layout
    assert run("export", "dev", "--repo", str(repo)).exit_code == 0
    edit_query(url)
    result = run("export", "dev", "--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert committed(repo) == [f"{QUERY}.json", f"{QUERY}.sql"]
    ever = everything_ever_committed(repo)
    assert "dev.db" not in ever and "dev.db-journal" not in ever
    assert all(
        p.startswith(("apps/", "admin/")) or p.startswith(".git") or p == "appsync.yaml"
        for p in ever
    )
    # appsync.yaml (env add) is the user's change: left alone, still uncommitted.
    assert git(repo, "status", "--porcelain") == " M appsync.yaml\n"
    fsck(repo)


def test_without_a_gitignore_the_database_is_still_left_alone(layout: tuple[Path, str]) -> None:
    repo, _url = layout
    git(repo, "rm", "-q", ".gitignore")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "no ignore")
    assert run("export", "dev", "--repo", str(repo)).exit_code == 0
    assert "dev.db" not in everything_ever_committed(repo)
    assert "?? dev.db" in git(repo, "status", "--porcelain")


def test_stray_files_are_left_alone_and_those_in_its_folders_reported(
    layout: tuple[Path, str],
) -> None:
    repo, url = layout
    assert run("export", "dev", "--repo", str(repo)).exit_code == 0
    (repo / "plan.json").write_text("{}")
    (repo / "secret.env").write_text("PASSWORD=hunter2\n")
    (repo / "notes.txt").write_text("mine\n")
    (repo / ".gitignore").write_text("# my own rules\n")
    (repo / "apps/invoices/NOTES.md").write_text("draft\n")
    (repo / "admin/draft.txt").write_text("draft\n")
    edit_query(url)
    result = run("export", "dev", "--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert committed(repo) == [f"{QUERY}.json", f"{QUERY}.sql"]
    warning = [line for line in result.stderr.splitlines() if "left alone" in line]
    assert len(warning) == 1, result.stderr
    assert "admin/draft.txt, apps/invoices/NOTES.md" in warning[0]
    assert "notes.txt" not in result.stderr and "secret.env" not in result.stderr
    status = git(repo, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert sorted(status) == sorted(
        [
            " M .gitignore",
            " M appsync.yaml",
            "?? admin/draft.txt",
            "?? apps/invoices/NOTES.md",
            "?? dev.db",  # the user's own .gitignore no longer ignores it: still left alone
            "?? notes.txt",
            "?? plan.json",
            "?? secret.env",
        ]
    )
    fsck(repo)


def test_what_the_user_staged_stays_staged_and_out_of_the_commit(
    layout: tuple[Path, str],
) -> None:
    repo, url = layout
    assert run("export", "dev", "--repo", str(repo)).exit_code == 0
    (repo / "README.md").write_text("# mine\n")
    git(repo, "add", "README.md", "appsync.yaml")
    (repo / "appsync.yaml").write_text((repo / "appsync.yaml").read_text() + "# later\n")
    edit_query(url)
    assert run("export", "dev", "--repo", str(repo)).exit_code == 0
    assert committed(repo) == [f"{QUERY}.json", f"{QUERY}.sql"]
    assert git(repo, "diff", "--cached", "--name-only").split() == ["README.md", "appsync.yaml"]
    assert git(repo, "status", "--porcelain") == "A  README.md\nMM appsync.yaml\n"
    assert "# later" not in git(repo, "show", ":appsync.yaml")  # the staged version, kept
    fsck(repo)


def test_a_staged_version_of_an_appsync_file_is_not_overwritten(
    layout: tuple[Path, str],
) -> None:
    repo, _url = layout
    assert run("export", "dev", "--repo", str(repo)).exit_code == 0
    sql_file = repo / f"{QUERY}.sql"
    original = sql_file.read_bytes()
    sql_file.write_text("SELECT 'staged by me'\n")
    git(repo, "add", f"{QUERY}.sql")
    sql_file.write_bytes(original)  # the work tree is as HEAD, the index is not
    result = run("export", "dev", "--repo", str(repo))
    assert result.exit_code == 1 and "would overwrite 1 uncommitted change" in result.stderr
    assert "SELECT 'staged by me'" in git(repo, "show", f":{QUERY}.sql")
    forced = run("export", "dev", "--repo", str(repo), "--force")
    assert forced.exit_code == 0, forced.output
    assert git(repo, "status", "--porcelain") == " M appsync.yaml\n"


def test_a_staged_deletion_of_a_file_export_rewrites_is_not_overwritten(
    layout: tuple[Path, str],
) -> None:
    repo, url = layout
    assert run("export", "dev", "--repo", str(repo)).exit_code == 0
    git(repo, "rm", "-q", "--cached", f"{QUERY}.sql")  # staged for deletion, kept on disk
    head = git(repo, "rev-parse", "HEAD")
    edit_query(url)
    result = run("export", "dev", "--repo", str(repo))
    assert result.exit_code == 1 and "uncommitted change" in result.stderr, result.output
    assert f"{QUERY}.sql" not in git(repo, "ls-files").split()  # the staged deletion stays
    assert git(repo, "rev-parse", "HEAD") == head  # nothing was committed
    assert run("export", "dev", "--repo", str(repo), "--force").exit_code == 0
    assert f"{QUERY}.sql" in git(repo, "ls-files").split()


def test_no_commit_then_export_commits_what_export_wrote(layout: tuple[Path, str]) -> None:
    repo, _url = layout
    assert run("export", "dev", "--repo", str(repo), "--no-commit").exit_code == 0
    (repo / "apps/invoices/NOTES.md").write_text("draft\n")
    result = run("export", "dev", "--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert "No changes" in result.output and "Committed" in result.output
    paths = committed(repo)
    assert len(paths) > 20 and all(p.startswith(("apps/", "admin/")) for p in paths)
    assert "apps/invoices/NOTES.md" not in paths
    assert git(repo, "status", "--porcelain") == " M appsync.yaml\n?? apps/invoices/NOTES.md\n"


def test_a_file_deleted_by_hand_is_committed_as_deleted(layout: tuple[Path, str]) -> None:
    repo, url = layout
    assert run("export", "dev", "--repo", str(repo)).exit_code == 0
    sql(url, "DELETE FROM queries WHERE id = :id", id=uid("query/monthly-totals"))
    (repo / f"{QUERY}.json").unlink()
    (repo / f"{QUERY}.sql").unlink()
    result = run("export", "dev", "--repo", str(repo))
    assert result.exit_code == 0, result.output
    assert git(repo, "show", "--name-status", "--format=", "HEAD").split() == [
        "D",
        f"{QUERY}.json",
        "D",
        f"{QUERY}.sql",
    ]
    assert git(repo, "status", "--porcelain") == " M appsync.yaml\n"


# ---------------------------------------------------------------------------- .gitignore


IGNORED = [
    "dev.db",
    "data/prod.sqlite",
    "x.sqlite3",
    "dev.db-journal",
    "dev.db-wal",
    "dev.db-shm",
    "plan.json",
    "prod.plan.json",
    "plans/today.json",
    ".appsync/state.json",
    "secret.env",
    ".env",
    "apps/invoices/files/.logo.png.x1y2.appsync-tmp",
]
KEPT = [
    "apps/invoices/ui/pages/plan.json",
    "apps/invoices/files/data.db",
    "apps/invoices/files/backup.sqlite",
    "apps/invoices/files/settings.env",
    "apps/invoices/plans/x.json",
    "admin/users/plan.json",
    "appsync.yaml",
    "README.md",
]


def check_ignore(repo: Path, path: str) -> bool:
    done = subprocess.run(["git", "-C", str(repo), "check-ignore", "-q", path], check=False)
    return done.returncode == 0


def test_init_writes_a_gitignore_for_databases_plans_and_local_state(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    assert run("init", str(repo)).exit_code == 0
    assert sorted(committed(repo)) == [".gitattributes", ".gitignore", "appsync.yaml"]
    assert git(repo, "status", "--porcelain") == ""
    fsck(repo)
    for path in IGNORED:
        assert check_ignore(repo, path), f"{path} should be ignored"
    for path in KEPT:
        assert not check_ignore(repo, path), f"{path} is tree content or the user's: not ignored"


def test_ensure_gitignore_adds_only_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\n*.db\n")
    data = ensure_gitignore(tmp_path).decode()
    assert data.startswith("node_modules/\n*.db\n")
    assert data.count("*.db") == 1 and "*.sqlite3" in data
    assert data.endswith("!/apps/**\n!/admin/**\n.*.appsync-tmp\n")
    assert ensure_gitignore(tmp_path).decode() == data  # complete: unchanged
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert ensure_gitignore(fresh).decode() == "\n".join(gitignore_lines()) + "\n"


def test_temporary_files_of_a_dead_writer_are_swept_those_of_a_live_one_kept(
    layout: tuple[Path, str],
) -> None:
    repo, _ = layout
    assert run("export", "dev", "--repo", str(repo)).exit_code == 0
    gone = subprocess.Popen(["true"])
    gone.wait()
    alive = subprocess.Popen(["sleep", "30"])
    try:
        folder = repo / "apps/invoices/data/queries"
        stale = folder / f".monthly-totals.sql.{gone.pid}.abc123.appsync-tmp"
        busy = folder / f".monthly-totals.sql.{alive.pid}.def456.appsync-tmp"
        stale.write_text("half")
        busy.write_text("being written")
        result = run("export", "dev", "--repo", str(repo))
        assert result.exit_code == 0, result.output
        assert "removed 1 temporary file(s) of an interrupted appsync" in result.stderr
        assert not stale.exists() and busy.exists()
        assert run("plan", "dev", "--repo", str(repo)).exit_code == 0  # temps are no content
    finally:
        alive.kill()
        alive.wait()
