"""The closed sets of words the CLI, appsync.yaml, packages and plans share: one place,
importable by the command line without loading anything else (start-up time)."""

from __future__ import annotations

from typing import Literal, get_args

Strategy = Literal["prompt", "overwrite", "skip", "merge"]
Mode = Literal["full", "batch", "per-category"]
Environment = Literal["DEV", "STAGING", "PROD"]

STRATEGIES: tuple[str, ...] = get_args(Strategy)
MODES: tuple[str, ...] = get_args(Mode)
ENVIRONMENTS: tuple[str, ...] = get_args(Environment)
