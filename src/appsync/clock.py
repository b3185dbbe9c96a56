"""Timestamps as appsync writes them: UTC, to the second, ISO 8601 with a Z."""

from __future__ import annotations

import datetime as dt


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
