"""Sentence vectors of chunks, kept in memory: for reranking passages and choosing what to quote."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.index.embed import Embedder
from rag.schema import Chunk, Passage
from rag.text.sentences import Sentence, split_passages


@dataclass
class ChunkSentences:
    """The sentences of one chunk and their unit vectors (one row each)."""

    sentences: list[Sentence]
    vectors: np.ndarray


def as_passage(chunk: Chunk) -> Passage:
    """A chunk seen as an unscored passage."""
    return Passage(
        chunk.id, chunk.source, chunk.text, 0.0, chunk.start_line, chunk.end_line, chunk.line_numbers
    )


class SentenceIndex:
    """Sentence vectors per chunk id, filled from the embedding cache on first use."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._by_chunk: dict[str, ChunkSentences] = {}
        self._lock = threading.Lock()

    def of(self, chunks: Sequence[Chunk | Passage]) -> list[ChunkSentences]:
        """Sentences and vectors of each chunk (or passage), in order."""
        with self._lock:
            missing = [c for c in chunks if c.id not in self._by_chunk]
        if missing:
            split = [split_passages([c if isinstance(c, Passage) else as_passage(c)]) for c in missing]
            texts = [s.read for sents in split for s in sents]
            vectors = self.embedder.embed_passages(texts) if texts else np.zeros((0, 0), np.float32)
            start = 0
            with self._lock:
                for chunk, sents in zip(missing, split):
                    self._by_chunk[chunk.id] = ChunkSentences(sents, vectors[start : start + len(sents)])
                    start += len(sents)
        with self._lock:
            return [self._by_chunk[c.id] for c in chunks]

    def best(self, chunks: Sequence[Chunk], query: np.ndarray) -> list[float]:
        """For each chunk, the highest similarity of one of its sentences to the query."""
        return [float((cs.vectors @ query).max()) if len(cs.sentences) else 0.0 for cs in self.of(chunks)]
