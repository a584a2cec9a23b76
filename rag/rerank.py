"""Reranking: the hybrid pool reordered by how well each passage could answer the question.

Fusion ranks passages by how much they resemble the question; the answerer's sentence evidence
(similarity, question terms, and whether a sentence holds the kind of thing asked for) tells which
of them holds the answer. Both count: the fused score, scaled to the best one, plus the best
sentence score of the passage times `SUPPORT_WEIGHT`. Pool and weight chosen on eval/dev.jsonl.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from rag.schema import Passage

POOL = 20
SUPPORT_WEIGHT = 3.0


class Support(Protocol):
    """Scores each passage by how well its best sentence answers the question."""

    def passage_support(self, question: str, passages: Sequence[Passage]) -> dict[str, float]: ...


def rerank(question: str, passages: Sequence[Passage], support: Support, k: int) -> list[Passage]:
    """The k best passages of the pool, fused score and answer support combined (score replaced)."""
    if not passages:
        return []
    found = support.passage_support(question, passages)
    top = max(p.score for p in passages) or 1.0
    floor = min(found.values(), default=0.0)  # a passage without sentences supports least
    combined = {p.id: p.score / top + SUPPORT_WEIGHT * found.get(p.id, floor) for p in passages}
    rank = {p.id: i for i, p in enumerate(passages)}
    ranked = sorted(passages, key=lambda p: -combined[p.id])[:k]
    return [replace(p, score=round(combined[p.id], 6), fused_rank=rank[p.id]) for p in ranked]
