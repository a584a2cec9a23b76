"""The vector store: Chroma (embedded or a server) through LlamaIndex's ChromaVectorStore."""

from __future__ import annotations

import contextlib
import errno
import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import StoreError
from rag.index.chroma_client import forget_embedded, get_all, open_client, records_of
from rag.index.server_stamp import ServerCheck, stamped
from rag.index.snapshot import Snapshot, snapshot_of
from rag.index.store_faults import store_failure, unwritable, write_failure
from rag.index.store_lock import NoLock, RunLock, WriteLock
from rag.schema import Chunk

log = logging.getLogger("rag")
__all__ = ["ChromaStore", "DocumentInfo", "WriteLock", "get_all"]


@dataclass
class DocumentInfo:
    """A document held by the store."""

    key: str
    source: str
    sha256: str
    chunks: int
    title: str = ""  # "" for documents indexed before titles were stored


SERVER_CONNECT_TIMEOUT = 5.0  # seconds to reach a Chroma server before giving up
SERVER_REQUEST_TIMEOUT = 300.0  # seconds for one request (a large batch of vectors) to be answered


def _client(home: Path, url: str | None) -> Any:
    """A Chroma client on the embedded store in `home`, or on the server at `url`."""
    return open_client(home, url, SERVER_CONNECT_TIMEOUT, SERVER_REQUEST_TIMEOUT)


class ChromaStore:
    """Chunks with their vectors in one Chroma collection."""

    def __init__(self, home: Path, collection: str, model_id: str, url: str | None = None) -> None:
        self.home = home
        self.url = url
        self.name = f"rag-{collection}"
        self.model_id = model_id
        self.folder = home / "chroma"  # where an embedded store keeps its files
        self._label = collection
        self._opened: Any = None  # the Chroma collection, once opened
        self._client: Any = None  # and its client
        self._server = ServerCheck(url, self.name) if url else None  # its stamp (rag.index.server_stamp)
        self.snapshot = snapshot_of(home, self.name, model_id, self._server.source if self._server else None)
        self._reading_copy = self.snapshot is not None and self.snapshot.current()  # reads come from it
        if not self._reading_copy:
            self._open()
            self._refresh_copy(locked=False)

    @property
    def _collection(self) -> Any:
        """The Chroma collection, opened on first use."""
        if self._opened is None:
            self._open()
        return self._opened

    def _open(self) -> None:
        collection, model_id = self._label, self.model_id
        client = self._client = _client(self.home, self.url)
        try:
            self._opened = client.get_or_create_collection(
                self.name,
                embedding_function=None,
                metadata={
                    "hnsw:space": "cosine",
                    "hnsw:search_ef": 200,  # near-exact search: the same passages every run
                    "hnsw:construction_ef": 200,
                    "embedding_model": model_id,
                },
            )
        except Exception as exc:
            raise StoreError(f"The collection {collection!r} cannot be opened: {exc}") from exc
        stored_model = (self._opened.metadata or {}).get("embedding_model")
        if stored_model and stored_model != model_id:
            raise StoreError(
                f"The knowledge base {collection!r} was built with the embedding model "
                f"{stored_model!r}, not {model_id!r} (the one configured now). Re-embed it with the "
                "new model (`rag ingest --reembed`, or Assistant(..., reembed=True)), go back to the "
                "old model, or use another --collection."
            )

    def _copy(self) -> Snapshot | None:
        """The read copy, when this read is to come from it. A server's (not kept in step by writers
        elsewhere) is checked before each read: one GET, ~1 ms, less than the read it saves."""
        if self._reading_copy and self._server and self.snapshot and not self.snapshot.current():
            self._reading_copy = False
        return self.snapshot if self._reading_copy else None

    def _refresh_copy(self, locked: bool) -> None:
        """Copy the collection into the read copy when that is not current (best effort): an
        embedded store's under the write lock (taken here unless `locked`) when no other process
        writes; a server's when our last write finished (a write meanwhile moves the stamp away)."""
        if self.snapshot is None or self.snapshot.current():
            return
        try:
            if self._server is not None:
                if source := self._server.source():  # asked first, before reading the records
                    self.snapshot.replace_all(records_of(self._collection), source)
                return
            with contextlib.nullcontext() if locked else WriteLock(self._lock_path):
                self.snapshot.replace_all(records_of(self._collection))
        except Exception as exc:  # busy, unwritable, or Chroma cannot give its vectors: reads stay on Chroma
            log.debug("The read copy of %s is not refreshed: %s", self.name, exc)

    def _before_write(self) -> bool:
        """Open Chroma and mark an embedded store's read copy stale before a write; whether it was
        current (then the write is applied to it too). A server's is outdated by the write's stamp."""
        self._collection  # noqa: B018 (opens Chroma)
        self._reading_copy = False  # this process reads what it wrote from Chroma from now on
        if self.snapshot is None or self._server is not None:
            return False
        try:
            was_current = self.snapshot.current()
            self.snapshot.mark_stale()
        except sqlite3.Error as exc:
            raise write_failure(self.home, exc) from exc
        return was_current

    def _after_write(self, apply: Callable[[Snapshot], None]) -> None:
        if self.snapshot is not None and self._server is None:
            try:
                apply(self.snapshot)
            except sqlite3.Error as exc:  # the copy stays stale: it is made again later
                log.debug("The read copy of %s is stale: %s", self.name, exc)

    def lock(self) -> RunLock | NoLock:
        """A writer's run on an embedded store (rag.index.store_lock); none with a server.

        An embedded store is files that only one process may write at a time: the run holds the
        writer's claim throughout, and the store lock only around each write (`writing()`), after
        which the read copy is brought up to date. A Chroma server serialises the writes of all its
        clients itself, and its writers may be on other machines, which a lock file on this host
        could not see anyway: server stores take no lock. Writers of different documents never
        touch the same chunk ids; writers of the same document write the same ids (upserts), so the
        last one wins and nothing is duplicated.
        """
        if self.url:
            return NoLock()
        return RunLock(self._lock_path, written=lambda: self._refresh_copy(locked=True))

    @property
    def _lock_path(self) -> Path:
        return self.home / f"{self.name}.lock"

    def check_writable(self) -> None:
        """Raise a StoreError before any work when an embedded store's files cannot be written."""
        if not self.url and unwritable(self.folder) is not None:
            raise write_failure(self.folder, PermissionError(errno.EACCES, "not writable"))

    @contextlib.contextmanager
    def _guard(self, action: str, write: bool = False) -> Iterator[None]:
        """Chroma's failures as StoreErrors that say what went wrong and what to do."""
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:
            raise store_failure(self.url, self.folder, action, exc, write) from exc

    def _write(self, action: str, call: Callable[[Any], object]) -> None:
        """`call` on the collection, as a write; when it fails on a folder that is writable, once
        more on new connections (Chroma keeps the ones it opened while the folder was read-only, and
        they fail every write, as "readonly database" or as a failed compaction)."""
        try:  # a write to a server collection moves its stamp (rag.index.server_stamp)
            with self._guard(action, write=True), self._stamped():
                call(self._collection)
        except StoreError as error:
            if self.url or unwritable(self.folder) is not None:
                raise
            log.debug("Reopening %s on new connections after: %s", self.name, error.__cause__)
            forget_embedded(self.home)
            self._opened = None
            with self._guard(action, write=True):
                call(self._collection)

    def _stamped(self) -> contextlib.AbstractContextManager[None]:
        """The collection is opened first, which makes the client that `stamped` needs."""
        return stamped(self._collection, self._client) if self.url else contextlib.nullcontext()

    def count(self) -> int:
        """Number of chunks."""
        with self._guard("count the chunks"):
            copy = self._copy()
            return copy.count() if copy else int(self._collection.count())

    def _all(self, include: list[str]) -> dict[str, list[Any]]:
        """Every record (ids, and the documents and metadatas asked for), from the read copy when
        reads come from it, else from Chroma, page by page."""
        copy = self._copy()
        if copy is None:
            return get_all(self._collection, include)
        if "documents" in include:
            ids, texts, metas = zip(*copy.records()) if copy.count() else ((), (), ())
            return {"ids": list(ids), "documents": list(texts), "metadatas": list(metas)}
        if "metadatas" in include:
            pairs = copy.metadatas()
            return {"ids": [i for i, _ in pairs], "metadatas": [m for _, m in pairs]}
        return {"ids": copy.ids()}

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray, doc_key: str, total: int) -> None:
        """Write chunks of one document (which has `total` chunks in all) with their vectors.

        Upserts, in one request: chunks already stored get the document's new hash, chunk count
        and line numbers (Chroma's `add` would silently keep the old ones).
        """
        from llama_index.core.schema import TextNode
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

        metas = [
            {
                "source": c.source,
                "doc_key": doc_key,
                "doc_sha256": c.doc_sha256,
                "doc_chunks": total,
                "start_line": c.start_line,
                "end_line": c.end_line,
                "line_numbers": ",".join(map(str, c.line_numbers)),
                "title": c.title,
            }
            for c in chunks
        ]
        nodes = [
            TextNode(
                id_=c.id,
                text=c.text,
                embedding=[float(x) for x in vec],
                metadata=meta,
                excluded_embed_metadata_keys=["doc_key", "doc_sha256", "doc_chunks", "line_numbers", "title"],
            )
            for c, vec, meta in zip(chunks, vectors, metas)
        ]
        if nodes:
            was_current = self._before_write()
            # LlamaIndex's node format (what ChromaVectorStore.add writes), but upserted
            self._write(
                "store chunks",
                lambda collection: collection.upsert(
                    ids=[n.node_id for n in nodes],
                    embeddings=[n.get_embedding() for n in nodes],
                    metadatas=[node_to_metadata_dict(n, remove_text=True, flat_metadata=True) for n in nodes],
                    documents=[n.text for n in nodes],
                ),
            )
            records = [(c.id, c.text, meta, vec) for c, meta, vec in zip(chunks, metas, vectors)]
            self._after_write(lambda copy: copy.upsert(records, was_current))

    def set_title(self, doc_key: str, title: str) -> None:
        """Give the chunks of one document its title (for documents indexed before titles existed)."""
        ids = self.ids_of(doc_key)
        if ids:
            was_current = self._before_write()
            metas = [{"title": title} for _ in ids]
            self._write("store a title", lambda collection: collection.update(ids=ids, metadatas=metas))
            self._after_write(lambda copy: copy.set_title(doc_key, title, was_current))

    def delete(self, ids: Sequence[str]) -> None:
        """Remove chunks by id."""
        if ids:
            was_current = self._before_write()
            self._write("remove chunks", lambda collection: collection.delete(ids=list(ids)))
            self._after_write(lambda copy: copy.delete(ids, was_current))

    def chunks(self) -> list[tuple[Chunk, str]]:
        """Every stored chunk with its document key."""
        with self._guard("read the chunks"):
            got = self._all(["documents", "metadatas"])
        return [
            (_chunk(i, text or "", meta or {}), str((meta or {}).get("doc_key", "")))
            for i, text, meta in zip(got["ids"], got["documents"], got["metadatas"])
        ]

    def ids(self) -> list[str]:
        """Ids of every stored chunk (no texts: cheap even for large stores)."""
        with self._guard("read the chunk ids"):
            return [str(i) for i in self._all([])["ids"]]

    def sources(self) -> dict[str, str]:
        """The document (source) of every stored chunk, by chunk id (metadata only: no texts)."""
        with self._guard("read the chunks' documents"):
            got = self._all(["metadatas"])
        return {str(i): str((m or {}).get("source", "")) for i, m in zip(got["ids"], got["metadatas"])}

    def openings(self) -> dict[str, str]:
        """The id of every document's first chunk (the one starting on its lowest line), by source
        (metadata only: no texts)."""
        with self._guard("read the chunks' documents"):
            got = self._all(["metadatas"])
        first: dict[str, tuple[int, str]] = {}
        for i, meta in zip(got["ids"], got["metadatas"]):
            source, line = str((meta or {}).get("source", "")), int((meta or {}).get("start_line", 0))
            if source not in first or line < first[source][0]:
                first[source] = (line, str(i))
        return {source: cid for source, (_, cid) in first.items()}

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        """The stored chunks among `ids`, in the order given."""
        found: dict[str, Chunk] = {}
        for start in range(0, len(ids), 5000):
            part = list(ids[start : start + 5000])
            with self._guard("read chunks"):
                copy = self._copy()
                got = (
                    dict(zip(("ids", "documents", "metadatas"), map(list, zip(*copy.get(part)))))
                    if copy
                    else self._collection.get(ids=part, include=["documents", "metadatas"])
                )
            rows = zip(got.get("ids") or [], got.get("documents") or [], got.get("metadatas") or [])
            for i, text, meta in rows:
                found[i] = _chunk(i, text or "", meta or {})
        return [found[i] for i in ids if i in found]

    def documents(self) -> dict[str, DocumentInfo]:
        """The documents in the store by key, with their chunk counts.

        A document whose chunks disagree on its hash or fall short of its chunk count was cut off
        mid-write; its hash is reported empty so the next ingestion redoes it.
        """
        with self._guard("list the documents"):
            got = self._all(["metadatas"])
        docs: dict[str, DocumentInfo] = {}
        expected: dict[str, int] = {}
        for meta in got["metadatas"]:
            key = str(meta.get("doc_key", ""))
            sha = str(meta.get("doc_sha256", ""))
            title = str(meta.get("title", "") or "")
            info = docs.setdefault(key, DocumentInfo(key, str(meta.get("source", "")), sha, 0, title))
            info.chunks += 1
            if info.sha256 != sha:
                info.sha256 = ""
            expected[key] = int(meta.get("doc_chunks", 0) or 0)
        for key, info in docs.items():
            if info.chunks != expected[key]:
                info.sha256 = ""
        return docs

    def ids_of(self, doc_key: str) -> list[str]:
        """Ids of the chunks of one document."""
        with self._guard("read a document's chunks"):
            copy = self._copy()
            if copy:
                return copy.ids_of(doc_key)
            return list(self._collection.get(where={"doc_key": doc_key}, include=[])["ids"])

    def query(self, vector: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        """The k nearest chunks with their cosine similarity (read straight from the collection)."""
        if k <= 0:  # no count() first: it costs ~10 ms a query at 100k chunks; Chroma returns
            return []  # fewer than k results (none when empty) by itself
        copy = self._copy()
        if copy:
            with self._guard("search the chunks"):
                nearest = copy.nearest(vector, k)
            found = {c.id: c for c in self.get([i for i, _ in nearest])}
            return [(found[i], similarity) for i, similarity in nearest if i in found]
        with self._guard("search the chunks"):
            got = self._collection.query(
                query_embeddings=[[float(x) for x in vector]],
                n_results=k,
                include=["documents", "metadatas", "distances"],
            )
        return [
            (_chunk(i, text or "", meta or {}), 1.0 - float(distance))
            for i, text, meta, distance in zip(
                got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0]
            )
        ]


def _chunk(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    numbers = tuple(int(n) for n in str(meta.get("line_numbers", "")).split(",") if n)
    return Chunk(
        id=chunk_id,
        source=str(meta.get("source", "")),
        text=text,
        start_line=int(meta.get("start_line", 0)),
        end_line=int(meta.get("end_line", 0)),
        doc_sha256=str(meta.get("doc_sha256", "")),
        line_numbers=numbers,
        # chunks indexed before titles were stored show their file name
        title=str(meta.get("title", "") or meta.get("source", "")),
    )
