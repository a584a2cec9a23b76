"""The assistant: one object that indexes documents and answers questions with citations."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from rag.answer.extractive import ExtractiveAnswerer
from rag.bundled import bundled_files
from rag.config import Settings
from rag.crosslingual import Lexicon
from rag.embed import E5Embedding, Embedder, EmbeddingCache
from rag.errors import InputError
from rag.ingest import ingest
from rag.retrieve import HybridRetriever, KeywordIndex
from rag.schema import Answer, IngestReport, Passage
from rag.sentences import SentenceIndex
from rag.store import ChromaStore, DocumentInfo


class Assistant:
    """Answers questions about a collection of documents, citing the passages it used.

    With no arguments it uses the bundled articles and the data folder in RAG_HOME, and indexes
    them on first use.

    Example:
        >>> from rag import Assistant
        >>> assistant = Assistant()
        >>> answer = assistant.ask("软银和英伟达在日本建设的AI工厂有多少算力？")
        >>> answer.citations[0].source
        '002_76ca57ada4fcd65d.txt'
    """

    def __init__(
        self,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        bundled: bool = True,
        show_progress: bool | None = None,
    ) -> None:
        self.settings = settings or Settings()
        home = self.settings.home
        home.mkdir(parents=True, exist_ok=True)
        self._cache = EmbeddingCache(home / "embeddings.sqlite")
        self.embedder: Embedder = embedder or E5Embedding(cache=self._cache)
        self.store = ChromaStore(
            home, self.settings.collection, self.embedder.model_id, self.settings.chroma_url
        )
        self._lock = threading.RLock()
        self._show_progress = sys.stderr.isatty() if show_progress is None else show_progress
        if bundled and self.store.count() == 0:
            ingest(self.store, self.embedder, bundled_files(), show_progress=self._show_progress)
        self._reload()

    def _reload(self) -> None:
        chunks = [c for c, _ in self.store.chunks()]
        cache = self.settings.home / f"{self.store.name}.tokens.json"
        lexicon = Lexicon(self.settings.home / "lexicon.pickle")
        keywords = KeywordIndex.load_or_build(chunks, cache, lexicon)
        sentences = SentenceIndex(self.embedder)
        with self._lock:
            self.retriever = HybridRetriever(self.store, self.embedder, keywords, sentences)
            self.extractive = ExtractiveAnswerer(
                keywords.idf, self.embedder, sentences, translate=keywords.translations
            )

    def _check(self, question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise InputError("The question is empty: type a question about the documents.")
        question = question.strip()
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise InputError(
                f"The question is {len(question):,} characters long; the limit is {limit:,}. "
                "Ask a shorter question."
            )
        return question

    def retrieve(self, question: str, k: int = 5, mode: str | None = None) -> list[Passage]:
        """The k passages that best match the question, best first."""
        question = self._check(question)
        with self._lock:
            retriever = self.retriever
        return retriever.retrieve(question, k=k, mode=mode or self.settings.mode)

    def ask(self, question: str, k: int | None = None, mode: str | None = None) -> Answer:
        """Answer a question from the documents, with numbered citations, or abstain.

        Example:
            >>> Assistant().ask("What is the capital of France?").abstained
            True
        """
        question = self._check(question)
        passages = self.retrieve(question, k=k or self.settings.top_k, mode=mode)
        with self._lock:
            answerer = self.extractive
        return answerer.answer(question, passages)

    def ingest(self, paths: Iterable[str | Path], prune: bool = False) -> IngestReport:
        """Add or update documents (files or folders); unchanged ones are skipped."""
        report = ingest(self.store, self.embedder, paths, prune=prune, show_progress=self._show_progress)
        self._reload()
        return report

    def documents(self) -> list[DocumentInfo]:
        """The documents in the knowledge base with their chunk counts."""
        return sorted(self.store.documents().values(), key=lambda d: d.source)
