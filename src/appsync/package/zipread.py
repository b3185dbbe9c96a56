"""Reading untrusted packages, the first stage of verify, unpack and import.

The central directory is parsed by hand (every entry's raw name, flags, sizes and
attributes, so one bad entry cannot hide the others), every entry is checked before a byte
of it is inflated, and every entry is then streamed in chunks through the bounds of
:mod:`appsync.limits`: reading stops the moment an entry grows past its declared
size, past the size limit or past the compression ratio, never after. Nothing here writes.
"""

from __future__ import annotations

import contextlib
import stat
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from appsync.limits import SIZE_ENV, Limits, human
from appsync.package.names import decode_name, fold, name_problems, nested_archive, show

_EOCD = struct.Struct("<4s4H2LH")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_LOCAL = struct.Struct("<4s5H3L2H")
_EOCD_SIG, _CENTRAL_SIG, _LOCAL_SIG = b"PK\x05\x06", b"PK\x01\x02", b"PK\x03\x04"
_ZIP64_LOCATOR = b"PK\x06\x07"
_STORED, _DEFLATED = 0, 8
_ENCRYPTED = 0x1 | 0x40 | 0x2000
_DATA_DESCRIPTOR = 0x8
_AES = 99
_REPARSE_POINT = 0x400
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Entry:
    """One central directory record."""

    index: int
    raw_name: bytes
    name: str | None
    flags: int
    method: int
    crc: int
    compressed_size: int
    size: int
    offset: int
    external_attr: int

    @property
    def label(self) -> str:
        return show(self.name if self.name is not None else self.raw_name)

    @property
    def is_dir(self) -> bool:
        return self.name is not None and self.name.endswith("/")


@dataclass
class Archive:
    """The regular files of a package that passed every check, in archive order, and every
    problem found (``entry: reason``, or just ``reason`` for the archive as a whole)."""

    files: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: Every file entry's safe name, also of those that could not be read.
    names: set[str] = field(default_factory=set)
    #: The entries could not be listed or read at all: nothing else is worth checking.
    fatal: bool = False

    def add(self, entry: Entry | None, reason: str, *, fatal: bool = False) -> None:
        self.problems.append(f"{entry.label}: {reason}" if entry is not None else reason)
        self.fatal = self.fatal or fatal


class _Stop(Exception):
    """A bound for the whole archive was passed: stop reading."""


def read_archive(path: Path, limits: Limits) -> Archive:
    archive = Archive()
    try:
        size = path.stat().st_size
        handle = path.open("rb")
    except OSError as exc:
        archive.add(None, f"cannot read the package: {exc.strerror or exc}", fatal=True)
        return archive
    with handle:
        if size == 0:
            archive.add(None, "empty file, not a ZIP archive", fatal=True)
            return archive
        if size > limits.max_size:
            archive.add(None, f"the archive is {human(size)}, over {SIZE_ENV}", fatal=True)
            return archive
        entries, cd_offset = _directory(handle, size, limits, archive)
        if entries is None:
            return archive
        readable = _check_entries(entries, limits, archive)
        spans = _locate(handle, readable, cd_offset, archive)
        with contextlib.suppress(_Stop):
            _read_all(handle, spans, limits, archive)
    return archive


# ---------------------------------------------------------------------------- directory


def _directory(
    handle: BinaryIO, size: int, limits: Limits, archive: Archive
) -> tuple[list[Entry] | None, int]:
    tail_size = min(size, _EOCD.size + 0xFFFF)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    pos = tail.rfind(_EOCD_SIG)
    record = None
    trailing = False
    while pos >= 0:
        if pos + _EOCD.size <= len(tail):
            fields = _EOCD.unpack_from(tail, pos)
            if pos + _EOCD.size + fields[7] == len(tail):
                record = fields
                break
            trailing = trailing or pos + _EOCD.size + fields[7] < len(tail)
        pos = tail.rfind(_EOCD_SIG, 0, pos)
    if record is None:
        handle.seek(0)
        if trailing:
            archive.add(
                None, "data after the end of the archive (not a clean ZIP archive)", fatal=True
            )
        elif handle.read(4) == _LOCAL_SIG:
            archive.add(
                None, "truncated ZIP archive (no end of central directory record)", fatal=True
            )
        else:
            archive.add(None, "not a ZIP archive", fatal=True)
        return None, 0
    _, disk, cd_disk, on_disk, total, cd_size, cd_offset, _ = record
    eocd_at = size - tail_size + pos
    zip64 = pos >= 20 and tail[pos - 20 : pos - 16] == _ZIP64_LOCATOR
    if zip64 or 0xFFFF in (total, on_disk):
        archive.add(
            None, "ZIP64 archives are not supported (packages stay far below 4 GB)", fatal=True
        )
        return None, 0
    if disk or cd_disk or on_disk != total:
        archive.add(None, "multi-part (spanned) ZIP archives are not supported", fatal=True)
        return None, 0
    if cd_offset + cd_size != eocd_at:
        archive.add(
            None, "the central directory does not end where the archive says it does", fatal=True
        )
        return None, 0
    if total > limits.max_entries:
        archive.add(
            None, f"{total} entries, more than the {limits.max_entries} allowed", fatal=True
        )
        return None, 0
    handle.seek(cd_offset)
    data = handle.read(cd_size)
    entries: list[Entry] = []
    at = 0
    for index in range(total):
        if at + _CENTRAL.size > len(data):
            archive.add(
                None, f"the central directory is truncated at entry #{index + 1}", fatal=True
            )
            return None, 0
        f = _CENTRAL.unpack_from(data, at)
        if f[0] != _CENTRAL_SIG:
            archive.add(None, f"the central directory is corrupt at entry #{index + 1}", fatal=True)
            return None, 0
        name_len, extra_len, comment_len = f[10], f[11], f[12]
        raw = data[at + _CENTRAL.size : at + _CENTRAL.size + name_len]
        at += _CENTRAL.size + name_len + extra_len + comment_len
        if at > len(data):
            archive.add(
                None, f"the central directory is truncated at entry #{index + 1}", fatal=True
            )
            return None, 0
        name, problem = decode_name(raw, f[3])
        entry = Entry(index, raw, name, f[3], f[4], f[7], f[8], f[9], f[16], f[15])
        if problem:
            archive.add(entry, problem)
        entries.append(entry)
    if at != len(data):
        archive.add(None, "the central directory holds more than its entries")
    return entries, cd_offset


def _check_entries(entries: list[Entry], limits: Limits, archive: Archive) -> list[Entry]:
    """Entries whose name, type, flags and sizes allow reading them."""
    readable: list[Entry] = []
    seen: dict[str, Entry] = {}
    folded: dict[str, Entry] = {}
    folders: dict[str, Entry] = {}
    declared = 0
    for entry in entries:
        if entry.name is None:
            continue
        unsafe = name_problems(entry.name)
        reasons = unsafe + _type_problems(entry)
        if entry.flags & _ENCRYPTED or entry.method == _AES:
            reasons.append("encrypted entry")
        elif entry.method not in (_STORED, _DEFLATED):
            reasons.append(f"unsupported compression method {entry.method}")
        if entry.is_dir:
            if entry.size:
                reasons.append("a folder entry with content")
            for reason in reasons:
                archive.add(entry, reason)
            continue
        if entry.size > limits.max_size:
            reasons.append(f"declares {human(entry.size)}, over {SIZE_ENV}")
        nested = nested_archive(entry.name, None)
        if nested:
            reasons.append(nested)
        if entry.name in seen:
            reasons.append(f"duplicate entry name (entry #{seen[entry.name].index + 1})")
        elif fold(entry.name) in folded:
            other = folded[fold(entry.name)].label
            reasons.append(f"differs only in case or Unicode form from {other}")
        seen.setdefault(entry.name, entry)
        if not unsafe:
            archive.names.add(entry.name)
        folded.setdefault(fold(entry.name), entry)
        parts = entry.name.split("/")
        for depth in range(1, len(parts)):
            folders.setdefault(fold("/".join(parts[:depth])), entry)
        declared += entry.size
        for reason in reasons:
            archive.add(entry, reason)
        if not reasons:
            readable.append(entry)
    clashing = {e.index for e in readable if e.name is not None and fold(e.name) in folders}
    for entry in readable:
        if entry.index in clashing:
            assert entry.name is not None
            other = folders[fold(entry.name)].label
            archive.add(entry, f"is both a file and a folder (see {other})")
    readable = [e for e in readable if e.index not in clashing]
    if declared > limits.max_size:
        archive.add(
            None, f"the entries declare {human(declared)} in total, over {SIZE_ENV}", fatal=True
        )
        return []
    return readable


def _type_problems(entry: Entry) -> list[str]:
    mode = entry.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if stat.S_ISLNK(mode):
        return ["symbolic link entry"]
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return ["device entry"]
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return ["FIFO or socket entry"]
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return [f"special file entry (mode {mode:#o})"]
    if entry.external_attr & _REPARSE_POINT:
        return ["link entry (reparse point attribute)"]
    if kind == stat.S_IFDIR and not entry.is_dir:
        return ["folder attributes on a file name"]
    return []


# ---------------------------------------------------------------------------- data


@dataclass(frozen=True)
class _Span:
    entry: Entry
    start: int
    end: int


def _locate(
    handle: BinaryIO, entries: list[Entry], cd_offset: int, archive: Archive
) -> list[_Span]:
    """Each entry's data, after checking its local header against the central directory;
    entries whose data overlap (the overlapping zip bomb) are refused."""
    spans: list[_Span] = []
    for entry in entries:
        if entry.offset + _LOCAL.size > cd_offset:
            archive.add(entry, "its local header lies outside the archive (truncated)")
            continue
        handle.seek(entry.offset)
        f = _LOCAL.unpack(handle.read(_LOCAL.size))
        name = handle.read(f[9])
        if f[0] != _LOCAL_SIG:
            archive.add(entry, "no local header where the central directory points")
            continue
        reasons = []
        if name != entry.raw_name:
            reasons.append(f"the local header names it {show(name)}")
        if f[2] & _ENCRYPTED:
            reasons.append("encrypted entry (local header)")
        if f[3] != entry.method:
            reasons.append("the local header gives another compression method")
        if not f[2] & _DATA_DESCRIPTOR and (f[6], f[7], f[8]) != (
            entry.crc,
            entry.compressed_size,
            entry.size,
        ):
            reasons.append("the local header gives other sizes than the central directory")
        start = entry.offset + _LOCAL.size + f[9] + f[10]
        end = start + entry.compressed_size
        if end > cd_offset:
            reasons.append("its data runs past the end of the entries (truncated)")
        for reason in reasons:
            archive.add(entry, reason)
        if not reasons:
            spans.append(_Span(entry, entry.offset, end))
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    overlapping: set[int] = set()
    reach: _Span | None = None
    for span in ordered:
        if reach is not None and span.start < reach.end:
            archive.add(span.entry, f"its data overlaps entry {reach.entry.label} (zip bomb)")
            overlapping.add(span.entry.index)
        if reach is None or span.end > reach.end:
            reach = span
    return [s for s in spans if s.entry.index not in overlapping]


def _read_all(handle: BinaryIO, spans: list[_Span], limits: Limits, archive: Archive) -> None:
    used = 0
    for span in spans:
        entry = span.entry
        handle.seek(span.end - entry.compressed_size)
        data = _inflate(handle, entry, limits, limits.max_size - used, archive)
        if data is None:
            continue
        used += len(data)
        if zlib.crc32(data) != entry.crc:
            archive.add(entry, "CRC-32 mismatch (corrupt or tampered)")
            continue
        assert entry.name is not None
        nested = nested_archive(entry.name, data)
        if nested:
            archive.add(entry, nested)
            continue
        archive.files[entry.name] = data


def _inflate(
    handle: BinaryIO, entry: Entry, limits: Limits, budget: int, archive: Archive
) -> bytes | None:
    """The entry's bytes, streamed chunk by chunk; ``None`` (and a problem) as soon as a
    bound is passed. Running out of the whole archive's budget stops everything."""
    left_in = entry.compressed_size
    out = bytearray()
    inflater = zlib.decompressobj(-15) if entry.method == _DEFLATED else None
    pending = b""
    while True:
        if pending:
            chunk, pending = pending, b""
        elif left_in > 0:
            chunk = handle.read(min(CHUNK, left_in))
            if not chunk:
                archive.add(entry, "its data is truncated")
                return None
            left_in -= len(chunk)
        elif inflater is None or inflater.eof:
            break
        else:
            chunk = b""
        if inflater is None:
            piece = chunk
        else:
            try:
                piece = inflater.decompress(chunk, CHUNK)
            except zlib.error:
                archive.add(entry, "its compressed data is corrupt")
                return None
            pending = inflater.unconsumed_tail
            if not piece and not chunk and not pending:
                archive.add(entry, "its compressed data ends early (truncated)")
                return None
        out += piece
        consumed = entry.compressed_size - left_in - len(pending)
        if len(out) > entry.size:
            archive.add(entry, f"larger than declared ({entry.size:,} bytes)")
            return None
        if len(out) > budget:
            total = human(limits.max_size)
            archive.add(
                None,
                f"the entries are over {total} in total ({SIZE_ENV}); stopped at {entry.label}",
                fatal=True,
            )
            raise _Stop
        if len(out) > limits.ratio_floor and len(out) > limits.max_ratio * max(consumed, 1):
            archive.add(
                entry,
                f"expands more than {limits.max_ratio} times (zip bomb); stopped while inflating",
            )
            return None
        if inflater is not None and inflater.eof:
            if left_in or pending or inflater.unused_data:
                archive.add(entry, "data follows the end of its compressed stream")
                return None
            break
    if len(out) != entry.size:
        archive.add(entry, f"smaller than declared ({len(out):,} of {entry.size:,} bytes)")
        return None
    return bytes(out)
