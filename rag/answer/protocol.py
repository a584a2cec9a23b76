"""What the assistant asks of an answerer that works without a language model.
`ExtractiveAnswerer` is the built-in one; another is plugged in with `Assistant(answerer=...)`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from rag.schema import Answer, Passage


@runtime_checkable
class Answerer(Protocol):
    """An answer citing the passages (or a decline), and how well each passage answers: the latter
    reranks the passages a language model reads, and a model's answer falls back on the former."""

    def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        search: Callable[[str], Sequence[Passage]] | None = None,
    ) -> Answer:
        """The answer from `passages`; `search` finds passages for a part of a two-part question."""
        ...

    def passage_support(self, question: str, passages: Sequence[Passage]) -> dict[str, float]:
        """For each passage id, how well the passage answers the question (higher is better)."""
        ...
