"""Canonical forms, pure and without I/O: JCS and revs, canonical JSON bytes, slugs, and the
mapping between model objects and the files of the canonical tree."""

from __future__ import annotations

from appsync.canonical.jsonform import canonical_json, jcs, parse_json
from appsync.canonical.revs import make_obj, rev_of
from appsync.canonical.slugs import slugify

__all__ = ["canonical_json", "jcs", "make_obj", "parse_json", "rev_of", "slugify"]
