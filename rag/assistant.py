"""The assistant: one object that indexes documents and answers questions with citations."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from rag.answer.conversation import History, standalone_question, turns
from rag.answer.extractive import PASSAGES_READ, ExtractiveAnswerer
from rag.answer.llm import LLMAnswerer
from rag.answer.protocol import Answerer
from rag.config import Settings
from rag.errors import InputError
from rag.index.embed import Embedder, EmbeddingCache, make_embedder
from rag.index.sentence_index import SentenceIndex
from rag.index.store import ChromaStore, DocumentInfo
from rag.ingest.build import ingest
from rag.ingest.bundled import bundled_files
from rag.ingest.reembed import done as reembed_done
from rag.ingest.reembed import drop_for_model as reembed_files
from rag.question.expectation import split_question
from rag.question.query import QueryAnalyzer
from rag.question.searchable import check_searchable
from rag.question.vectors import AheadEmbedder
from rag.retrieve.hybrid import HybridRetriever, KeywordIndex
from rag.retrieve.protocol import Retriever
from rag.retrieve.rerank import POOL, fuse_pools, rerank
from rag.retrieve.scope import Scope, find_scope, scoped_rest
from rag.schema import Answer, IngestReport, Passage
from rag.text.crosslingual import LEXICON_FILE, Lexicon
from rag.text.sanitize import without_links
from rag.verification.stream import safe_answer


class Assistant:
    """Answers questions about a collection of documents, citing the passages it used.

    With no arguments it uses the bundled articles and the data folder in RAG_HOME, and indexes
    them on first use. The retriever and the answerer are the built-in ones unless others are given
    (`rag.retrieve.protocol.Retriever`, `rag.answer.protocol.Answerer`); the built-in ones are
    rebuilt after each ingest, given ones are used as they are.

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
        reembed: bool = False,
        retriever: Retriever | None = None,
        answerer: Answerer | None = None,
    ) -> None:
        """`reembed`: when the knowledge base was built with another embedding model than the one
        configured, rebuild it with this one (its report is in `reembed_report`) instead of refusing."""
        self.settings = settings or Settings()
        home = self.settings.home
        home.mkdir(parents=True, exist_ok=True)
        self._cache = EmbeddingCache(home / "embeddings.sqlite")
        self.embedder: Embedder = embedder or make_embedder(self.settings.embedding, self._cache)
        # the new model must answer before the old vectors are dropped
        probe = partial(self.embedder.embed_query, "knowledge base")
        again = reembed_files(self.settings, self.embedder.model_id, probe) if reembed else []
        self.store = ChromaStore(
            home, self.settings.collection, self.embedder.model_id, self.settings.chroma_url
        )
        self._lock = threading.RLock()
        self._given = (retriever, answerer)
        self._show_progress = sys.stderr.isatty() if show_progress is None else show_progress
        self.llm = LLMAnswerer(self.settings.llm) if self.settings.llm else None
        self.reembed_report: IngestReport | None = None
        if reembed:
            self.reembed_report = self._ingest(again)
            reembed_done(self.settings)
        if bundled and self.store.count() == 0:
            self._ingest(bundled_files())
        self._reload()

    def _reload(self) -> None:
        cache = self.settings.home / f"{self.store.name}.tokens.json"
        lexicon = Lexicon(self.settings.home / LEXICON_FILE)
        keywords = KeywordIndex.load_or_build(self.store.ids(), self._texts, cache, lexicon)
        sentences = SentenceIndex(self.embedder)
        vectors = AheadEmbedder(self.embedder)  # the question's vectors embedded ahead
        hybrid = HybridRetriever(self.store, vectors, keywords, sentences)
        retriever, answerer = self._given
        with self._lock:
            self.retriever: Retriever = retriever or hybrid
            self._ahead = vectors if retriever is None and answerer is None else None
            self.extractive: Answerer = answerer or ExtractiveAnswerer(
                keywords.idf,
                vectors,
                sentences,
                translate=keywords.glosses,
                documents_with=hybrid.documents_with,
                english=keywords.english,
                aliases=hybrid.name_aliases,
            )

    def _ingest(self, paths: Iterable[str | Path], prune: bool = False) -> IngestReport:
        """Ingest into the store with this assistant's embedder, progress display and size limit."""
        return ingest(
            self.store,
            self.embedder,
            paths,
            prune=prune,
            show_progress=self._show_progress,
            max_file_bytes=self.settings.max_file_bytes,
            follow_links=self.settings.follow_links,
            max_chars=self.settings.max_document_chars,
            max_seconds=self.settings.max_file_seconds,
        )

    def _texts(self, ids: list[str]) -> list[str]:
        """Texts of stored chunks (to tokenize the new ones)."""
        found = {c.id: c.text for c in self.store.get(ids)}
        return [found.get(i, "") for i in ids]

    def _check(self, question: str) -> str:
        if isinstance(question, str):  # lone surrogates ("\ud800") cannot be encoded: drop them
            question = question.encode("utf-8", "ignore").decode("utf-8")
        if not isinstance(question, str) or not question.strip():
            raise InputError("The question is empty: type a question about the documents.")
        question = question.strip()
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise InputError(
                f"The question is {len(question):,} characters long; the limit is {limit:,}. "
                "Ask a shorter question."
            )
        return check_searchable(question)

    def _passages(self, k: int) -> int:
        limit = self.settings.max_passages
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= limit:
            raise InputError(f"The number of passages must be a whole number from 1 to {limit}, not {k!r}.")
        return k

    def retrieve(self, question: str, k: int = 5, mode: str | None = None) -> list[Passage]:
        """The k passages that best match the question, best first (k at most `max_passages`)."""
        return self._retrieve(question, k, mode)[0]

    def _retrieve(
        self, question: str, k: int, mode: str | None, reranked: bool = True
    ) -> tuple[list[Passage], Scope, list[Passage]]:
        """The passages (reranked; none without `reranked`), what the question asks once a clause
        naming its document is set aside ("in the article on X, …": the article's passages come
        first, and the rest is what is searched for and answered), and the ranked pool before
        reranking, which the offline answer reads as its model was fitted to."""
        question = self._check(question)
        k = self._passages(k)
        mode = mode or self.settings.mode
        with self._lock:
            retriever, answerer = self.retriever, self.extractive
        if mode != "hybrid":  # the single-ranking modes stay plain, as baselines
            ranked = retriever.retrieve(question, k=max(k, PASSAGES_READ), mode=mode)
            return ranked[:k], Scope("", question), ranked
        depth = max(POOL, k)
        pool = retriever.retrieve(question, k=depth, mode=mode)
        scope = find_scope(question, retriever.keyword_sources, retriever.title_sources)
        if scope is None:
            pool = fuse_pools(pool)
            return (rerank(question, pool, answerer, k) if reranked else []), Scope("", question), pool
        pool = fuse_pools(pool, retriever.retrieve(scope.rest, k=depth, mode=mode))
        passages = rerank(scope.rest, pool, answerer, k, prior=scope.documents) if reranked else []
        return passages, scope, pool

    def ask(
        self, question: str, k: int | None = None, mode: str | None = None, extractive: bool = False
    ) -> Answer:
        """Answer a question from the documents, with numbered citations, or abstain.

        `extractive`: quote the passages even when an LLM endpoint is configured.

        Example:
            >>> Assistant().ask("What is the capital of France?").abstained
            True
        """
        return self._last(self._respond(question, k, mode, stream=False, offline=extractive))

    @staticmethod
    def _last(items: Iterator[str | Answer]) -> Answer:
        answer = None
        for item in items:
            answer = item
        assert isinstance(answer, Answer)
        return answer

    def stream(
        self, question: str, k: int | None = None, mode: str | None = None, history: History | None = None
    ) -> Iterator[str | Answer]:
        """Like `ask` (or `chat`, given a history), but yields the answer's text in pieces as the model
        writes them, then the checked Answer (citations verified, markers renumbered). Offline: the
        text once, then the Answer."""
        yield from self._follow_up(question, k, mode, turns(history), stream=True)

    def _follow_up(
        self, question: str, k: int | None, mode: str | None, history: list[tuple[str, str]], stream: bool
    ) -> Iterator[str | Answer]:
        if not history:
            yield from self._respond(question, k, mode, stream)
            return
        question = self._check(question)
        limit = self.settings.max_question_chars
        standalone, notice = standalone_question(history, question, self.llm, limit)
        for item in self._respond(standalone, k, mode, stream, offline=bool(notice)):
            if isinstance(item, Answer):
                item.question, item.standalone = question, standalone
                item.notice = " ".join(n for n in (notice, item.notice) if n)
            yield item

    def _respond(
        self, question: str, k: int | None, mode: str | None, stream: bool, offline: bool = False
    ) -> Iterator[str | Answer]:
        question = self._check(question)
        llm = None if offline else self.llm
        top_k = k or min(llm.settings.top_k if llm else self.settings.top_k, self.settings.max_passages)
        with self._lock:
            vectors = self._ahead
        if vectors is not None and (mode or self.settings.mode) == "hybrid":
            vectors.start(embedded_texts(question))
        # the offline answer reads the pool before reranking: reranking is for what a model reads
        passages, scope, pool = self._retrieve(question, top_k, mode, reranked=llm is not None)
        with self._lock:
            answerer = self.extractive
        if llm is None:
            read = pool[:PASSAGES_READ]
            document = scope.named  # worked out once, not once per passage
            named = [p for p in read if p.source == document]
            answer = answerer.answer(
                scope.rest, named or read, lambda part: self._retrieve(part, top_k, mode, reranked=False)[2]
            )
            answer.question = question
            answer = safe_answer(answer)
            yield answer.text
            yield answer
            return
        passages = self._with_parts(scope.rest, passages, top_k, mode)
        for item in llm.respond(question, passages, answerer, stream, fallback_k=k or self.settings.top_k):
            yield safe_answer(item) if isinstance(item, Answer) else without_links(item)

    def _with_parts(self, question: str, passages: list[Passage], k: int, mode: str | None) -> list[Passage]:
        """The passages, then those found for each part of a question that asks two things (the
        passages that fit the whole question often hold only one of the answers)."""
        parts = split_question(question)
        if len(parts) < 2:
            return passages
        held = {p.id for p in passages}
        out = list(passages)
        for part in parts:
            for passage in self._retrieve(part, k, mode)[0]:
                if passage.id not in held:
                    held.add(passage.id)
                    out.append(passage)
        return out

    def chat(self, history: History, question: str, k: int | None = None, mode: str | None = None) -> Answer:
        """Answer a follow-up: `history` is (role, text) pairs or {"role", "content"} dicts. The
        question is rewritten to stand alone (by the model when there is one) before retrieval; when
        the endpoint fails on the rewrite, the answer is extractive too (no second wait)."""
        answer = self._last(self._follow_up(question, k, mode, turns(history), stream=False))
        answer.standalone = answer.standalone or answer.question
        return answer

    def ingest(self, paths: Iterable[str | Path], prune: bool = False) -> IngestReport:
        """Add or update documents (files or folders); unchanged ones are skipped."""
        report = self._ingest(paths, prune=prune)
        self._reload()
        return report

    def documents(self) -> list[DocumentInfo]:
        """The documents in the knowledge base with their chunk counts."""
        return sorted(self.store.documents().values(), key=lambda d: d.source)


def embedded_texts(question: str) -> list[str]:
    """The texts a hybrid search and the answer of a question embed, in the order they are asked
    for: the question, what it asks once a clause naming its document is set aside, and each part
    of that (`QueryAnalyzer.embedded`) with, for a question that asks two things, what the part asks
    once such a clause is set aside (each part is searched too)."""
    rest = scoped_rest(question) or question
    texts = [question, rest]
    parts = split_question(rest)
    for part in parts:
        texts += QueryAnalyzer.embedded(part)
        if len(parts) > 1 and (within := scoped_rest(part)):
            texts.append(within)
    return list(dict.fromkeys(texts))
