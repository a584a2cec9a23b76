"""Opening Chroma (the embedded store in the data folder, or a server) and reading it page by page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import StoreError
from rag.index.snapshot import Record
from rag.index.store_faults import unwritable


def _server_client(url: str, settings: Any, connect_timeout: float, request_timeout: float) -> Any:
    """An HttpClient on a Chroma server, checked first with a bounded heartbeat.

    chromadb's own HTTP session has no timeout (a server that accepts but never answers would hang
    the caller), so the heartbeat goes through urllib with a timeout, and the session gets one too.
    """
    import urllib.request
    from urllib.parse import urlparse

    import chromadb

    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise StoreError(f"RAG_CHROMA_URL {url!r} is not a URL like http://127.0.0.1:8000")
    try:  # no port: chromadb's own default, which the heartbeat must check too (not http's 80)
        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
    except ValueError:
        raise StoreError(f"RAG_CHROMA_URL {url!r} has a port that is not a number from 0 to 65535") from None
    base = f"{parsed.scheme}://{f'[{parsed.hostname}]' if ':' in parsed.hostname else parsed.hostname}:{port}"
    try:
        with urllib.request.urlopen(f"{base}/api/v2/heartbeat", timeout=connect_timeout) as reply:
            reply.read()
    except OSError as exc:  # URLError is one
        reason = getattr(exc, "reason", None) or exc
        raise StoreError(
            f"The Chroma server at {url} cannot be reached ({reason}). Start it with "
            "`chroma run --path DIR --port PORT`, or unset RAG_CHROMA_URL to use the local store."
        ) from None
    try:
        client = chromadb.HttpClient(
            host=parsed.hostname, port=port, ssl=parsed.scheme == "https", settings=settings
        )
        session = getattr(getattr(client, "_server", None), "_session", None)
        if session is not None:
            import httpx

            session.timeout = httpx.Timeout(request_timeout, connect=connect_timeout)
        client.heartbeat()
    except Exception as exc:
        raise StoreError(f"The Chroma server at {url} cannot be used: {exc}") from exc
    return client


def forget_embedded(home: Path) -> None:
    """Make the next client on the embedded store in `home` open new database connections.

    Chroma shares one set of connections among the clients of a folder in a process. A connection
    opened while the folder was read-only stays read-only after the folder is writable again, so a
    write that failed that way is retried on new connections. Clients already open keep theirs.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    folder = str(home / "chroma")
    for identifier in list(SharedSystemClient._identifier_to_system):
        if identifier == folder:
            SharedSystemClient._identifier_to_system.pop(identifier, None)
            SharedSystemClient._identifier_to_refcount.pop(identifier, None)


def open_client(home: Path, url: str | None, connect_timeout: float, request_timeout: float) -> Any:
    """A Chroma client on the embedded store in `home`, or on the server at `url` (given up on after
    `connect_timeout` seconds; each request after `request_timeout`)."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    if url:
        return _server_client(url, settings, connect_timeout, request_timeout)
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


def records_of(collection: Any, page: int = 5000) -> Iterator[Record]:
    """Every record of a collection with its text, metadata and vector, `page` at a time."""
    offset = 0
    while True:
        got = collection.get(include=["documents", "metadatas", "embeddings"], limit=page, offset=offset)
        ids, vectors = got["ids"], got["embeddings"]
        for i, chunk_id in enumerate(ids):
            yield chunk_id, got["documents"][i] or "", got["metadatas"][i] or {}, np.asarray(vectors[i])
        offset += len(ids)
        if len(ids) < page:
            return
