"""The vector store: Chroma (embedded or a server) through LlamaIndex's ChromaVectorStore."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import StoreBusyError, StoreError
from rag.schema import Chunk
from rag.store_faults import unwritable, write_failure


@dataclass
class DocumentInfo:
    """A document held by the store."""

    key: str
    source: str
    sha256: str
    chunks: int


SERVER_CONNECT_TIMEOUT = 5.0  # seconds to reach a Chroma server before giving up
SERVER_REQUEST_TIMEOUT = 300.0  # seconds for one request (a large batch of vectors) to be answered


def _server_client(url: str, settings: Any) -> Any:
    """An HttpClient on a Chroma server, checked first with a bounded heartbeat.

    chromadb's own HTTP session has no timeout (a server that accepts but never answers would hang
    the caller), so the heartbeat goes through urllib with a timeout, and the session gets one too.
    """
    import urllib.error
    import urllib.request
    from urllib.parse import urlparse

    import chromadb

    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise StoreError(f"RAG_CHROMA_URL {url!r} is not a URL like http://127.0.0.1:8000")
    base = f"{parsed.scheme}://{parsed.netloc}"
    try:
        with urllib.request.urlopen(f"{base}/api/v2/heartbeat", timeout=SERVER_CONNECT_TIMEOUT) as reply:
            reply.read()
    except (OSError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise StoreError(
            f"The Chroma server at {url} cannot be reached ({reason}). Start it with "
            "`chroma run --path DIR --port PORT`, or unset RAG_CHROMA_URL to use the local store."
        ) from None
    try:
        client = chromadb.HttpClient(
            host=parsed.hostname,
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=settings,
        )
        session = getattr(getattr(client, "_server", None), "_session", None)
        if session is not None:
            import httpx

            session.timeout = httpx.Timeout(SERVER_REQUEST_TIMEOUT, connect=SERVER_CONNECT_TIMEOUT)
        client.heartbeat()
    except Exception as exc:
        raise StoreError(f"The Chroma server at {url} cannot be used: {exc}") from exc
    return client


def _client(home: Path, url: str | None) -> Any:
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    if url:
        return _server_client(url, settings)
    path = home / "chroma"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except Exception as exc:
        if unwritable(path) is not None:  # Chroma writes as it opens: a read-only store cannot open
            raise StoreError(
                f"The knowledge base folder {path} is not writable, and Chroma cannot open it without "
                "writing. Give this user write permission to it, or set RAG_HOME to a writable folder."
            ) from exc
        raise StoreError(f"The knowledge base at {path} cannot be opened: {exc}") from exc


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


class ChromaStore:
    """Chunks with their vectors in one Chroma collection."""

    def __init__(self, home: Path, collection: str, model_id: str, url: str | None = None) -> None:
        self.home = home
        self.url = url
        self.name = f"rag-{collection}"
        self.model_id = model_id
        self.folder = home / "chroma"  # where an embedded store keeps its files
        self._client = _client(home, url)
        try:
            self._collection = self._client.get_or_create_collection(
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
        stored_model = (self._collection.metadata or {}).get("embedding_model")
        if stored_model and stored_model != model_id:
            raise StoreError(
                f"The knowledge base {collection!r} was built with the embedding model "
                f"{stored_model!r}, not {model_id!r} (the one configured now). Re-embed it with the "
                "new model (`rag ingest --reembed`, or Assistant(..., reembed=True)), go back to the "
                "old model, or use another --collection."
            )

    def lock(self) -> WriteLock | contextlib.nullcontext[None]:
        """The write lock of an embedded store; none with a server.

        An embedded store is files that only one process may write at a time. A Chroma server
        serialises the writes of all its clients itself, and its writers may be on other machines,
        which a lock file on this host could not see anyway: server stores take no lock. Writers of
        different documents never touch the same chunk ids; writers of the same document write the
        same ids (upserts), so the last one wins and nothing is duplicated.
        """
        if self.url:
            return contextlib.nullcontext()
        return WriteLock(self.home / f"{self.name}.lock")

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
            raise self._failure(action, exc, write) from exc

    def _failure(self, action: str, exc: Exception, write: bool) -> StoreError:
        if self.url:
            import httpx

            if isinstance(exc, (httpx.TransportError, OSError)):
                reason = str(exc) or type(exc).__name__
                return StoreError(
                    f"The Chroma server at {self.url} cannot be reached to {action} ({reason})."
                    " Start it again (`chroma run --path DIR --port PORT`) and retry: this session "
                    "reconnects by itself."
                )
            return StoreError(f"The Chroma server at {self.url} failed to {action}: {exc}")
        if write:
            return write_failure(self.folder, exc)
        return StoreError(
            f"The knowledge base in {self.folder} could not {action} ({exc}). If it was damaged, "
            "move the folder away and ingest the documents again."
        )

    def count(self) -> int:
        """Number of chunks."""
        with self._guard("count the chunks"):
            return int(self._collection.count())

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray, doc_key: str, total: int) -> None:
        """Write chunks of one document (which has `total` chunks in all) with their vectors.

        Upserts, in one request: chunks already stored get the document's new hash, chunk count
        and line numbers (Chroma's `add` would silently keep the old ones).
        """
        from llama_index.core.schema import TextNode
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

        nodes = [
            TextNode(
                id_=c.id,
                text=c.text,
                embedding=[float(x) for x in vec],
                metadata={
                    "source": c.source,
                    "doc_key": doc_key,
                    "doc_sha256": c.doc_sha256,
                    "doc_chunks": total,
                    "start_line": c.start_line,
                    "end_line": c.end_line,
                    "line_numbers": ",".join(map(str, c.line_numbers)),
                },
                excluded_embed_metadata_keys=["doc_key", "doc_sha256", "doc_chunks", "line_numbers"],
            )
            for c, vec in zip(chunks, vectors)
        ]
        if nodes:
            # LlamaIndex's node format (what ChromaVectorStore.add writes), but upserted
            with self._guard("store chunks", write=True):
                self._collection.upsert(
                    ids=[n.node_id for n in nodes],
                    embeddings=[n.get_embedding() for n in nodes],
                    metadatas=[node_to_metadata_dict(n, remove_text=True, flat_metadata=True) for n in nodes],
                    documents=[n.text for n in nodes],
                )

    def delete(self, ids: Sequence[str]) -> None:
        """Remove chunks by id."""
        if ids:
            with self._guard("remove chunks", write=True):
                self._collection.delete(ids=list(ids))

    def chunks(self) -> list[tuple[Chunk, str]]:
        """Every stored chunk with its document key."""
        with self._guard("read the chunks"):
            got = get_all(self._collection, ["documents", "metadatas"])
        return [
            (_chunk(i, text or "", meta or {}), str((meta or {}).get("doc_key", "")))
            for i, text, meta in zip(got["ids"], got["documents"], got["metadatas"])
        ]

    def ids(self) -> list[str]:
        """Ids of every stored chunk (no texts: cheap even for large stores)."""
        with self._guard("read the chunk ids"):
            return [str(i) for i in get_all(self._collection, [])["ids"]]

    def sources(self) -> dict[str, str]:
        """The document (source) of every stored chunk, by chunk id (metadata only: no texts)."""
        with self._guard("read the chunks' documents"):
            got = get_all(self._collection, ["metadatas"])
        return {str(i): str((m or {}).get("source", "")) for i, m in zip(got["ids"], got["metadatas"])}

    def openings(self) -> dict[str, str]:
        """The id of every document's first chunk (the one starting on its lowest line), by source
        (metadata only: no texts)."""
        with self._guard("read the chunks' documents"):
            got = get_all(self._collection, ["metadatas"])
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
                got = self._collection.get(ids=part, include=["documents", "metadatas"])
            for i, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or []):
                found[i] = _chunk(i, text or "", meta or {})
        return [found[i] for i in ids if i in found]

    def documents(self) -> dict[str, DocumentInfo]:
        """The documents in the store by key, with their chunk counts.

        A document whose chunks disagree on its hash or fall short of its chunk count was cut off
        mid-write; its hash is reported empty so the next ingestion redoes it.
        """
        with self._guard("list the documents"):
            got = get_all(self._collection, ["metadatas"])
        docs: dict[str, DocumentInfo] = {}
        expected: dict[str, int] = {}
        for meta in got["metadatas"]:
            key = str(meta.get("doc_key", ""))
            sha = str(meta.get("doc_sha256", ""))
            info = docs.setdefault(key, DocumentInfo(key, str(meta.get("source", "")), sha, 0))
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
            return list(self._collection.get(where={"doc_key": doc_key}, include=[])["ids"])

    def query(self, vector: np.ndarray, k: int) -> list[tuple[Chunk, float]]:
        """The k nearest chunks with their cosine similarity (read straight from the collection)."""
        if k <= 0:  # no count() first: it costs ~10 ms a query at 100k chunks; Chroma returns
            return []  # fewer than k results (none when empty) by itself
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


def get_all(collection: Any, include: list[str], page: int = 5000) -> dict[str, list[Any]]:
    """Every record of a collection, `page` at a time: one unpaged `get` fails beyond ~32k
    records ("too many SQL variables", embedded Chroma 1.5)."""
    out: dict[str, list[Any]] = {"ids": [], **{name: [] for name in include}}
    offset = 0
    while True:
        got = collection.get(include=include, limit=page, offset=offset)
        for name in out:
            out[name].extend(got[name] or [])
        offset += len(got["ids"])
        if len(got["ids"]) < page:
            return out


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
    )
