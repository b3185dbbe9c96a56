"""apply --write-merged: put the merged objects an apply produced into the work tree, so
that committing them brings the merge into Git."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from appsync.canonical.revs import make_obj
from appsync.canonical.tree import render_object
from appsync.clock import now_utc
from appsync.fsio import write_atomic
from appsync.gitstore import GitRepo
from appsync.kinds import Registry
from appsync.model import HistoryEntry, Obj
from appsync.plan.model import Change, from_jsonable


def write_merged(
    registry: Registry,
    repo: GitRepo,
    changes: Iterable[Change],
    desired: Mapping[tuple[str, str], Obj],
    instance_name: str,
) -> list[str]:
    """Write each merged object at its path; returns the files written."""
    written: list[str] = []
    at = now_utc()
    for change in changes:
        if not change.merged or change.desired is None or change.path is None:
            continue
        spec = registry.get(change.kind)
        binary = [f.name for f in spec.fields.values() if f.type == "bytes"]
        content = from_jsonable(change.desired, binary)
        before = desired.get(change.key)
        merged = make_obj(spec, content)
        history = (
            HistoryEntry(merged.rev, at, f"instance:{instance_name}"),
            *(before.history if before else ()),
        )
        obj = make_obj(spec, content, history)
        for path, data in render_object(spec, obj, change.path).items():
            write_atomic(repo.root / path, data, display=path)
            written.append(path)
    return written
