"""Apply: a plan's writes in ordered stages (units of work), run by an evaluator inside
transactions; a dry run walks the same stages and rolls back."""

from __future__ import annotations
