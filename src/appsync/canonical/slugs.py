"""File-name slugs that are safe on case-insensitive file systems and on Windows."""

from __future__ import annotations

import re
import unicodedata

MAX_SLUG = 60
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(10)] + [f"lpt{i}" for i in range(10)]
)


def slugify(name: str, fallback: str) -> str:
    """Lower-case ASCII letters, digits and single dashes; ``fallback`` when nothing is left.

    Never a name Windows reserves (``con``, ``com1``...), never a dot (so an object file is
    always ``<slug>.json`` and cannot be mistaken for a sidecar).
    """
    name = _CAMEL.sub("-", name)  # calculateVat -> calculate-Vat
    if not name.isascii():  # NFKD leaves ASCII as it is
        name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", name.lower()).strip("-")
    slug = slug[:MAX_SLUG].rstrip("-")
    if not slug:
        slug = fallback
    if slug in _WINDOWS_RESERVED:
        slug = f"{slug}-1"
    return slug


def unique_slugs(items: list[tuple[str, str]], fallback: str) -> dict[str, str]:
    """Slugs for ``(id, name)`` pairs, unique within one folder.

    Collisions are settled deterministically: the object with the smallest id keeps the plain
    slug, the others get ``-`` and the first eight characters of their id.
    """
    by_slug: dict[str, list[str]] = {}
    for obj_id, name in items:
        by_slug.setdefault(slugify(name, fallback), []).append(obj_id)
    result: dict[str, str] = {}
    taken = set(by_slug)
    for slug, ids in sorted(by_slug.items()):
        ids.sort()
        result[ids[0]] = slug
        for obj_id in ids[1:]:
            candidate = f"{slug[: MAX_SLUG - 9]}-{slugify(obj_id, 'x')[:8]}"
            n = 2
            while candidate in taken:
                candidate = f"{slug[: MAX_SLUG - 12]}-{slugify(obj_id, 'x')[:8]}-{n}"
                n += 1
            taken.add(candidate)
            result[obj_id] = candidate
    return result
