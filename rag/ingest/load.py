"""Finding and reading documents: supported formats, encoding detection, cleaning.

The formats and what a line number means in each are in `rag.ingest.formats`.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from rag.config import MAX_FILE_MB
from rag.errors import InputError
from rag.ingest.formats import SUFFIXES, Budget, SkippedFile, decode, extract_lines
from rag.schema import Document

__all__ = [
    "MAX_FILE_BYTES",
    "SUFFIXES",
    "Budget",
    "SkippedFile",
    "decode",
    "find_files",
    "read_document",
    "real_path",
    "walk_files",
]

NOT_FOLLOWED = (
    "it is a symbolic link, and links in a folder are not followed (set RAG_FOLLOW_LINKS=1 to follow "
    "those that stay inside the folder)"
)

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


def real_path(path: Path) -> Path:
    """The absolute path with links resolved, or as it is where they cannot be (a link loop)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _wanted(name: str) -> bool:
    return Path(name).suffix.lower() in SUFFIXES and not name.startswith(".")


def _walk(root: Path, follow_links: bool, found: list[Path], skipped: dict[str, str]) -> None:
    """The supported files under one folder, without following a link out of it (or at all)."""
    top = os.path.realpath(root)
    seen: set[tuple[int, int]] = set()
    todo = [str(root)]
    while todo:
        folder = todo.pop()
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in seen:
                continue  # reached again through a link
            seen.add((info.st_dev, info.st_ino))
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped[folder] = f"the folder could not be read ({exc.strerror or exc})"
            continue
        for entry in entries:
            try:
                if entry.is_symlink():
                    _link(entry, top, follow_links, found, skipped, todo)
                elif entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
                elif _wanted(entry.name):  # a FIFO too: it is reported as skipped, not ignored
                    found.append(Path(entry.path))
            except OSError as exc:
                skipped[entry.path] = f"it could not be read ({exc.strerror or exc})"


def _link(
    entry: os.DirEntry[str],
    top: str,
    follow: bool,
    found: list[Path],
    skipped: dict[str, str],
    todo: list[str],
) -> None:
    """A link met in a folder: followed only when allowed and when it stays inside the folder."""
    target = os.path.realpath(entry.path)
    is_dir = os.path.isdir(target)
    if not (is_dir or _wanted(entry.name)):
        return  # a link to a file of another type: not a document either way
    if not follow:
        skipped[entry.path] = NOT_FOLLOWED
    elif not os.path.exists(target) or os.path.islink(target):
        skipped[entry.path] = "it is a broken symbolic link (or a loop of links)"
    elif not _inside(target, top):
        skipped[entry.path] = f"it is a symbolic link to {target}, outside the folder {top}: not followed"
    elif is_dir:
        todo.append(entry.path)
    else:
        found.append(Path(entry.path))


def walk_files(paths: Iterable[str | Path], follow_links: bool = False) -> tuple[list[Path], dict[str, str]]:
    """The supported files in the given files and folders, and why others met there are left out.

    A missing path is an error. A file named directly is taken as it is (a link too: it was named).
    In a folder, anything with a supported suffix that is not itself a folder is listed (a FIFO
    too), so that a file which cannot be read is reported as skipped, not ignored; symbolic links
    are not followed, unless `follow_links`, and then only to files and folders inside the folder
    (each folder once, so a loop of links ends). No directory structure raises anything else.
    """
    found: list[Path] = []
    skipped: dict[str, str] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            folder: list[Path] = []
            _walk(path, follow_links, folder, skipped)
            found.extend(sorted(folder))
        elif path.exists() or path.is_symlink():
            found.append(path)  # a broken link or a loop named directly: reading it says why
        else:
            raise InputError(f"No such file or folder: {str(raw)!r}")
    return found, skipped


def find_files(paths: Iterable[str | Path], follow_links: bool = False) -> list[Path]:
    """The supported files in the given files and folders (see `walk_files`)."""
    return walk_files(paths, follow_links)[0]


def _read(path: Path, max_bytes: int, follow: bool) -> bytes:
    """The file's bytes: a regular file only, at most `max_bytes`, and not through a link unless
    `follow` (checked on the open file, so a file swapped for a link meanwhile is refused too)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)  # a FIFO must not block the open
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if not follow and path.is_symlink():
            raise SkippedFile(NOT_FOLLOWED) from exc
        raise
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SkippedFile("it is not a regular file")
        if info.st_size > max_bytes:
            size, limit = size_text(info.st_size), size_text(max_bytes)
            if size == limit:  # just over: "20 MB, over the 20 MB limit" would say nothing
                size, limit = f"{info.st_size:,} bytes", f"{limit} ({max_bytes:,} bytes)"
            raise SkippedFile(f"it is {size}, over the {limit} limit")
        return file.read(max_bytes + 1)


def read_document(
    path: Path,
    source: str | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    budget: Budget | None = None,
    follow: bool = True,
) -> Document:
    """Read, decode and clean one file; raises SkippedFile with the reason when it cannot (over
    `max_bytes`, or over the budget's characters or time, among them). `follow=False` refuses a
    file that is a symbolic link."""
    if path.suffix.lower() not in SUFFIXES:
        raise SkippedFile(
            f"unsupported file type {path.suffix or '(none)'!r}; supported: {', '.join(SUFFIXES)}"
        )
    try:
        data = _read(path, max_bytes, follow)
    except OSError as exc:
        raise SkippedFile(f"it could not be read ({exc.strerror or exc})") from exc
    if not data.strip():
        raise SkippedFile("it is empty")
    lines = extract_lines(path.suffix, data, budget)
    if not lines:
        raise SkippedFile("no text is left after cleaning")
    return Document(
        source=source or path.name,
        path=str(real_path(path)),
        sha256=hashlib.sha256(data).hexdigest(),
        lines=lines,
    )
