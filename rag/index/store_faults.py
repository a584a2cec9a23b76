"""Why the knowledge base failed, in words a user can act on: not writable, out of space, damaged,
or a Chroma server that cannot be reached."""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import shutil
from pathlib import Path

from rag.errors import StoreError

LOW_SPACE = 16 * 1024 * 1024  # bytes free under which a failed write is put down to a full disk
_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_FULL_WORDS = ("disk is full", "no space left", "file too large", "quota exceeded")
_DENIED_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}
_DENIED_WORDS = ("readonly", "read-only", "permission denied", "operation not permitted")
WRITE_ERRNOS = _FULL_ERRNOS | _DENIED_ERRNOS  # an OSError with one of these: the disk, not the data


def unwritable(folder: Path) -> Path | None:
    """The first of `folder` and everything in it that this process may not write, if any."""
    if not folder.exists():
        return None
    for parent, _, names in os.walk(folder):
        for path in (Path(parent), *(Path(parent) / n for n in names)):
            if not os.access(path, os.W_OK):
                return path
    return None


def _out_of_space(folder: Path, exc: BaseException) -> bool:
    if getattr(exc, "errno", None) in _FULL_ERRNOS or any(w in str(exc).lower() for w in _FULL_WORDS):
        return True
    with contextlib.suppress(OSError):
        if shutil.disk_usage(folder if folder.exists() else folder.parent).free < LOW_SPACE:
            return True
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)  # a file size limit (ulimit -f) acts the same
    return soft != resource.RLIM_INFINITY


def write_failure(folder: Path, exc: BaseException) -> StoreError:
    """A StoreError that says why writing the knowledge base in `folder` failed and what to do."""
    blocked = unwritable(folder)
    text = str(exc).lower()
    denied = getattr(exc, "errno", None) in _DENIED_ERRNOS or any(w in text for w in _DENIED_WORDS)
    if blocked is not None or denied:
        where = f" ({blocked} cannot be written)" if blocked not in (None, folder) else ""
        return StoreError(
            f"The knowledge base folder {folder} is not writable{where}. Give this user write "
            "permission to it, or set RAG_HOME to a writable folder, then try again."
        )
    if _out_of_space(folder, exc):
        return StoreError(
            f"There is no space left to write the knowledge base in {folder} ({exc}). Free some disk "
            "space, then ingest again: the documents already stored are kept, and the ones cut off "
            "are redone."
        )
    return StoreError(
        f"Writing the knowledge base in {folder} failed ({exc}). Check that the disk is not full and "
        "the folder is writable, then ingest again."
    )


def store_failure(url: str | None, folder: Path, action: str, exc: Exception, write: bool) -> StoreError:
    """Chroma's failure to `action` (the server at `url`, or the store in `folder`), said for people."""
    if url:
        import httpx

        if isinstance(exc, (httpx.TransportError, OSError)):
            reason = str(exc) or type(exc).__name__
            return StoreError(
                f"The Chroma server at {url} cannot be reached to {action} ({reason})."
                " Start it again (`chroma run --path DIR --port PORT`) and retry: this session "
                "reconnects by itself."
            )
        return StoreError(f"The Chroma server at {url} failed to {action}: {exc}")
    if write:
        return write_failure(folder, exc)
    return StoreError(
        f"The knowledge base in {folder} could not {action} ({exc}). If it was damaged, "
        "move the folder away and ingest the documents again."
    )
