"""Finding and reading documents: supported formats, encoding detection, cleaning.

The formats and what a line number means in each are in `rag.formats`.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterable
from pathlib import Path

from rag.config import MAX_FILE_MB
from rag.errors import InputError
from rag.formats import SUFFIXES, SkippedFile, decode, extract_lines
from rag.schema import Document

__all__ = ["MAX_FILE_BYTES", "SUFFIXES", "SkippedFile", "decode", "find_files", "read_document"]

MAX_FILE_BYTES = int(MAX_FILE_MB * 1024 * 1024)


def size_text(n: int) -> str:
    """A byte count for people: "20 MB", "1.5 MB", "300 KB".

    Example:
        >>> size_text(20 * 2**20), size_text(1536 * 1024), size_text(300 * 1024)
        ('20 MB', '1.5 MB', '300 KB')
    """
    if n >= 2**20:
        return f"{n / 2**20:.1f}".removesuffix(".0") + " MB"
    return f"{max(1, round(n / 1024))} KB"


def find_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders into the supported files they hold; a missing path is an error.

    In a folder, anything with a supported suffix that is not itself a folder is listed (a FIFO or
    a broken link too), so that a file which cannot be read is reported as skipped, not ignored.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise InputError(f"No such file or folder: {str(raw)!r}")
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.suffix.lower() in SUFFIXES and not p.name.startswith(".") and not p.is_dir()
            )
        else:
            found.append(path)
    return found


def read_document(path: Path, source: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> Document:
    """Read, decode and clean one file; raises SkippedFile with the reason when it cannot (over
    `max_bytes` among them)."""
    if path.suffix.lower() not in SUFFIXES:
        raise SkippedFile(
            f"unsupported file type {path.suffix or '(none)'!r}; supported: {', '.join(SUFFIXES)}"
        )
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise SkippedFile("it is not a regular file")
        if info.st_size > max_bytes:
            size, limit = size_text(info.st_size), size_text(max_bytes)
            if size == limit:  # just over: "20 MB, over the 20 MB limit" would say nothing
                size, limit = f"{info.st_size:,} bytes", f"{limit} ({max_bytes:,} bytes)"
            raise SkippedFile(f"it is {size}, over the {limit} limit")
        data = path.read_bytes()
    except OSError as exc:
        raise SkippedFile(f"it could not be read ({exc.strerror or exc})") from exc
    if not data.strip():
        raise SkippedFile("it is empty")
    lines = extract_lines(path.suffix, data)
    if not lines:
        raise SkippedFile("no text is left after cleaning")
    return Document(
        source=source or path.name,
        path=str(path.resolve()),
        sha256=hashlib.sha256(data).hexdigest(),
        lines=lines,
    )
