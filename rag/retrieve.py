"""Hybrid retrieval: dense (Chroma) and BM25 over jieba tokens, fused by reciprocal rank fusion."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from rag.crosslingual import Lexicon
from rag.embed import Embedder
from rag.errors import InputError
from rag.schema import Chunk, Passage
from rag.sentences import SentenceIndex
from rag.store import ChromaStore
from rag.tokens import bigrams, is_chinese, tokenize

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[str, ...] = ("hybrid", "dense", "bm25")
RRF_K = 60
CANDIDATES = 30


class KeywordIndex:
    """BM25 (bm25s) over the tokens of every chunk, kept beside the store so it is built once."""

    def __init__(
        self, chunks: Sequence[Chunk], tokens: Sequence[list[str]], lexicon: Lexicon | None = None
    ) -> None:
        import bm25s

        self.lexicon = lexicon
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
    def load_or_build(
        cls, chunks: Sequence[Chunk], cache: Path | None, lexicon: Lexicon | None = None
    ) -> KeywordIndex:
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
        return cls(chunks, tokens, lexicon)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a token (unseen tokens get the highest value)."""
        n = max(len(self.chunks), 1)
        df = self._df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def known(self, word: str) -> bool:
        """Does the indexed text contain this (folded) Chinese word, as a token or as bigrams."""
        if word in self._df:
            return True
        pairs = bigrams(word)
        return len(word) > 2 and bool(pairs) and all(p in self._df for p in pairs)

    def translations(self, question: str) -> list[list[str]]:
        """Chinese words for the content words of a question in another language ([] for Chinese)."""
        if self.lexicon is None or is_chinese(question):
            return []
        return self.lexicon.groups(question, self.known)

    def query_tokens(self, question: str) -> list[str]:
        """BM25 query tokens: the question's own, plus dictionary translations across languages."""
        tokens = tokenize(question)
        for group in self.translations(question):
            for word in group:
                tokens.extend([word, *bigrams(word)])
        return tokens

    def search(self, question: str, k: int) -> list[tuple[int, float]]:
        """Indexes of the k best chunks with their BM25 scores (only those with a positive score)."""
        vocab = self._bm25.vocab_dict if self.chunks else {}
        query = [t for t in self.query_tokens(question) if t in vocab]
        if not query:
            return []
        scores = self._bm25.get_scores(query)
        top = np.argsort(-scores)[:k]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]


@dataclass(frozen=True)
class FusionWeights:
    """How much each ranking counts in reciprocal rank fusion."""

    dense: float
    keyword: float
    sentence: float


# Keyword and sentence rankings lead; whole-chunk vectors (long texts, blurred meaning) count less,
# least for Chinese questions, which share their words with the text. Questions in other languages
# reach keywords through dictionary translation. Chosen on eval/dev.jsonl.
CHINESE_WEIGHTS = FusionWeights(dense=0.25, keyword=1.0, sentence=1.0)
OTHER_WEIGHTS = FusionWeights(dense=0.5, keyword=1.0, sentence=1.0)


class HybridRetriever:
    """Dense, keyword or hybrid retrieval over one store.

    Hybrid fuses three rankings by weighted reciprocal rank fusion: chunk vectors (Chroma), BM25 over
    jieba tokens, and the best sentence similarity of each candidate chunk (sentence vectors).
    """

    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        keywords: KeywordIndex,
        sentences: SentenceIndex | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.keywords = keywords
        self.sentences = sentences

    def retrieve(self, question: str, k: int = 5, mode: str = "hybrid") -> list[Passage]:
        """The k best passages for the question."""
        if mode not in MODES:
            raise InputError(f"Unknown retrieval mode {mode!r}; choose one of: {', '.join(MODES)}")
        if k < 1:
            raise InputError(f"k must be at least 1, not {k}")
        weights = CHINESE_WEIGHTS if is_chinese(question) else OTHER_WEIGHTS
        if mode != "hybrid":
            weights = FusionWeights(1.0, 1.0, 0.0)
        fused: dict[str, float] = {}
        dense: dict[str, float] = {}
        keyword: dict[str, float] = {}
        chunks: dict[str, Chunk] = {}
        pool = max(CANDIDATES, k)

        def add(ranking: list[str], weight: float) -> None:
            for rank, cid in enumerate(ranking):
                fused[cid] = fused.get(cid, 0.0) + weight / (RRF_K + rank + 1)

        vector = self.embedder.embed_query(question) if mode in ("hybrid", "dense") else None
        if vector is not None:
            for chunk, cosine in self.store.query(vector, pool):
                chunks[chunk.id] = chunk
                dense[chunk.id] = cosine
            add(list(dense), weights.dense)
        if mode in ("hybrid", "bm25"):
            for index, score in self.keywords.search(question, pool):
                chunk = self.keywords.chunks[index]
                chunks.setdefault(chunk.id, chunk)
                keyword[chunk.id] = score
            add(list(keyword), weights.keyword)
        if vector is not None and self.sentences is not None and weights.sentence:
            candidates = list(chunks.values())
            best_sentence = dict(zip(chunks, self.sentences.best(candidates, vector)))
            add(sorted(best_sentence, key=lambda cid: -best_sentence[cid]), weights.sentence)
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
