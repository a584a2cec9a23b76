"""Finding and reading documents: supported formats, encoding detection, cleaning."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from rag.clean import clean_document
from rag.errors import InputError
from rag.schema import Document

SUFFIXES = (".txt", ".md", ".markdown")
MAX_FILE_BYTES = 20 * 1024 * 1024


class SkippedFile(Exception):
    """A file that cannot be ingested; the message says why."""


def find_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders into the supported files they hold; a missing path is an error."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise InputError(f"No such file or folder: {str(raw)!r}")
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
            )
        else:
            found.append(path)
    return found


def decode(data: bytes) -> str:
    """Bytes to text: UTF-8 (with or without BOM), else the encoding charset-normalizer detects."""
    if b"\x00" in data[:8192]:
        raise SkippedFile("it looks like a binary file (it contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise SkippedFile("its text encoding could not be recognised")
    return str(best)


def read_document(path: Path, source: str | None = None) -> Document:
    """Read, decode and clean one file; raises SkippedFile with the reason when it cannot."""
    if path.suffix.lower() not in SUFFIXES:
        raise SkippedFile(
            f"unsupported file type {path.suffix or '(none)'!r}; supported: {', '.join(SUFFIXES)}"
        )
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SkippedFile(f"it is {size / 2**20:.0f} MB, over the {MAX_FILE_BYTES // 2**20} MB limit")
        data = path.read_bytes()
    except OSError as exc:
        raise SkippedFile(f"it could not be read ({exc.strerror or exc})") from exc
    if not data.strip():
        raise SkippedFile("it is empty")
    lines = clean_document(decode(data))
    if not lines:
        raise SkippedFile("no text is left after cleaning")
    return Document(
        source=source or path.name,
        path=str(path.resolve()),
        sha256=hashlib.sha256(data).hexdigest(),
        lines=lines,
    )
