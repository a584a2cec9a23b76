"""A read copy of an embedded Chroma store, so that asking a question does not start Chroma.

Importing chromadb and opening its client takes one to two seconds, most of a `rag ask` in a new
process. The chunks, their metadata and their vectors are also kept in one SQLite file beside the
store; a process that only reads (asks, lists documents, finds nothing new to ingest) reads them
there and searches the vectors itself (exact cosine similarity, as Chroma's near-exact search).

The copy is kept in step by the store's own writes: before Chroma is written the copy is marked
stale, and it is marked current again in the same transaction that applies the write to it. A
process killed in between leaves it stale, and a stale copy is never read: the store then opens
Chroma and copies it again (when no other process is writing). The copy also records which Chroma
files and which embedding model it was made from, so a store moved away, replaced or re-embedded
is never answered from an old copy. A copy of a collection on a Chroma server records instead the
generation stamp our writers leave on it, and is read while the server shows it (server_stamp.py).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "1"
KEYS = ("source", "doc_key", "doc_sha256", "doc_chunks", "start_line", "end_line", "line_numbers", "title")
Record = tuple[str, str, dict[str, Any], np.ndarray]  # id, text, metadata, vector


def _identity(folder: Path) -> str:
    """Which Chroma files these are (device and inode of its database); "" when there are none."""
    try:
        info = (folder / "chroma.sqlite3").stat()
    except OSError:
        return ""
    return f"{info.st_dev}:{info.st_ino}"


class Snapshot:
    """The SQLite copy of one collection (see the module docstring), read only while `source()` (which
    store, or which state of a server's collection; "" if unknown) says what it said when made."""

    def __init__(self, path: Path, model_id: str, source: Callable[[], str]) -> None:
        self.path = path
        self.model_id = model_id
        self.source = source
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._matrix: tuple[str, list[str], np.ndarray] | None = None  # generation, ids, unit rows

    # -- state --------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)  # a server store makes no folder itself
            db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS chunks (id TEXT PRIMARY KEY, doc_key TEXT, text TEXT, "
                "meta TEXT, vector BLOB)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc_key)")
            db.commit()
            self._db = db
        return self._db

    def _meta(self) -> dict[str, str]:
        with self._lock:
            return dict(self._connect().execute("SELECT key, value FROM meta").fetchall())

    def current(self) -> bool:
        """Is the copy there, complete, and made from these Chroma files with this model?"""
        if not self.path.exists():
            return False
        try:
            meta = self._meta()
        except sqlite3.Error:
            return False
        if meta.get("format") != FORMAT or meta.get("stale") != "0" or meta.get("model") != self.model_id:
            return False
        source = self.source()  # last: for a server it is a request
        return bool(source) and meta.get("chroma") == source

    def mark_stale(self) -> None:
        """Before Chroma is written: the copy is not read until the write is applied to it too."""
        with self._lock:
            db = self._connect()
            db.execute("INSERT OR REPLACE INTO meta VALUES ('stale', '1')")
            db.commit()

    def _mark_current(self, db: sqlite3.Connection, source: str | None = None) -> None:
        generation = int(dict(db.execute("SELECT key, value FROM meta").fetchall()).get("generation", 0))
        rows = {
            "format": FORMAT,
            "stale": "0",
            "model": self.model_id,
            "chroma": self.source() if source is None else source,
            "generation": str(generation + 1),
        }
        db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows.items())

    # -- writes -------------------------------------------------------------------------------------

    def replace_all(self, records: Iterable[Record], source: str | None = None) -> None:
        """Make the copy anew from every record, as of `source` (asked before reading them) or now."""
        with self._lock:
            db = self._connect()
            with db:
                db.execute("DELETE FROM chunks")
                db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?)", map(_row, records))
                self._mark_current(db, source)

    def upsert(self, records: Sequence[Record], was_current: bool) -> None:
        """Apply an upsert made to Chroma; the copy is current again only if it was before."""
        with self._lock:
            db = self._connect()
            with db:
                db.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?)", map(_row, records))
                if was_current:
                    self._mark_current(db)

    def delete(self, ids: Sequence[str], was_current: bool) -> None:
        with self._lock:
            db = self._connect()
            with db:
                db.executemany("DELETE FROM chunks WHERE id = ?", ((i,) for i in ids))
                if was_current:
                    self._mark_current(db)

    def set_title(self, doc_key: str, title: str, was_current: bool) -> None:
        with self._lock:
            db = self._connect()
            with db:
                rows = db.execute("SELECT id, meta FROM chunks WHERE doc_key = ?", (doc_key,)).fetchall()
                update = [(_with_title(meta, title), i) for i, meta in rows]
                db.executemany("UPDATE chunks SET meta = ? WHERE id = ?", update)
                if was_current:
                    self._mark_current(db)

    # -- reads --------------------------------------------------------------------------------------

    def _select(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connect().execute(sql, args).fetchall()

    def count(self) -> int:
        return int(self._select("SELECT COUNT(*) FROM chunks")[0][0])

    def ids(self) -> list[str]:
        return [i for (i,) in self._select("SELECT id FROM chunks")]

    def metadatas(self) -> list[tuple[str, dict[str, Any]]]:
        return [(i, json.loads(m)) for i, m in self._select("SELECT id, meta FROM chunks")]

    def records(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [(i, t, json.loads(m)) for i, t, m in self._select("SELECT id, text, meta FROM chunks")]

    def get(self, ids: Sequence[str]) -> list[tuple[str, str, dict[str, Any]]]:
        out: list[tuple[str, str, dict[str, Any]]] = []
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            marks = ",".join("?" * len(part))
            rows = self._select(f"SELECT id, text, meta FROM chunks WHERE id IN ({marks})", part)
            out.extend((i, t, json.loads(m)) for i, t, m in rows)
        return out

    def ids_of(self, doc_key: str) -> list[str]:
        return [i for (i,) in self._select("SELECT id FROM chunks WHERE doc_key = ?", (doc_key,))]

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The k chunks of highest cosine similarity to the vector, with it, best first."""
        generation = self._meta().get("generation", "")
        if self._matrix is None or self._matrix[0] != generation:  # another process wrote since
            rows = self._select("SELECT id, vector FROM chunks ORDER BY id")
            ids = [i for i, _ in rows]
            blob = b"".join(v for _, v in rows)
            matrix = np.frombuffer(blob, np.float32).reshape(len(rows), -1) if rows else np.zeros((0, 0))
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            unit = (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)
            self._matrix = (generation, ids, unit)
        _, ids, matrix = self._matrix
        if not ids:
            return []
        query = np.asarray(vector, dtype=np.float32)
        query = query / (np.linalg.norm(query) or 1.0)
        similarity = matrix @ query
        k = min(k, len(ids))
        top = np.argpartition(-similarity, k - 1)[:k]
        top = top[np.argsort(-similarity[top], kind="stable")]
        return [(ids[i], float(similarity[i])) for i in top]


def _with_title(meta: str, title: str) -> str:
    return json.dumps({**json.loads(meta), "title": title}, ensure_ascii=False)


def _row(record: Record) -> tuple[str, str, str, str, bytes]:
    chunk_id, text, meta, vector = record
    kept = {k: meta[k] for k in KEYS if k in meta}
    blob = np.asarray(vector, dtype=np.float32).tobytes()
    return chunk_id, str(kept.get("doc_key", "")), text, json.dumps(kept, ensure_ascii=False), blob


def snapshot_of(home: Path, name: str, model_id: str, server: Callable[[], str] | None) -> Snapshot | None:
    """The copy of collection `name` of the embedded store in `home`, or of a server's whose state
    `server()` says (a file of its own); None with RAG_NO_SNAPSHOT (every read then goes to Chroma)."""
    if os.environ.get("RAG_NO_SNAPSHOT"):
        return None
    if server is not None:
        return Snapshot(home / f"{name}.server.snapshot.sqlite", model_id, server)
    return Snapshot(home / f"{name}.snapshot.sqlite", model_id, partial(_identity, home / "chroma"))
