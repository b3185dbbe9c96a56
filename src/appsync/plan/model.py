"""The plan as data (format_version 1, DESIGN section 4), with JSON in and out.

A plan written as JSON carries a ``digest`` of everything else in it: ``sha256:`` and the
SHA-256 of its RFC 8785 (JCS) form, or with ``APPSYNC_PLAN_KEY`` set ``hmac-sha256:`` and
an HMAC under that key. :meth:`Plan.load` refuses a plan whose digest is missing or does
not match, so any change after the plan was made (an action, an id, a path, an option, not
only the content) is caught, as Terraform refuses a modified plan file. A plain digest is
not a signature: whoever can edit the file can recompute it; it catches hand edits and
corruption. Only the HMAC, whose key the editor lacks, stops a deliberate change.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from appsync.canonical.jsonform import MAX_DEPTH, jcs, parse_json
from appsync.errors import AppsyncError, TreeError

FORMAT_VERSION = 1
DIGEST = "digest"
KEY_ENV = "APPSYNC_PLAN_KEY"
#: A plan nests the objects' content a few levels below its top.
PLAN_DEPTH = MAX_DEPTH + 8
Risk = Literal["none", "low", "medium", "high", "critical"]
RISKS: tuple[str, ...] = ("none", "low", "medium", "high", "critical")
ACTIONS: tuple[str, ...] = (
    "create",
    "update",
    "delete",
    "conflict",
    "unchanged",
    "orphaned",
    "unmanaged",
    "ahead",
)
#: Actions that write to the target when applied.
WRITES = ("create", "update", "delete")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldDiff(_Frozen):
    path: str
    old: Any = None
    new: Any = None
    #: For a merge: which side the value comes from ("repo", "live" or "both").
    side: str | None = None
    #: ``add`` / ``remove``: a member of a set or an item of a keyed list (or a key) added
    #: or removed; ``move``: a keyed list's new order (old and new name its items).
    op: Literal["add", "remove", "move"] | None = None
    #: A keyed list's item as a person names it (``export``), and where it sits when its
    #: key is unique only there (``pane toolbar``).
    item: str | None = None
    within: str | None = None

    @classmethod
    def of(cls, change: Any, side: str | None = None) -> FieldDiff:
        """From the diff's own :class:`~appsync.diff.fields.FieldChange`."""
        return cls(
            path=change.path,
            old=change.old,
            new=change.new,
            side=side,
            op=change.op,
            item=change.item,
            within=change.within,
        )

    def summary(self, value: Callable[[Any], str]) -> str | None:
        """``widgets: export added (pane toolbar)``, ``grants: + "x"``: the one-line form
        of an added or removed member or item and of a new order; None for other values."""
        where = f" ({self.within})" if self.within else ""
        if self.op in ("add", "remove") and self.item is not None:
            done = "added" if self.op == "add" else "removed"
            return f"{self.path.split('[', 1)[0]}: {self.item} {done}{where}"
        if self.op == "add":
            return f"{self.path}: + {value(self.new)}"
        if self.op == "remove":
            return f"{self.path}: - {value(self.old)}"
        if self.op == "move":
            return f"{self.path}: {value(self.old)} -> {value(self.new)}"
        return None


class Change(_Frozen):
    app: str | None
    kind: str
    id: str
    name: str
    path: str | None
    previous_path: str | None = None
    action: str
    from_rev: str | None = None
    to_rev: str | None = None
    base_rev: str | None = None
    fields: tuple[FieldDiff, ...] = ()
    reason: str = ""
    risk: Risk = "low"
    #: What makes the change as risky as it is (``drops column legacy_code``).
    risk_reason: str = ""
    #: The content to write is a three-way merge of the repo's and the target's (``to_rev``
    #: stays the repo's rev: it is what the sync state records as desired).
    merged: bool = False
    #: The rev of ``desired`` (``to_rev``, or the merged rev): apply refuses content that
    #: does not hash to it, so a saved plan cannot be altered after review.
    desired_rev: str | None = None
    #: The desired content to write (JSON-safe: bytes as {"$base64": ...}).
    desired: dict[str, Any] | None = None
    #: Conflict key values (``name=accountants``) this write takes that the object does
    #: not hold yet, and those it gives up: apply orders writes so that a value is freed
    #: before it is taken.
    claims: tuple[str, ...] = ()
    releases: tuple[str, ...] = ()
    #: A conflict over a conflict key: the id of the live object that holds the value.
    held_by: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.id)

    def label(self) -> str:
        return f"{self.kind} {self.name or self.id}"


class Source(_Frozen):
    commit: str | None = None
    ref: str | None = None
    dirty: bool = False
    origin: str = ""


class TargetInfo(_Frozen):
    name: str
    url: str = ""
    fingerprint: str = ""
    #: The instance's own id (appsync_meta), so a plan cannot be applied elsewhere.
    instance_id: str | None = None


class PlanBindings(_Frozen):
    """The environment and binding values a plan was made with (digests of secret ones)."""

    environment: str = ""
    values: dict[str, str] = {}


class Plan(_Frozen):
    format_version: int = FORMAT_VERSION
    created_at: str = ""
    source: Source
    target: TargetInfo
    summary: dict[str, int]
    risk: Risk
    #: The riskiest change's cause: why the plan has the risk it has.
    risk_reason: str = ""
    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()
    #: The warnings not derived from the list of changes (validation, secrets to set).
    advice: tuple[str, ...] = ()
    prune: bool = False
    #: Live objects per app name ("" for instance-wide ones), for the mass-delete guard.
    live_counts: dict[str, int] = {}
    bindings: PlanBindings | None = None

    @property
    def out_of_sync(self) -> bool:
        """Whether Git and the target differ at all: something to write, a conflict, or the
        target holding what Git lacks (``ahead``: a hotfix, a kept or merged version; an
        object deleted in Git but still there). Objects never applied are not counted."""
        return self.has_changes or any(c.action in ("ahead", "orphaned") for c in self.changes)

    @property
    def has_changes(self) -> bool:
        return any(c.action in (*WRITES, "conflict") for c in self.changes)

    @property
    def conflicts(self) -> list[Change]:
        return [c for c in self.changes if c.action == "conflict"]

    def to_json(self) -> str:
        """The plan as JSON, its digest first."""
        body = self.model_dump(mode="json")
        document = {DIGEST: seal(body), **body}
        return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"

    @classmethod
    def load(cls, path: Path) -> Plan:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise AppsyncError(f"{path}: cannot read the plan: {exc.strerror}") from exc
        try:
            data = parse_json(raw, str(path), max_depth=PLAN_DEPTH)
        except TreeError as exc:
            raise AppsyncError(f"{exc} (not a plan file)") from exc
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            raise AppsyncError(f"{path}: not a plan of format_version {FORMAT_VERSION}")
        check_seal(path, data)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise AppsyncError(f"{path}: invalid plan at {where}: {first['msg']}") from exc


def _key() -> bytes | None:
    key = os.environ.get(KEY_ENV, "")
    return key.encode("utf-8") if key else None


def seal(body: dict[str, Any]) -> str:
    """The digest of a plan's JSON ``body`` (everything but the digest)."""
    canonical = jcs(body)
    key = _key()
    if key is not None:
        return "hmac-sha256:" + hmac.new(key, canonical, hashlib.sha256).hexdigest()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def check_seal(path: Path, data: dict[str, Any]) -> None:
    """Refuse a plan whose digest is missing or wrong (``data`` loses its digest)."""
    digest = data.pop(DIGEST, None)
    again = "make the plan again with 'appsync plan --out' and review that one"
    if not isinstance(digest, str):
        raise AppsyncError(
            f"{path}: the plan has no digest, so appsync cannot tell whether it was changed "
            f"after it was made: {again}"
        )
    keyed = _key() is not None
    if digest.startswith("hmac-sha256:") and not keyed:
        raise AppsyncError(f"{path}: the plan was sealed with {KEY_ENV}: set it to apply")
    if keyed and not digest.startswith("hmac-sha256:"):
        raise AppsyncError(
            f"{path}: {KEY_ENV} is set, but the plan was not sealed with it: {again}"
        )
    try:
        expected = seal(data)
    except TreeError as exc:
        raise AppsyncError(f"{path}: invalid plan: {exc}") from exc
    if not hmac.compare_digest(digest, expected):
        what = "or sealed with another key" if keyed else "or damaged"
        raise AppsyncError(
            f"{path}: the plan was changed after it was made {what} (its digest does not "
            f"match): {again}"
        )


def to_jsonable(content: dict[str, Any]) -> dict[str, Any]:
    """Content as JSON: binary values as ``{"$base64": ...}``."""
    return {
        k: {"$base64": base64.b64encode(v).decode()} if isinstance(v, bytes) else v
        for k, v in content.items()
    }


def from_jsonable(content: dict[str, Any], binary_fields: Iterable[str]) -> dict[str, Any]:
    """The inverse of :func:`to_jsonable` for the named binary fields."""
    result = dict(content)
    for name in binary_fields:
        value = result.get(name)
        if isinstance(value, dict) and isinstance(value.get("$base64"), str):
            result[name] = base64.b64decode(value["$base64"])
    return result


def empty_summary() -> dict[str, int]:
    return dict.fromkeys(ACTIONS, 0)
