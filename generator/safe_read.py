"""Reading untrusted JSON files: the one primitive every reader of records goes through.

A record may come from another machine, another version of this project, or
someone careless or hostile, and it ends up on a public page. So reading one
refuses, with the file (and where it can, the field) named and never with a
traceback:

- anything that is not a regular file: a symbolic link (it could publish a file
  outside the folder), a FIFO (would block forever), a device (``/dev/zero``
  reads until memory runs out). The file is opened with ``O_NOFOLLOW`` and
  ``O_NONBLOCK`` and checked with ``fstat`` before a byte is read;
- a file over ``MAX_RECORD_BYTES`` (a real record is 10-100 kB);
- bytes that are not UTF-8, and JSON that is not strict (``schema.parse_json``:
  ``NaN``/``Infinity``, numbers that overflow a float such as ``1e999``,
  integers longer than any count we record), nesting deeper than ``MAX_DEPTH``;
- strings (values and keys) holding NUL or other control characters, lone
  surrogates or Unicode non-characters such as U+FFFE: they break file names,
  Markdown, CSV and the chart renderer (vl-convert aborts the process on them).

``walk_json_files`` lists ``*.json`` files under a folder without following
links, so the measurements folder can only publish what is inside it.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from generator.schema import CEILINGS_FILE_NAME, RecordError, parse_json

# Far above any real record (10-100 kB with every sample kept), far below what
# would make a page or the data download exceed GitHub's 100 MB file limit.
MAX_RECORD_BYTES = 8 * 1024 * 1024
# A record nests about 6 levels deep; the margin is for future schema versions.
MAX_DEPTH = 32
# C0 controls except tab, newline and carriage return (error messages keep
# tracebacks), DEL, C1 controls, lone surrogates, and the non-characters.
_FORBIDDEN_CHARACTER = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
    "|[\U0001fffe\U0001ffff\U0002fffe\U0002ffff\U0003fffe\U0003ffff\U0004fffe\U0004ffff"
    "\U0005fffe\U0005ffff\U0006fffe\U0006ffff\U0007fffe\U0007ffff\U0008fffe\U0008ffff"
    "\U0009fffe\U0009ffff\U000afffe\U000affff\U000bfffe\U000bffff\U000cfffe\U000cffff"
    "\U000dfffe\U000dffff\U000efffe\U000effff\U000ffffe\U000fffff\U0010fffe\U0010ffff]"
)


# The ASCII characters of _FORBIDDEN_CHARACTER: a record is almost always ASCII, and a class of
# these scans one ten times faster than the whole pattern with its astral ranges.
_FORBIDDEN_ASCII = re.compile(
    "[" + "".join(re.escape(chr(code)) for code in range(128) if _FORBIDDEN_CHARACTER.match(chr(code))) + "]"
)


def _holds_forbidden_character(text: str) -> bool:
    pattern = _FORBIDDEN_ASCII if text.isascii() else _FORBIDDEN_CHARACTER
    return pattern.search(text) is not None


class _Refused(ValueError):
    """A refusal found while walking the decoded document; turned into a RecordError naming the field."""


def read_regular_file(path: Path, max_bytes: int = MAX_RECORD_BYTES) -> bytes:
    """The bytes of ``path`` if it is a regular file (not a link) of at most ``max_bytes``."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        if os.path.islink(path):
            raise RecordError(path, "is a symbolic link; records must be regular files inside the folder") from None
        raise RecordError(path, f"cannot be read: {error.strerror or error}") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            kind = (
                "a FIFO"
                if stat.S_ISFIFO(info.st_mode)
                else "a device"
                if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                else "a socket"
                if stat.S_ISSOCK(info.st_mode)
                else "not a file"
            )
            raise RecordError(path, f"is {kind}, not a regular file; refused")
        if info.st_size > max_bytes:
            raise RecordError(path, f"is {info.st_size:,} bytes, over the limit of {max_bytes:,} bytes per record")
        chunks: list[bytes] = []
        total = 0
        while True:  # read to the end, but never past the limit (the file may grow while read)
            chunk = os.read(descriptor, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise RecordError(path, f"is over the limit of {max_bytes:,} bytes per record")
        return b"".join(chunks)
    except OSError as error:
        raise RecordError(path, f"cannot be read: {error.strerror or error}") from None
    finally:
        os.close(descriptor)


def _check_tree(document: Any, text: str) -> None:
    """Depth and characters of every value and key of ``document``, parsed from ``text``."""
    if "\\" not in text and not _holds_forbidden_character(text):
        # Without an escape, every string of the document is a piece of the text, which holds no
        # forbidden character: only the depth is left to check. A zoo's records are thousands of
        # numbers each, and walking each with its path took half of a 3000-record load.
        if not _deeper_than(document, MAX_DEPTH):
            return
    _check_every_value(document)  # also names the place of whatever it finds


def _deeper_than(document: Any, depth_limit: int) -> bool:
    """Whether any value (a scalar too) sits more than ``depth_limit`` containers deep."""
    if not isinstance(document, dict | list):
        return False
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(document, 0)]  # containers only
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if children and depth + 1 > depth_limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _check_every_value(document: Any) -> None:
    """Depth and characters of every value and key, iteratively (no recursion on hostile depth)."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(document, ())]
    while stack:
        value, where = stack.pop()
        if len(where) > MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep", ".".join(where[:8]) + ".…")
        if isinstance(value, str):
            _check_text(value, where)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, where, is_key=True)
                stack.append((item, (*where, key)))
        elif isinstance(value, list):
            stack.extend((item, (*where, str(index))) for index, item in enumerate(value))


def _check_text(text: str, where: tuple[str, ...], is_key: bool = False) -> None:
    found = _FORBIDDEN_CHARACTER.search(text)
    if found:
        what = "key" if is_key else "text"
        raise _Refused(
            f"{what} holds the character U+{ord(found.group()):04X}, which is not allowed in a record",
            ".".join(where) or None,
        )


def parse_json_bytes(data: bytes, path: Path | str) -> Any:
    """Strictly decode and parse ``data``; raise RecordError naming ``path``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RecordError(path, f"not UTF-8: byte 0x{data[error.start]:02x} at offset {error.start}") from None
    try:
        document = parse_json(text)  # the schema's strict numbers
    except RecursionError:
        raise RecordError(path, f"nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as error:
        raise RecordError(path, f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except ValueError as error:  # NaN, Infinity, 1e999, a 4,300-digit integer
        raise RecordError(path, str(error)) from None
    try:
        _check_tree(document, text)
    except _Refused as error:
        field = error.args[1] if len(error.args) > 1 else None
        raise RecordError(path, error.args[0], field) from None
    return document


def read_json(path: Path, max_bytes: int = MAX_RECORD_BYTES) -> Any:
    """Read an untrusted JSON file: regular file, size-capped, strict UTF-8 and strict JSON."""
    return parse_json_bytes(read_regular_file(path, max_bytes), path)


def walk_json_files(root: Path) -> list[Path]:
    """Every record file (``*.json``) under ``root`` in sorted order, never following links.

    Hidden files and folders (editor and atomic-write temporaries) are skipped.
    A link or a special file named ``*.json``, and a link to a folder, are
    returned too, so that reading them refuses them by name instead of their
    vanishing silently (or, followed, publishing files from elsewhere).
    """
    # A run folder's ceilings file is not a record: the store reads it on its own.
    return _walk(root, lambda name: name.endswith(".json") and name != CEILINGS_FILE_NAME)


def walk_ceilings_files(root: Path) -> list[Path]:
    """Every run folder's ceilings file (``machine.json``) under ``root``, as ``walk_json_files`` walks.

    A linked folder is listed by ``walk_json_files`` already (and refused there); here only by this name.
    """
    return [path for path in _walk(root, lambda name: name == CEILINGS_FILE_NAME) if path.name == CEILINGS_FILE_NAME]


def _walk(root: Path, wanted: Callable[[str], bool]) -> list[Path]:
    found: list[Path] = []
    for folder, subfolders, files in os.walk(root, followlinks=False):
        base = Path(folder)
        linked = [name for name in subfolders if (base / name).is_symlink()]
        subfolders[:] = sorted(name for name in subfolders if not name.startswith(".") and name not in linked)
        found.extend(base / name for name in linked if not name.startswith("."))
        found.extend(base / name for name in files if wanted(name) and not name.startswith("."))
    return sorted(found)
