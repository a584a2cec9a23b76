"""Ingestion: files → documents → chunks → vectors → store, incremental by content hash."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag.config import EMBED_SLICE_CHARS, max_document_chars, max_file_seconds
from rag.config import follow_links as follow_links_setting
from rag.errors import StoreError
from rag.index.embed import Embedder
from rag.index.sentence_index import as_passage
from rag.index.store import ChromaStore
from rag.index.store_faults import WRITE_ERRNOS, write_failure
from rag.index.store_lock import NoLock, RunLock
from rag.ingest.bundled import bundled_files
from rag.ingest.chunk import chunk_document
from rag.ingest.load import MAX_FILE_BYTES, Budget, SkippedFile, read_document, real_path, walk_files
from rag.ingest.titles import document_title
from rag.schema import Chunk, Document, IngestReport
from rag.text.sentences import split_passages

log = logging.getLogger("rag")
BUNDLED_PREFIX = "bundled:"


def copy_reason(stored: str) -> str:
    """Why a file is skipped whose text the knowledge base holds as `stored` (a path or a name)."""
    return f"the same text as {stored}, which the knowledge base holds"


def doc_key(path: Path, bundled: set[Path] | None = None) -> str:
    """How a document is known in the store: bundled ones by name, others by absolute path."""
    if bundled is None:
        bundled = {real_path(p) for p in bundled_files()}
    real = real_path(path)
    return BUNDLED_PREFIX + path.name if real in bundled else str(real)


def _exists(key: str) -> bool:
    if key.startswith(BUNDLED_PREFIX):
        return any(p.name == key.removeprefix(BUNDLED_PREFIX) for p in bundled_files())
    return Path(key).exists()


def _under(key: str, roots: list[Path]) -> bool:
    return any(key == str(r) or key.startswith(str(r).rstrip(os.sep) + os.sep) for r in roots)


def _crash_hook() -> None:
    """Test hook: with RAG_TEST_CRASH_AFTER=N the process SIGKILLs itself after its N-th store write.

    Store writes are the upsert and the delete of each document, so N=1 stops between a changed
    document's new chunks and the removal of its old ones. tests/test_crash.py uses it to crash
    ingestion at exact points; unset (always, outside tests) it does nothing.
    """
    global _writes
    limit = os.environ.get("RAG_TEST_CRASH_AFTER")
    if not limit:
        return
    _writes += 1
    if _writes >= int(limit):
        os.kill(os.getpid(), signal.SIGKILL)


_writes = 0


def expand_path(path: str | Path) -> str:
    """A path as given, with `~` and environment variables ($HOME, ${DATA}) expanded, unless a file
    of that very name exists."""
    raw = str(path)
    if Path(raw).exists():
        return raw
    return os.path.expandvars(os.path.expanduser(raw))


def _titled(chunks: list[Chunk], doc: Document) -> list[Chunk]:
    """The chunks with their document's title (metadata for people, not part of the text)."""
    title = document_title(doc)
    return [replace(c, title=title) for c in chunks]


def _add_title(store: ChromaStore, lock: RunLock | NoLock, key: str, stored: str, doc: Document) -> None:
    """Give an unchanged document indexed before titles were stored its title (best effort: a
    store that cannot be written keeps showing the file name)."""
    if stored:
        return
    title = document_title(doc)  # read from the file's head: not under the store lock
    try:
        with lock.writing():
            store.set_title(key, title)
    except StoreError as exc:
        log.debug("No title stored for %s: %s", key, exc)


def _skip(report: IngestReport, doc: Document, exc: SkippedFile) -> None:
    report.skipped[doc.path] = str(exc)
    log.info("Skipped %s: %s", doc.path, exc)


def _slices(texts: list[str]) -> Iterator[list[str]]:
    """The texts in runs of at most EMBED_SLICE_CHARS characters (one text at least)."""
    run: list[str] = []
    size = 0
    for text in texts:
        if run and size + len(text) > EMBED_SLICE_CHARS:
            yield run
            run, size = [], 0
        run.append(text)
        size += len(text)
    if run:
        yield run


def _embed(embedder: Embedder, texts: list[str], budget: Budget, bar: object | None = None) -> np.ndarray:
    """The texts' vectors, a slice at a time; before each slice the file must have time left for one
    more as long as the last (SkippedFile if not: what was embedded stays in the cache)."""
    vectors: list[np.ndarray] = []
    last = 0.0
    for part in _slices(texts):
        budget.check(ahead=last)
        start = time.monotonic()
        vectors.append(embedder.embed_passages(part))
        last = time.monotonic() - start
        if bar is not None:
            bar.update(len(part))  # type: ignore[attr-defined]
    return np.concatenate(vectors) if vectors else embedder.embed_passages([])


def _progress(total: int, show: bool) -> object:
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit="text",
        desc="Indexing",
        disable=not show,
        file=sys.stderr,
        dynamic_ncols=True,
        leave=False,
    )


def ingest(
    store: ChromaStore,
    embedder: Embedder,
    paths: Iterable[str | Path],
    prune: bool = False,
    show_progress: bool = True,
    max_file_bytes: int = MAX_FILE_BYTES,
    follow_links: bool | None = None,
    max_chars: int | None = None,
    max_seconds: float | None = None,
) -> IngestReport:
    """Add new and changed documents, skip unchanged ones.

    With `prune`, documents whose files are gone are removed. With a Chroma server, only those
    under the given paths: the others may have been ingested from another machine.
    Symbolic links in folders are followed only with `follow_links`, and only inside the folder.
    Each file may hold `max_chars` characters of text and take `max_seconds` from reading to
    embedding; a file over either is skipped, with the reason (unset: the RAG_* settings).

    An embedded store is this process's to write for the whole call (a second writer gets
    StoreBusyError at once), but its store lock is held only while one document is written: files
    are read, chunked and embedded without it.
    """
    report = IngestReport()
    paths = [expand_path(p) for p in paths]
    follow = follow_links_setting() if follow_links is None else follow_links
    chars = max_document_chars() if max_chars is None else max_chars
    seconds = max_file_seconds() if max_seconds is None else max_seconds
    files, report.skipped = walk_files(paths, follow)
    named = {Path(p).expanduser() for p in paths}  # files named directly are read even as links
    budgets: dict[str, Budget] = {}
    roots = [real_path(Path(p).expanduser()) for p in paths]
    with store.lock() as lock:
        known = store.documents()
        todo: list[tuple[str, Document]] = []
        seen: set[str] = set()
        # a text is kept once: a file with the text of a stored (or queued) one is skipped, and it
        # takes the place of a stored copy whose file is gone (a moved file or folder)
        by_text = {info.sha256: k for k, info in known.items() if info.sha256}
        moved: dict[str, str] = {}
        bundled = {real_path(p) for p in bundled_files()}  # once, not once per file
        for path in files:
            key = doc_key(path, bundled)
            if key in seen:
                continue
            seen.add(key)
            budget = budgets[key] = Budget(seconds, chars).start()
            try:
                linked = follow or path in named
                doc = read_document(path, max_bytes=max_file_bytes, budget=budget, follow=linked)
            except SkippedFile as exc:
                report.skipped[str(path)] = str(exc)
                log.info("Skipped %s: %s", path, exc)  # the report says it: once is enough
                continue
            finally:
                budget.pause()
            if key in known and known[key].sha256 == doc.sha256:
                _add_title(store, lock, key, known[key].title, doc)
                report.unchanged.append(doc.source)
                continue
            copy = by_text.setdefault(doc.sha256, key)
            if copy != key and key not in known:
                # with a Chroma server, a stored file may be on another machine: never taken as moved
                if store.url or _exists(copy):
                    report.skipped[str(path)] = copy_reason(copy)
                    report.copies[str(path)] = copy
                    continue
                moved[key], by_text[doc.sha256] = copy, key
            todo.append((key, doc))
        if todo or prune:
            store.check_writable()  # a read-only store fails here, before any embedding work
        chunked = []
        for key, doc in todo:
            try:
                chunks = chunk_document(doc, key=key, check=budgets[key].start().check)
                chunks = _titled(chunks, doc)
                # sentence vectors too (into the embedding cache): answers and reranking read them
                sentences = [s.text for c in chunks for s in split_passages([as_passage(c)])]
                chunked.append((key, doc, chunks, sentences))
            except SkippedFile as exc:
                _skip(report, doc, exc)
            finally:
                budgets[key].pause()
        # the bar counts every text embedded, chunks and sentences: its rate is texts/s
        bar = _progress(sum(len(c) + len(s) for _, _, c, s in chunked), show_progress)
        for key, doc, chunks, sentences in chunked:
            budget = budgets[key].start()
            try:
                vectors = _embed(embedder, [c.text for c in chunks], budget, bar)
                _embed(embedder, sentences, budget, bar)
            except SkippedFile as exc:  # out of time: the vectors made so far stay in the cache
                _skip(report, doc, exc)
                continue
            except (OSError, sqlite3.Error) as exc:  # the embedding cache beside the store: same disk
                if isinstance(exc, OSError) and exc.errno not in WRITE_ERRNOS:
                    raise
                raise write_failure(store.home, exc) from exc
            finally:
                budget.pause()
            with lock.writing():
                old = store.ids_of(key) if key in known else []
                new_ids = {c.id for c in chunks}
                # Crash-safe order: write the whole new version (one upsert), then drop what is
                # stale. Killed in between, the document's chunks disagree on its hash or count, so
                # store.documents() reports it incomplete and the next run redoes it.
                store.add(chunks, vectors, key, total=len(chunks))
                _crash_hook()
                stale = [i for i in old if i not in new_ids]
                if stale:
                    store.delete(stale)
                    _crash_hook()
                if key in moved:
                    store.delete(store.ids_of(moved[key]))
                    report.removed.append(known[moved[key]].source)
            (report.updated if key in known else report.added).append(doc.source)
        bar.close()  # type: ignore[attr-defined]
        if prune:
            for key, info in known.items():
                if key not in seen and not _exists(key) and (not store.url or _under(key, roots)):
                    with lock.writing():
                        store.delete(store.ids_of(key))
                    report.removed.append(info.source)
        report.chunks = store.count()
    return report
