"""The write lock of an embedded knowledge base: one writing process at a time."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from rag.errors import StoreBusyError
from rag.index.store_faults import write_failure


class WriteLock:
    """An exclusive lock on the knowledge base for one writing process.

    flock is held by the open file, so the kernel releases it when its process dies, even by
    SIGKILL: the file a killed writer leaves behind never blocks the next one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> WriteLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise write_failure(self.path.parent, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreBusyError(
                f"Another process (pid {holder}) is writing the knowledge base at {self.path.parent}. "
                "Wait for it to finish, or share one index between processes with a Chroma server "
                "(set RAG_CHROMA_URL)."
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        except OSError as exc:
            os.close(fd)
            raise write_failure(self.path.parent, exc) from exc
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
