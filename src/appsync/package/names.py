"""Entry names of untrusted packages: decoding, display and the rules that keep every path
inside the extraction folder and portable across file systems. Pure."""

from __future__ import annotations

import re
import unicodedata

#: General purpose flag bit 11: the name is UTF-8.
UTF8_FLAG = 0x800
MAX_NAME_BYTES = 1024
MAX_COMPONENT_BYTES = 255
_DRIVE = re.compile(r"^[A-Za-z]:")
_NOT_PORTABLE = re.compile(r'[<>:"|?*]')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RESERVED = {"con", "prn", "aux", "nul"} | {f"{d}{i}" for d in ("com", "lpt") for i in range(10)}


def decode_name(raw: bytes, flags: int) -> tuple[str | None, str | None]:
    """The entry's name, or ``None`` and why it cannot be read as UTF-8."""
    if flags & UTF8_FLAG:
        try:
            return raw.decode("utf-8"), None
        except UnicodeDecodeError:
            return None, "name is not valid UTF-8 (flag bit 11 is set)"
    if any(b >= 0x80 for b in raw):
        return None, "name is not UTF-8 (flag bit 11 unset and non-ASCII bytes)"
    return raw.decode("ascii"), None


def show(raw: bytes | str) -> str:
    """A name as one printable line: undecodable bytes as ``\\xNN``, control and invisible
    characters escaped, so a hostile name can neither break a line nor hide itself."""
    text = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw
    out: list[str] = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out) or "(empty name)"


def fold(name: str) -> str:
    """The form two names share when a case-insensitive or normalizing file system would
    store them as one file."""
    return unicodedata.normalize("NFC", name).casefold()


def name_problems(name: str) -> list[str]:
    """Every reason ``name`` (decoded) is not a safe, portable relative path."""
    problems: list[str] = []
    if not name:
        return ["empty entry name"]
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        problems.append(f"name is longer than {MAX_NAME_BYTES} bytes")
    if not name.isprintable():
        if _CONTROL.search(name):
            problems.append("name contains control characters")
        else:
            problems.append("name contains invisible or formatting characters")
    if "\\" in name:
        problems.append("name contains a backslash (a Windows path separator)")
    if name.startswith("/"):
        problems.append("absolute path")
    drive = _DRIVE.match(name) is not None
    if drive:
        problems.append("path starts with a drive letter")
    path = name[:-1] if name.endswith("/") else name
    parts = path.split("/")
    if ".." in parts:
        problems.append("path leaves the package ('..')")
    if "." in parts:
        problems.append("path has a '.' component")
    if "" in parts and not name.startswith("/"):
        problems.append("path has an empty component ('//')")
    bad = sorted(set(_NOT_PORTABLE.findall(name)) - ({":"} if drive else set()))
    if bad:
        problems.append(f"name contains {' '.join(repr(c) for c in bad)} (not portable)")
    for part in parts:
        if part in ("", ".", ".."):
            continue
        if part[-1] in ". ":
            problems.append(f"component {show(part)!r} ends with a dot or space")
        if part.split(".")[0].rstrip(" ").casefold() in _RESERVED:
            problems.append(f"component {show(part)!r} is a name Windows reserves")
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            problems.append(f"a component is longer than {MAX_COMPONENT_BYTES} bytes")
    return problems


#: Names that mark an archive inside the archive.
ARCHIVE_SUFFIXES = (
    ".zip", ".jar", ".war", ".ear", ".apk", ".aar", ".whl", ".egg", ".nupkg", ".xpi",
    ".gz", ".tgz", ".tar", ".bz2", ".tbz", ".tbz2", ".xz", ".txz", ".lz", ".lzma", ".lz4",
    ".zst", ".7z", ".rar", ".cab", ".iso", ".z",
)  # fmt: skip

#: Leading bytes of archives and compressed streams.
_MAGIC = (
    b"PK\x03\x04",  # zip local file header
    b"PK\x05\x06",  # empty zip
    b"PK\x07\x08",  # spanned zip
    b"\x1f\x8b",  # gzip
    b"\xfd7zXZ\x00",  # xz
    b"7z\xbc\xaf\x27\x1c",  # 7-zip
    b"Rar!\x1a\x07",  # rar
    b"\x28\xb5\x2f\xfd",  # zstandard
    b"\x04\x22\x4d\x18",  # lz4 frame
    b"MSCF",  # cab
)
_BZIP2 = re.compile(rb"^BZh[1-9]1AY&SY")


def nested_archive(name: str, data: bytes | None) -> str | None:
    """Why an entry looks like an archive in the archive, if it does."""
    lower = name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lower.endswith(suffix):
            return f"nested archive ({suffix} entry)"
    if data is None:
        return None
    if data.startswith(_MAGIC) or _BZIP2.match(data) or data[257:262] == b"ustar":
        return "nested archive (the content starts like a ZIP, gzip or other archive)"
    return None
