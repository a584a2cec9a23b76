"""Ingestion: files → documents → chunks → vectors → store, incremental by content hash."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Iterable
from pathlib import Path

from rag.answer.evidence import split_passages
from rag.bundled import bundled_files
from rag.chunk import chunk_document
from rag.embed import Embedder
from rag.load import MAX_FILE_BYTES, SkippedFile, find_files, read_document
from rag.schema import Document, IngestReport
from rag.sentences import as_passage
from rag.store import ChromaStore
from rag.store_faults import WRITE_ERRNOS, write_failure

log = logging.getLogger("rag")
BUNDLED_PREFIX = "bundled:"


def doc_key(path: Path, bundled: set[Path] | None = None) -> str:
    """How a document is known in the store: bundled ones by name, others by absolute path."""
    if bundled is None:
        bundled = {p.resolve() for p in bundled_files()}
    return BUNDLED_PREFIX + path.name if path.resolve() in bundled else str(path.resolve())


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


def _progress(total: int, show: bool) -> object:
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit="chunk",
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
) -> IngestReport:
    """Add new and changed documents, skip unchanged ones.

    With `prune`, documents whose files are gone are removed. With a Chroma server, only those
    under the given paths: the others may have been ingested from another machine.
    """
    report = IngestReport()
    paths = list(paths)
    files = find_files(paths)
    roots = [Path(p).expanduser().resolve() for p in paths]
    with store.lock():
        known = store.documents()
        todo: list[tuple[str, Document]] = []
        seen: set[str] = set()
        bundled = {p.resolve() for p in bundled_files()}  # once, not once per file
        for path in files:
            key = doc_key(path, bundled)
            if key in seen:
                continue
            seen.add(key)
            try:
                doc = read_document(path, max_bytes=max_file_bytes)
            except SkippedFile as exc:
                report.skipped[str(path)] = str(exc)
                log.warning("Skipped %s: %s", path, exc)
                continue
            if key in known and known[key].sha256 == doc.sha256:
                report.unchanged.append(doc.source)
                continue
            todo.append((key, doc))
        if todo or prune:
            store.check_writable()  # a read-only store fails here, before any embedding work
        chunked = [(key, doc, chunk_document(doc, key=key)) for key, doc in todo]
        bar = _progress(sum(len(c) for _, _, c in chunked), show_progress)
        for key, doc, chunks in chunked:
            try:
                vectors = embedder.embed_passages([c.text for c in chunks], progress=bar.update)  # type: ignore[attr-defined]
                # sentence vectors too (into the embedding cache): answers and reranking read them
                embedder.embed_passages([s.text for c in chunks for s in split_passages([as_passage(c)])])
            except (OSError, sqlite3.Error) as exc:  # the embedding cache beside the store: same disk
                if isinstance(exc, OSError) and exc.errno not in WRITE_ERRNOS:
                    raise
                raise write_failure(store.home, exc) from exc
            old = store.ids_of(key) if key in known else []
            new_ids = {c.id for c in chunks}
            # Crash-safe order: write the whole new version (one upsert), then drop what is stale.
            # Killed in between, the document's chunks disagree on its hash or count, so
            # store.documents() reports it incomplete and the next run redoes it.
            store.add(chunks, vectors, key, total=len(chunks))
            _crash_hook()
            stale = [i for i in old if i not in new_ids]
            if stale:
                store.delete(stale)
                _crash_hook()
            (report.updated if key in known else report.added).append(doc.source)
        bar.close()  # type: ignore[attr-defined]
        if prune:
            for key, info in known.items():
                if key not in seen and not _exists(key) and (not store.url or _under(key, roots)):
                    store.delete(store.ids_of(key))
                    report.removed.append(info.source)
        report.chunks = store.count()
    return report
