"""Selection (``--app``, ``--target``), as ``terraform -target`` does: plan, apply and drift
only some objects of the tree and the target, and say that the result is partial."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from appsync.errors import UsageError
from appsync.kinds import Registry
from appsync.model import Obj


@dataclass(frozen=True)
class Selection:
    """``apps``: names or folder slugs; ``targets``: ``KIND/ID`` or tree paths (a file, or
    a folder for everything under it)."""

    apps: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.apps or self.targets)

    def describe(self) -> str:
        return ", ".join(
            [*(f"--app {a}" for a in self.apps), *(f"--target {t}" for t in self.targets)]
        )


def _match_path(path: str | None, target: str) -> bool:
    if not path:
        return False
    folder = target.rstrip("/")
    return path == target or path.startswith(folder + "/")


class Selected:
    """Which object keys and paths a selection keeps, resolved against both sides."""

    def __init__(self, registry: Registry, selection: Selection, *sides: Iterable[Obj]) -> None:
        from appsync.usecases.plan import app_ids

        objs = [o for side in sides for o in side]
        self.selection = selection
        self.app_ids = app_ids(registry, selection.apps, objs) if selection.apps else set()
        missing = [a for a in selection.apps if not app_ids(registry, [a], objs)]
        if missing:
            raise UsageError(f"--app {missing[0]}: no such app in the repo or on the target")
        self.keys: set[tuple[str, str]] = set()
        self.paths: list[str] = []
        for target in selection.targets:
            kind, sep, oid = target.partition("/")
            if sep and kind in registry and "/" not in oid:
                self.keys.add((kind, oid))
            else:
                self.paths.append(target)
        known = {o.key for o in objs}
        for key in self.keys:
            if key not in known:
                raise UsageError(
                    f"--target {key[0]}/{key[1]}: no such object in the repo or on the target"
                )

    def keeps(self, key: tuple[str, str], app_id: str | None, paths: Sequence[str | None]) -> bool:
        if key in self.keys:
            return True
        if app_id is not None and app_id in self.app_ids:
            return True
        return any(_match_path(p, t) for p in paths for t in self.paths)
