"""The generation stamp of a collection on a Chroma server: set by our writers, it lets a reader
check its read copy with one small GET instead of importing chromadb (one to two seconds).

A local server shows no sign of writes in a collection's description (`version`, `log_position`
stay 0), so our writes leave one: `rag_generation` in its metadata is "writing:<token>" during each,
then a new token. No stamp (other programs writing a collection must remove it), "writing:" (a write
going on or cut off), an error: the copy is not read, and the store opens Chroma as before. Chroma
has no compare-and-set: a writer ending while another's "writing:" shows leaves it to that one. Left
open: two writers at once, one killed between its write and last stamp while a reader copied.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

KEY, WRITING = "rag_generation", "writing:"
TIMEOUT = 1.0  # seconds for the description to arrive; then the store opens Chroma instead
log = logging.getLogger("rag")


def auth_headers() -> dict[str, str]:
    """The credentials chromadb's HttpClient sends with its token or basic auth settings (environment
    variables, any case); none otherwise: a server that wants some refuses, and Chroma is opened."""
    env = {k.lower(): v for k, v in os.environ.items()}
    provider, secret = env.get("chroma_client_auth_provider"), env.get("chroma_client_auth_credentials", "")
    header = env.get("chroma_auth_token_transport_header") or "Authorization"
    if provider == "chromadb.auth.basic_authn.BasicAuthClientProvider":
        return {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}
    if provider == "chromadb.auth.token_authn.TokenAuthClientProvider":
        return {header: f"Bearer {secret}" if header == "Authorization" else secret}
    return {}


class ServerCheck:
    """The description of one collection on a Chroma server, asked for at each `source()` over a
    kept-alive connection, with a timeout, never following a redirect."""

    def __init__(self, url: str, name: str, timeout: float = TIMEOUT) -> None:
        parts = urlsplit(url)
        self.https, self.host, self.timeout = parts.scheme == "https", parts.hostname or "", timeout
        try:
            self.port = parts.port or (443 if self.https else 8000)  # where chromadb.HttpClient goes
        except ValueError:  # not a port: the store says what is wrong when it opens Chroma
            self.host, self.port = "", 0
        self.base = f"{parts.scheme}://{self.host}:{self.port}"
        self.path = f"/api/v2/tenants/default_tenant/databases/default_database/collections/{quote(name)}"
        self.headers = {"Accept": "application/json", **auth_headers()}
        self._connection: Any = None
        self._lock = threading.Lock()

    def source(self) -> str:
        """The server, tenant, database, collection id and stamp; "" unless the last write was ours
        and it finished."""
        with self._lock:
            described = self._describe(retry=self._connection is not None) if self.host else {}
        meta, key = described.get("metadata"), described.get("id")
        stamp = meta.get(KEY) if isinstance(meta, dict) else None
        if isinstance(stamp, str) and stamp and not stamp.startswith(WRITING) and isinstance(key, str):
            return f"{self.base}|{described.get('tenant')}|{described.get('database')}|{key}|{stamp}"
        return ""

    def _describe(self, retry: bool) -> dict[str, Any]:
        import http.client  # ~0.02 s to import; httpx takes ~0.2 s

        try:
            if self._connection is None:
                kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
                self._connection = kind(self.host, self.port, timeout=self.timeout)
            self._connection.request("GET", self.path, headers=self.headers)
            reply = self._connection.getresponse()
            body = reply.read()
            described = json.loads(body) if reply.status == 200 else {}  # a redirect is not followed
            return described if isinstance(described, dict) else {}
        except (OSError, http.client.HTTPException, ValueError):  # refused, timed out, closed, garbled
            self._connection = None
            return self._describe(retry=False) if retry else {}  # the server closed a kept connection


def _restamp(collection: Any, client: Any, stamp: str, mine: str = "") -> None:
    """Set the stamp, keeping the rest of the metadata (the server replaces it whole); not while a
    writer other than `mine` shows "writing:" (it stamps when it ends). Collection.modify refuses
    "hnsw:space" even unchanged: this is its request without that check (the distance stays)."""
    metadata = dict(client.get_collection(collection.name, embedding_function=None).metadata or {})
    now = str(metadata.get(KEY, ""))
    if not mine or now == mine or not now.startswith(WRITING):
        metadata[KEY] = stamp
        server, tenant, database = collection._client, collection.tenant, collection.database
        server._modify(id=collection.id, new_metadata=metadata, tenant=tenant, database=database)


@contextlib.contextmanager
def stamped(collection: Any, client: Any) -> Iterator[None]:
    """Around one write to a server collection. No first stamp, no write; no last one leaves
    "writing:" (readers then read Chroma), only logged: the caller needs the write's own outcome."""
    mine = WRITING + secrets.token_hex(8)
    _restamp(collection, client, mine)
    try:
        yield
    finally:
        try:  # also after a failed write: it may have landed
            _restamp(collection, client, secrets.token_hex(8), mine)
        except Exception as exc:
            log.debug("The stamp of %s is left at %s: %s", collection.name, mine, exc)
