"""Hybrid retrieval: dense (Chroma) and BM25 over jieba tokens, fused by reciprocal rank fusion."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from rag.embed import Embedder
from rag.errors import InputError
from rag.schema import Chunk, Passage
from rag.store import ChromaStore
from rag.tokens import tokenize

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[str, ...] = ("hybrid", "dense", "bm25")
RRF_K = 60
CANDIDATES = 30


class KeywordIndex:
    """BM25 (bm25s) over the tokens of every chunk, kept beside the store so it is built once."""

    def __init__(self, chunks: Sequence[Chunk], tokens: Sequence[list[str]]) -> None:
        import bm25s

        self.chunks = list(chunks)
        self.tokens = [list(t) for t in tokens]
        self._bm25 = bm25s.BM25()
        self._df: dict[str, int] = {}
        for toks in self.tokens:
            for term in set(toks):
                self._df[term] = self._df.get(term, 0) + 1
        if self.chunks:
            self._bm25.index([t or [""] for t in self.tokens], show_progress=False)

    @classmethod
    def load_or_build(cls, chunks: Sequence[Chunk], cache: Path | None) -> KeywordIndex:
        """Reuse the tokens saved for the same chunk ids, tokenizing only what is new."""
        saved: dict[str, list[str]] = {}
        if cache and cache.exists():
            try:
                saved = json.loads(cache.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                saved = {}
        tokens = [saved.get(c.id) or tokenize(c.text) for c in chunks]
        if cache and (len(saved) != len(chunks) or any(c.id not in saved for c in chunks)):
            data = {c.id: t for c, t in zip(chunks, tokens)}
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
            tmp.replace(cache)
        return cls(chunks, tokens)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a token (unseen tokens get the highest value)."""
        n = max(len(self.chunks), 1)
        df = self._df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def search(self, question: str, k: int) -> list[tuple[int, float]]:
        """Indexes of the k best chunks with their BM25 scores (only those with a positive score)."""
        vocab = self._bm25.vocab_dict if self.chunks else {}
        query = [t for t in tokenize(question) if t in vocab]
        if not query:
            return []
        scores = self._bm25.get_scores(query)
        top = np.argsort(-scores)[:k]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]


class HybridRetriever:
    """Dense, keyword or hybrid (RRF) retrieval over one store."""

    def __init__(self, store: ChromaStore, embedder: Embedder, keywords: KeywordIndex) -> None:
        self.store = store
        self.embedder = embedder
        self.keywords = keywords
        self._by_id = {c.id: i for i, c in enumerate(keywords.chunks)}

    def retrieve(self, question: str, k: int = 5, mode: str = "hybrid") -> list[Passage]:
        """The k best passages for the question."""
        if mode not in MODES:
            raise InputError(f"Unknown retrieval mode {mode!r}; choose one of: {', '.join(MODES)}")
        if k < 1:
            raise InputError(f"k must be at least 1, not {k}")
        fused: dict[str, float] = {}
        dense: dict[str, float] = {}
        keyword: dict[str, float] = {}
        chunks: dict[str, Chunk] = {}
        pool = max(CANDIDATES, k)
        if mode in ("hybrid", "dense"):
            vector = self.embedder.embed_query(question)
            for rank, (chunk, cosine) in enumerate(self.store.query(vector, pool)):
                chunks[chunk.id] = chunk
                dense[chunk.id] = cosine
                fused[chunk.id] = fused.get(chunk.id, 0.0) + 1.0 / (RRF_K + rank + 1)
        if mode in ("hybrid", "bm25"):
            for rank, (index, score) in enumerate(self.keywords.search(question, pool)):
                chunk = self.keywords.chunks[index]
                chunks.setdefault(chunk.id, chunk)
                keyword[chunk.id] = score
                fused[chunk.id] = fused.get(chunk.id, 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(fused, key=lambda cid: -fused[cid])[:k]
        return [
            Passage(
                id=cid,
                source=chunks[cid].source,
                text=chunks[cid].text,
                score=round(fused[cid], 6),
                start_line=chunks[cid].start_line,
                end_line=chunks[cid].end_line,
                line_numbers=chunks[cid].line_numbers,
                dense=round(dense.get(cid, 0.0), 6),
                keyword=round(keyword.get(cid, 0.0), 6),
            )
            for cid in best
        ]
