"""Writing packages, the last stage of pack: the only module that imports ``zipfile``.

Deterministic: entries in the order given, every timestamp 1980-01-01 00:00:00, Unix
regular-file attributes 0644, DEFLATE at level 9, no extra fields and no comments, so the
same entries always give the same bytes.
"""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Iterable

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_UNIX = 3


def zip_bytes(entries: Iterable[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = _UNIX
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()
