"""Use-cases: one function per user action, wiring the adapters (instance, gitstore, config)
to the pure core (canonical, diff, plan). Commands in ``cli`` call exactly one of these."""

from __future__ import annotations
