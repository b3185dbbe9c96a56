"""Plan: a frozen, serializable value built from decisions, rendered as text, markdown or
JSON, and applied later exactly as it was reviewed."""

from __future__ import annotations

from appsync.plan.model import Change, FieldDiff, Plan, Source, TargetInfo

__all__ = ["Change", "FieldDiff", "Plan", "Source", "TargetInfo"]
