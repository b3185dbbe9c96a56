"""appsync: Git-native export, plan and apply for low-code application platforms."""

from __future__ import annotations

__version__ = "0.1.0"
