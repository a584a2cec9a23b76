"""Reranking: the hybrid pool reordered by how well each passage could answer the question.

Fusion ranks passages by how much they resemble the question; the answerer's sentence evidence
(similarity, question terms, and whether a sentence holds the kind of thing asked for) tells which
of them holds the answer. Both count: the fused score, scaled to the best one, plus the answer
model's probability for the passage's best candidate times the model's fitted `rerank_weight`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from rag.schema import Passage

POOL = 20
PRIOR_WEIGHT = 2.0  # for a question naming its document: how much its passages gain (chosen on dev)


class Support(Protocol):
    """Scores each passage by how well its best candidate answers the question (weighted for reranking)."""

    def passage_support(self, question: str, passages: Sequence[Passage]) -> dict[str, float]: ...


def rerank(
    question: str,
    passages: Sequence[Passage],
    support: Support,
    k: int,
    prior: Mapping[str, float] | None = None,
) -> list[Passage]:
    """The k best passages of the pool, fused score and answer support combined (score replaced).

    `prior`: for a question that names its document, that document's lead over the next best fit
    (0 to 1); its passages gain `PRIOR_WEIGHT` times that."""
    if not passages:
        return []
    found = support.passage_support(question, passages)
    top = max(p.score for p in passages) or 1.0
    floor = min(found.values(), default=0.0)  # a passage without sentences supports least
    prior = prior or {}
    combined = {
        p.id: p.score / top + found.get(p.id, floor) + PRIOR_WEIGHT * prior.get(p.source, 0.0)
        for p in passages
    }
    ranked = sorted(passages, key=lambda p: -combined[p.id])[:k]
    return [replace(p, score=round(combined[p.id], 6)) for p in ranked]


def fuse_pools(*pools: Sequence[Passage]) -> list[Passage]:
    """Several fused rankings as one pool: each passage once, with its best score (scaled to its
    ranking's best) and its best rank (`fused_rank`)."""
    merged: dict[str, Passage] = {}
    for pool in pools:
        top = max((p.score for p in pool), default=0.0) or 1.0
        for rank, p in enumerate(pool):
            seen = merged.get(p.id)
            score = p.score / top
            if seen is None or score > seen.score or rank < seen.fused_rank:
                merged[p.id] = replace(
                    p,
                    score=max(score, seen.score if seen else 0.0),
                    fused_rank=min(rank, seen.fused_rank if seen else rank),
                )
    return sorted(merged.values(), key=lambda p: (p.fused_rank, -p.score))
