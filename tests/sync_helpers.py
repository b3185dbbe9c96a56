"""Fixtures for plan/apply stories: a dev instance exported to a repo and an empty prod."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.helpers import git, run


def sql(url: str, statement: str, **params: object) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(statement), params)
    finally:
        engine.dispose()


def scalar(url: str, statement: str, **params: object) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(statement), params).scalar()
    finally:
        engine.dispose()


@dataclass
class World:
    dev: str
    prod: str
    repo: Path

    def plan(self, *args: str):  # type: ignore[no-untyped-def]
        return run("plan", self.prod, "--repo", str(self.repo), *args)

    def apply(self, *args: str):  # type: ignore[no-untyped-def]
        return run("apply", self.prod, "--repo", str(self.repo), *args)

    def commit(self, message: str) -> None:
        git(self.repo, "add", "-A")
        git(self.repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", message)


def make_world(tmp_path: Path, dev: str, prod: str) -> World:
    assert run("instance", "init", dev, "--example").exit_code == 0
    assert run("instance", "init", prod).exit_code == 0
    repo = tmp_path / "repo"
    assert run("init", str(repo)).exit_code == 0
    assert run("export", dev, "--repo", str(repo), "-m", "Export dev").exit_code == 0
    return World(dev, prod, repo)


def freeze_reports(url: str) -> None:
    """A trigger that makes every insert into reports fail, to break an apply midway."""
    trigger = (
        "CREATE TRIGGER no_reports BEFORE INSERT ON reports "
        "BEGIN SELECT RAISE(ABORT, 'reports are frozen'); END"
    )
    if url.startswith("postgresql"):
        sql(
            url,
            "CREATE FUNCTION frozen() RETURNS trigger LANGUAGE plpgsql AS "
            "$$BEGIN RAISE EXCEPTION 'reports are frozen'; END$$",
        )
        trigger = (
            "CREATE TRIGGER no_reports BEFORE INSERT ON reports "
            "FOR EACH ROW EXECUTE FUNCTION frozen()"
        )
    sql(url, trigger)
