"""A corpus of hostile packages, generated from a valid one: every case must be refused
with exit 1, one line per problem naming the entry, no traceback, nothing written.

Most cases rebuild the package with :mod:`zipfile` from edited entries (checksums kept
right, so only the one defect shows); the nastier ones are hand-built bytes (``raw_zip``):
lying sizes, overlapping entries, non-UTF-8 names, encrypted flags, links and devices.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import stat
import struct
import unicodedata
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from appsync.canonical.revs import make_obj
from appsync.canonical.tree import render
from appsync.instance.example import example_rows
from appsync.kinds import Registry
from appsync.model import HistoryEntry

Entries = list[tuple[str, bytes]]
APP = "apps/invoices"
QUERY = f"{APP}/data/queries/open-invoices.json"
SQL = f"{APP}/data/queries/open-invoices.sql"
PAGE = f"{APP}/ui/pages/invoice-list.json"
LOGO = f"{APP}/files/logo.png"
ROLE = "admin/roles/accountants.json"
AT = "2026-01-02T03:04:05Z"


def example_tree(registry: Registry) -> dict[str, bytes]:
    """The example instance's canonical tree, rendered in memory (no database needed)."""
    rows = example_rows()
    objs = []
    for spec in registry:
        for row in rows.get(spec.storage.table, []):
            obj = make_obj(spec, row)
            entry = HistoryEntry(rev=obj.rev, at=AT, origin="instance:dev")
            objs.append(make_obj(spec, row, (entry,)))
    return render(registry, objs).files


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def read_entries(data: bytes) -> Entries:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


# ---------------------------------------------------------------------------- builders


def _sums(entries: Entries) -> bytes:
    files = {n: hashlib.sha256(d).hexdigest() for n, d in entries}
    files.pop("checksums.json", None)
    text = json.dumps({"algorithm": "sha256", "files": dict(sorted(files.items()))}, indent=2)
    return (text + "\n").encode()


def rezip(entries: Entries, *, checksums: bool = True) -> bytes:
    """A ZIP of ``entries``, with checksums.json recomputed (unless told not to)."""
    if checksums:
        entries = [(n, _sums(entries) if n == "checksums.json" else d) for n, d in entries]
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        warnings.simplefilter("ignore")  # duplicate names are the point of some cases
        for name, data in entries:
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


@dataclass
class Raw:
    """One hand-built entry: every field of its headers can lie."""

    name: bytes
    data: bytes
    method: int = 8
    flags: int = 0
    mode: int = stat.S_IFREG | 0o644
    size: int | None = None
    crc: int | None = None
    stream: bytes | None = None
    local_name: bytes | None = None
    #: Point this entry's header into the data of entry number ``inside`` (not written).
    inside: int | None = None


def raw_zip(entries: list[Raw], *, disk: int = 0) -> bytes:
    body = io.BytesIO()
    central = io.BytesIO()
    data_at: list[int] = []
    for e in entries:
        if e.stream is not None:
            stream = e.stream
        elif e.method == 8:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            stream = c.compress(e.data) + c.flush()
        else:
            stream = e.data
        crc = zlib.crc32(e.data) if e.crc is None else e.crc
        size = len(e.data) if e.size is None else e.size
        flags = e.flags | (0x800 if any(b > 127 for b in e.name) and e.flags & 0x800 else 0)
        offset = body.tell() if e.inside is None else data_at[e.inside]
        name = e.name if e.local_name is None else e.local_name
        data_at.append(offset + 30 + len(name))
        if e.inside is None:
            body.write(
                struct.pack(
                    "<4s5H3L2H",
                    b"PK\x03\x04",
                    20,
                    flags,
                    e.method,
                    0,
                    33,
                    crc,
                    len(stream),
                    size,
                    len(name),
                    0,
                )
                + name
                + stream
            )
        central.write(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                (3 << 8) | 20,
                20,
                flags,
                e.method,
                0,
                33,
                crc,
                len(stream),
                size,
                len(e.name),
                0,
                0,
                0,
                0,
                e.mode << 16,
                offset,
            )
            + e.name
        )
    cd = central.getvalue()
    start = body.tell()
    count = len(entries)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", disk, disk, count, count, len(cd), start, 0)
    return body.getvalue() + cd + end


def bomb_stream(megabytes: int) -> bytes:
    """A raw DEFLATE stream of ``megabytes`` MiB of zeros, built without compressing them
    all: one fully flushed block repeated, then an empty final block."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(b"\0" * (1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    return block * megabytes + b"\x03\x00"


# ---------------------------------------------------------------------------- cases


@dataclass
class Case:
    id: str
    build: Callable[[Entries], bytes]
    #: Text some stderr line must hold: the entry named, or the archive-level reason.
    expect: str
    env: dict[str, str] = field(default_factory=dict)


def _edit(entries: Entries, name: str, change: Callable[[bytes], bytes]) -> Entries:
    assert any(n == name for n, _ in entries), name
    return [(n, change(d) if n == name else d) for n, d in entries]


def _json_edit(entries: Entries, name: str, change: Callable[[dict], None]) -> Entries:
    def apply(data: bytes) -> bytes:
        doc = json.loads(data)
        change(doc)
        return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

    return _edit(entries, name, apply)


def _add(name: str, data: bytes = b"{}\n") -> Callable[[Entries], bytes]:
    return lambda e: rezip([*e, (name, data)])


def _drop(name: str, *, checksums: bool = True) -> Callable[[Entries], bytes]:
    return lambda e: rezip([(n, d) for n, d in e if n != name], checksums=checksums)


def _raw_with(extra: Raw) -> Callable[[Entries], bytes]:
    """The valid entries as hand-built bytes, plus one hostile entry."""
    return lambda e: raw_zip([*(Raw(n.encode(), d) for n, d in e), extra])


def _set(path: str, key: str, value: object) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        doc[key] = value

    return change


def _nested_json(depth: int) -> bytes:
    return b'{"id": "x", "widgets": ' + b"[" * depth + b"]" * depth + b"}\n"


USER = "admin/users/eve.json"


def _user(role: bytes, **extra: object) -> bytes:
    doc = {
        "active": True,
        "email": "eve@example.com",
        "history": [],
        "id": "0b7f8e3c-1f7a-4e3a-9c55-7d1d2a3b4c5d",
        "login": "eve",
        "name": "Eve",
        "role_ids": [json.loads(role)["id"]],
        **extra,
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def _overlapping(entries: Entries) -> bytes:
    """Entry b's header and data sit inside entry a's data: both read the same bytes."""
    name, data = b"apps/invoices/files/b.txt", b"hello"
    header = struct.pack(
        "<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 33, zlib.crc32(data), 5, 5, len(name), 0
    )
    raws = [Raw(n.encode(), d) for n, d in entries]
    raws.append(Raw(b"apps/invoices/files/a.bin", header + name + data, method=0))
    raws.append(Raw(name, data, method=0, inside=len(raws) - 1))
    return raw_zip(raws)


def cases() -> list[Case]:
    nfd = unicodedata.normalize("NFD", f"{APP}/files/caf\u00e9.json")
    nfc = unicodedata.normalize("NFC", f"{APP}/files/caf\u00e9.json")
    return [
        # --- paths that leave the extraction folder or do not port
        Case("dotdot", _add(f"{APP}/../../evil.json"), "evil.json"),
        Case("dotdot-leading", _add("../evil.txt", b"x"), "../evil.txt"),
        Case("absolute", _add("/tmp/appsync-evil.txt", b"x"), "/tmp/appsync-evil.txt"),
        Case("drive-letter", _add("C:/evil.json"), "C:/evil.json"),
        Case("drive-relative", _add("C:evil.json"), "C:evil.json"),
        Case("backslash", _add("apps\\invoices\\evil.json"), "apps\\invoices\\evil.json"),
        Case("backslash-dotdot", _add("..\\..\\evil.json"), "..\\..\\evil.json"),
        Case("control-char", _add(f"{APP}/a\nb.json"), "a\\x0ab.json"),
        Case("invisible-char", _add(f"{APP}/files/\u202egnp.json"), "\\u202egnp.json"),
        Case("nul-byte", _raw_with(Raw(f"{APP}/a\0.json".encode(), b"{}")), "a\\x00.json"),
        Case("windows-reserved", _add(f"{APP}/files/con.json"), "con.json"),
        Case("alternate-stream", _add(f"{ROLE}:hidden", b"x"), f"{ROLE}:hidden"),
        # --- entry types
        Case(
            "symlink",
            _raw_with(Raw(f"{APP}/files/link".encode(), b"/etc/passwd", mode=stat.S_IFLNK | 0o777)),
            "symbolic link",
        ),
        Case(
            "char-device",
            _raw_with(Raw(f"{APP}/files/dev".encode(), b"", mode=stat.S_IFCHR | 0o600)),
            "device entry",
        ),
        Case(
            "fifo",
            _raw_with(Raw(f"{APP}/files/pipe".encode(), b"", mode=stat.S_IFIFO | 0o600)),
            "FIFO",
        ),
        # --- names that collide
        Case("duplicate-name", lambda e: rezip([*e, (ROLE, dict(e)[ROLE])]), "duplicate entry"),
        Case("case-only", lambda e: rezip([*e, (ROLE.upper(), dict(e)[ROLE])]), ROLE.upper()),
        Case("unicode-normalization", lambda e: rezip([*e, (nfc, b"{}"), (nfd, b"{}")]), "Unicode"),
        Case("file-and-folder", _add(APP, b"x"), "both a file and a folder"),
        Case(
            "non-utf8-name",
            _raw_with(Raw(f"{APP}/caf\xe9.json".encode("latin-1"), b"{}")),
            "flag bit 11 unset",
        ),
        Case(
            "invalid-utf8-flagged",
            _raw_with(Raw(f"{APP}/caf\xff.json".encode("latin-1"), b"{}", flags=0x800)),
            "not valid UTF-8",
        ),
        # --- sizes and bombs (detected while streaming)
        Case(
            "larger-than-declared",
            lambda e: raw_zip(
                [
                    *(Raw(n.encode(), d) for n, d in e if n != SQL),
                    Raw(SQL.encode(), dict(e)[SQL], size=10, crc=zlib.crc32(dict(e)[SQL][:10])),
                ]
            ),
            f"{SQL}: larger than declared",
        ),
        Case(
            "bomb-lying-size",
            _raw_with(
                Raw(f"{APP}/files/bomb.txt".encode(), b"", size=100, crc=0, stream=bomb_stream(512))
            ),
            "larger than declared",
        ),
        Case(
            "bomb-ratio",
            _raw_with(
                Raw(
                    f"{APP}/files/bomb.txt".encode(),
                    b"",
                    size=64 << 20,
                    crc=0,
                    stream=bomb_stream(64),
                )
            ),
            "zip bomb",
            env={"APPSYNC_MAX_IMPORT_SIZE": "100M"},
        ),
        Case(
            "entry-over-limit",
            _add(f"{APP}/files/big.bin", bytes(range(256)) * 8192),
            "over APPSYNC_MAX_IMPORT_SIZE",
        ),
        Case(
            "total-over-limit",
            lambda e: rezip(
                [*e, *((f"{APP}/files/part{i}.bin", bytes([i]) * 400_000) for i in range(4))]
            ),
            "in total",
        ),
        Case("overlapping-entries", _overlapping, "overlaps"),
        Case(
            "local-name-differs",
            _raw_with(Raw(f"{APP}/files/ok.json".encode(), b"{}", local_name=b"../evil.json")),
            "local header",
        ),
        Case(
            "crc-mismatch",
            lambda e: raw_zip([Raw(n.encode(), d, crc=1 if n == PAGE else None) for n, d in e]),
            f"{PAGE}: CRC-32 mismatch",
        ),
        # --- flags and methods
        Case(
            "encrypted",
            _raw_with(Raw(f"{APP}/files/secret.json".encode(), b"{}", flags=0x1)),
            "encrypted",
        ),
        Case(
            "unsupported-method",
            _raw_with(Raw(f"{APP}/files/x.json".encode(), b"{}", method=12)),
            "compression method 12",
        ),
        # --- archives in the archive
        Case("nested-zip-name", _add(f"{APP}/files/inner.zip", b"not really"), "inner.zip"),
        Case("nested-jar-name", _add(f"{APP}/files/lib.jar", b"x"), "lib.jar"),
        Case(
            "nested-zip-magic",
            lambda e: rezip(_edit(e, LOGO, lambda _: rezip([("a.txt", b"a")], checksums=False))),
            f"{LOGO}: nested archive",
        ),
        Case(
            "nested-gzip-magic",
            lambda e: rezip(_edit(e, SQL, lambda d: gzip.compress(d))),
            f"{SQL}: nested archive",
        ),
        # --- not a (whole) ZIP
        Case("not-a-zip", lambda e: b"just some text, not an archive\n", "not a ZIP archive"),
        Case("empty-file", lambda e: b"", "empty file"),
        Case("truncated-half", lambda e: rezip(e)[: len(rezip(e)) // 2], "truncated"),
        Case("truncated-tail", lambda e: rezip(e)[:-7], "truncated"),
        Case("trailing-garbage", lambda e: rezip(e) + b"garbage", "after the end"),
        Case("spanned", lambda e: raw_zip([Raw(n.encode(), d) for n, d in e], disk=1), "spanned"),
        # --- integrity
        Case(
            "checksum-mismatch",
            lambda e: rezip(_edit(e, SQL, lambda d: d + b"-- sneaky\n"), checksums=False),
            f"{SQL}: checksum mismatch",
        ),
        Case("missing-checksums", _drop("checksums.json"), "checksums.json: required file"),
        Case(
            "unlisted-entry",
            lambda e: rezip([*e, (f"{APP}/files/extra.json", b"{}")], checksums=False),
            f"{APP}/files/extra.json: not listed",
        ),
        Case("missing-metadata", _drop("metadata.json"), "metadata.json: required file"),
        # --- JSON and the model
        Case("invalid-json", lambda e: rezip(_edit(e, PAGE, lambda d: d[:-5])), PAGE),
        Case(
            "invalid-json-metadata",
            lambda e: rezip(_edit(e, "metadata.json", lambda d: b"{nope")),
            "metadata.json",
        ),
        Case(
            "duplicate-json-key",
            lambda e: rezip(_edit(e, ROLE, lambda d: d.replace(b"{", b'{"id": "x",', 1))),
            f"{ROLE}: invalid JSON: duplicate key",
        ),
        Case(
            "deep-json",
            lambda e: rezip(_edit(e, PAGE, lambda d: _nested_json(20_000))),
            f"{PAGE}: JSON nested deeper than 64 levels",
        ),
        Case(
            "deep-json-100",
            lambda e: rezip(_edit(e, PAGE, lambda d: _nested_json(100))),
            f"{PAGE}: JSON nested deeper than 64 levels",
        ),
        Case(
            "newline-in-value",
            lambda e: rezip(_json_edit(e, QUERY, _set("", "allowed_roles", ["a\nappsync: ok"]))),
            "a\\x0aappsync: ok",
        ),
        Case(
            "wrong-type",
            lambda e: rezip(_json_edit(e, PAGE, _set(PAGE, "name", 123))),
            f"{PAGE}: 'name' must be string",
        ),
        Case(
            "wrong-type-set",
            lambda e: rezip(_json_edit(e, QUERY, _set(QUERY, "allowed_roles", "everyone"))),
            f"{QUERY}: 'allowed_roles' must be a list",
        ),
        Case(
            "not-a-uuid",
            lambda e: rezip(_json_edit(e, ROLE, _set(ROLE, "id", "not-a-uuid"))),
            f"{ROLE}: 'id' must be a UUID",
        ),
        Case(
            "wrong-environment",
            lambda e: rezip(_json_edit(e, "metadata.json", _set("", "environment", "QA"))),
            "metadata.json: environment",
        ),
        Case(
            "wrong-import-config",
            lambda e: rezip(_json_edit(e, "import_config.json", _set("", "transaction", "yolo"))),
            "import_config.json: transaction",
        ),
        Case(
            "schema-too-new",
            lambda e: rezip(_json_edit(e, "metadata.json", _set("", "schema_version", "2.0"))),
            "newer than this appsync reads",
        ),
        Case(
            "unknown-kind-folder", _add(f"{APP}/widgets/button.json"), f"{APP}/widgets/button.json"
        ),
        Case("unknown-top-level", _add("run.sh", b"#!/bin/sh\n"), "run.sh"),
        Case(
            "unknown-field",
            lambda e: rezip(_json_edit(e, QUERY, _set(QUERY, "color", "red"))),
            f"{QUERY}: unknown field 'color'",
        ),
        Case("two-apps", _add("apps/other/app.json"), "apps/other/"),
        # --- references, ids, secrets
        Case("dangling-reference", _drop(ROLE), "not in the package"),
        Case(
            "duplicate-id",
            lambda e: rezip([*e, (f"{APP}/ui/pages/copy.json", dict(e)[PAGE])]),
            "duplicate id",
        ),
        Case(
            "secret-password-hash",
            lambda e: rezip([*e, (USER, _user(dict(e)[ROLE], password_hash="pbkdf2$x"))]),
            f"{USER}: 'password_hash' is a secret",
        ),
        Case(
            "secret-on-another-kind",
            lambda e: rezip(_json_edit(e, ROLE, _set(ROLE, "password_hash", "pbkdf2$x"))),
            f"{ROLE}: 'password_hash' is a secret",
        ),
        Case(
            "secret-credentials",
            lambda e: rezip(
                _json_edit(e, f"{APP}/connectors/accounting-api.json", _set("", "credentials", "k"))
            ),
            "'credentials' is a secret",
        ),
        Case(
            "secret-in-metadata",
            lambda e: rezip(_json_edit(e, "metadata.json", _set("", "credentials", "k"))),
            "metadata.json: carries 'credentials'",
        ),
    ]
