"""Ingestion: files → documents → chunks → vectors → store, incremental by content hash."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from pathlib import Path

from rag.answer.evidence import split_passages
from rag.bundled import bundled_files
from rag.chunk import chunk_document
from rag.embed import Embedder
from rag.load import SkippedFile, find_files, read_document
from rag.schema import Document, IngestReport
from rag.sentences import as_passage
from rag.store import ChromaStore

log = logging.getLogger("rag")
BUNDLED_PREFIX = "bundled:"


def doc_key(path: Path) -> str:
    """How a document is known in the store: bundled ones by name, others by absolute path."""
    bundled = {p.resolve() for p in bundled_files()}
    return BUNDLED_PREFIX + path.name if path.resolve() in bundled else str(path.resolve())


def _exists(key: str) -> bool:
    if key.startswith(BUNDLED_PREFIX):
        return any(p.name == key.removeprefix(BUNDLED_PREFIX) for p in bundled_files())
    return Path(key).exists()


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
) -> IngestReport:
    """Add new and changed documents, skip unchanged ones.

    With `prune`, documents whose files are gone are removed.
    """
    report = IngestReport()
    files = find_files(paths)
    with store.lock():
        known = store.documents()
        todo: list[tuple[str, Document]] = []
        seen: set[str] = set()
        for path in files:
            key = doc_key(path)
            if key in seen:
                continue
            seen.add(key)
            try:
                doc = read_document(path)
            except SkippedFile as exc:
                report.skipped[str(path)] = str(exc)
                log.warning("Skipped %s: %s", path, exc)
                continue
            if key in known and known[key].sha256 == doc.sha256:
                report.unchanged.append(doc.source)
                continue
            todo.append((key, doc))
        chunked = [(key, doc, chunk_document(doc)) for key, doc in todo]
        bar = _progress(sum(len(c) for _, _, c in chunked), show_progress)
        for key, doc, chunks in chunked:
            vectors = embedder.embed_passages([c.text for c in chunks], progress=bar.update)  # type: ignore[attr-defined]
            # sentence vectors too (into the embedding cache): answers and reranking read them
            embedder.embed_passages([s.text for c in chunks for s in split_passages([as_passage(c)])])
            old = store.ids_of(key) if key in known else []
            new_ids = {c.id for c in chunks}
            fresh = [c.id not in old for c in chunks]
            store.add([c for c, f in zip(chunks, fresh) if f], vectors[fresh], key, total=len(chunks))
            store.delete([i for i in old if i not in new_ids])
            (report.updated if key in known else report.added).append(doc.source)
        bar.close()  # type: ignore[attr-defined]
        if prune:
            for key, info in known.items():
                if key not in seen and not _exists(key):
                    store.delete(store.ids_of(key))
                    report.removed.append(info.source)
        report.chunks = store.count()
    return report
