"""What the assistant asks of a retriever. `HybridRetriever` is the built-in one; another is
plugged in with `Assistant(retriever=...)`."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from rag.schema import Passage


@runtime_checkable
class Retriever(Protocol):
    """Passages for a question, and the documents a few words point to (for a question that names
    its document: "in the handbook, how many days of leave?")."""

    def retrieve(self, question: str, k: int = 5, mode: str = "hybrid") -> list[Passage]:
        """The k passages that best match the question, best first (`mode`: "hybrid", or a single
        ranking for baselines, "dense" or "keyword")."""
        ...

    def keyword_sources(self, text: str, k: int) -> list[tuple[str, float]]:
        """Documents whose passages hold the words of `text`, with their best score (best first)."""
        ...

    def title_sources(self, text: str) -> list[tuple[str, float]]:
        """Documents whose titles fit `text`, with how well (best first; none when titles are not known)."""
        ...
