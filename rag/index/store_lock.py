"""The write locks of an embedded knowledge base: one writing process at a time, and the store's
files written only while the store lock is held.

Two lock files beside the store, both held with flock, which the kernel releases when its process
dies, even by SIGKILL (the files a killed writer leaves behind never block the next one):

- `NAME.writer`, the writer's claim: one writing process at a time, for its whole run. Chroma's
  embedded store cannot take turns between live processes (each keeps its own view of the vector
  index, and writes from two of them corrupt it), so a second writer is refused at once rather
  than let in between two documents of the first.
- `NAME.lock`, the store lock: held while the store's files and their read copy are written. An
  ingestion holds it for one document's write at a time, never while it reads or embeds a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from rag.errors import StoreBusyError
from rag.index.store_faults import write_failure


def claim_path(lock_path: Path) -> Path:
    """Where the writer's claim that goes with the store lock `lock_path` is kept."""
    return lock_path.with_name(lock_path.stem + ".writer")


class _Flock:
    """An exclusive, non-blocking flock on one file, which holds the pid of the process holding it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
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

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.ftruncate(fd, 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


class WriteLock:
    """The knowledge base held by one writing process for a whole block (the writer's claim and the
    store lock together, as a re-embedding takes them); StoreBusyError at once when another process
    holds either.

    `path` is the store lock (NAME.lock); the claim is beside it (`claim_path`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._claim = _Flock(claim_path(path))
        self._store = _Flock(path)

    def __enter__(self) -> WriteLock:
        self._claim.acquire()
        try:
            self._store.acquire()
        except BaseException:
            self._claim.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._store.release()
        finally:
            self._claim.release()


class RunLock(WriteLock):
    """A writer's run (an ingestion): the claim for the whole run, the store lock only inside
    `writing()`, around one write; `written` is called after each write that succeeded, still under
    the store lock (to bring the read copy up to date).

    Entering also checks that the store lock is free, so a store held by another writer is said at
    once, before any file is read.
    """

    def __init__(self, path: Path, written: Callable[[], None] | None = None) -> None:
        super().__init__(path)
        self._written = written

    def __enter__(self) -> RunLock:
        self._claim.acquire()
        try:
            self._store.acquire()
            self._store.release()
        except BaseException:
            self._claim.release()
            raise
        return self

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """The store lock around one write (one document's chunks and the removal of its stale
        ones, or the removal of a document)."""
        self._store.acquire()
        try:
            yield
            if self._written is not None:
                self._written()
        finally:
            self._store.release()


class NoLock:
    """What a store on a Chroma server takes: no lock (the server serialises its clients' writes)."""

    def __enter__(self) -> NoLock:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def writing(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()
