"""The answer model: a logistic regression over candidate features (rag.answer.features), with the
threshold that decides between answering and declining and the weight of its support in reranking.

All of it is read from section "answer" of rag/model.json, written by eval/tune.py
(cross-validated, grouped by document). Nothing here is set by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from rag.answer.features import FEATURES
from rag.weights import LinearModel, shipped_weights


@dataclass(frozen=True)
class AnswerModel:
    """`probability` of each candidate holding the answer, and the thresholds that use it."""

    linear: LinearModel
    threshold: float  # a part is answered when its best candidate's probability reaches this
    rerank_weight: float  # how much a passage's best candidate counts in reranking, next to retrieval
    # a candidate whose document does not speak of every name the question gives never answers (kept
    # by eval/tune.py only when it scores better with the gate than without)
    names_gate: bool = False

    def probability(self, rows: np.ndarray) -> np.ndarray:
        """The probability of each row of `FEATURES` holding the answer."""
        probability = self.linear.probability(rows, FEATURES)
        if self.names_gate and len(rows):
            probability = np.where(rows[:, FEATURES.index("names_document")] < 1, 0.0, probability)
        return probability

    def to_dict(self) -> dict[str, Any]:
        extra = {
            "threshold": round(self.threshold, 4),
            "rerank_weight": self.rerank_weight,
            "names_gate": self.names_gate,
        }
        return {**self.linear.to_dict(), **extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnswerModel:
        linear = LinearModel.from_dict(data, FEATURES)
        gate = bool(data.get("names_gate", False))
        return cls(linear, float(data["threshold"]), float(data["rerank_weight"]), gate)


@lru_cache(maxsize=1)
def shipped_model() -> AnswerModel:
    """The answer model shipped in the package."""
    return AnswerModel.from_dict(shipped_weights()["answer"])
