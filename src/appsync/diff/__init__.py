"""Diff: the only package that imports deepdiff. Pure: (desired, live, sync state) ->
decisions with field changes, in the project's own types."""

from __future__ import annotations

from appsync.diff.decide import Decision, decide
from appsync.diff.fields import FieldChange, diff_fields, readable_path
from appsync.model import SyncState

__all__ = ["Decision", "FieldChange", "SyncState", "decide", "diff_fields", "readable_path"]
