"""The live instance: the only package that imports SQLAlchemy.

``schema`` builds the reference platform schema from the kind manifests, ``connect`` opens
targets and translates driver errors, ``reader`` reads live state in bulk (one query per
table), ``example`` seeds the example apps.
"""

from __future__ import annotations
