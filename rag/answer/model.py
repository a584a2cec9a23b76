"""The answer model: a logistic regression over candidate features (rag.answer.features), with the
threshold that decides between answering and declining and the weight of its support in reranking.

All of it is read from section "answer" of rag/model.json, written by eval/tune.py
(cross-validated, grouped by document). Nothing here is set by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from rag.answer.features import FEATURES
from rag.weights import LinearModel, shipped_weights


def _column(rows: np.ndarray, name: str) -> np.ndarray:
    return rows[:, FEATURES.index(name)]


# Hard gates a fitted model may keep: which candidates never answer.
GATES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    # the candidate's document does not speak of every name the question gives
    "names": lambda rows: _column(rows, "names_document") < 1,
    # page furniture: a publication timestamp, a broken-encoding fragment, a planted instruction, or
    # a byline when the author is not asked
    "furniture": lambda rows: (
        (_column(rows, "timestamp") > 0)
        | (_column(rows, "broken") > 0)
        | (_column(rows, "instruction") > 0)
        | ((_column(rows, "byline") > 0) & (_column(rows, "byline_asked") == 0))
    ),
}


@dataclass(frozen=True)
class AnswerModel:
    """`probability` of each candidate holding the answer, and the thresholds that use it."""

    linear: LinearModel
    threshold: float  # a part is answered when its best candidate's probability reaches this
    rerank_weight: float  # how much a passage's best candidate counts in reranking, next to retrieval
    # hard gates (`GATES`) kept by eval/tune.py because cross-validation scores no worse with them
    gates: tuple[str, ...] = ()

    def probability(self, rows: np.ndarray) -> np.ndarray:
        """The probability of each row of `FEATURES` holding the answer (0 for a gated one)."""
        probability = self.linear.probability(rows, FEATURES)
        for gate in self.gates:
            probability = np.where(GATES[gate](rows), 0.0, probability)
        return probability

    def to_dict(self) -> dict[str, Any]:
        extra = {
            "threshold": round(self.threshold, 4),
            "rerank_weight": self.rerank_weight,
            "gates": list(self.gates),
        }
        return {**self.linear.to_dict(), **extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnswerModel:
        linear = LinearModel.from_dict(data, FEATURES)
        gates = tuple(data.get("gates", ()))
        unknown = set(gates) - set(GATES)
        if unknown:
            raise ValueError(f"the model file names unknown gates: {sorted(unknown)}")
        return cls(linear, float(data["threshold"]), float(data["rerank_weight"]), gates)


@lru_cache(maxsize=1)
def shipped_model() -> AnswerModel:
    """The answer model shipped in the package."""
    return AnswerModel.from_dict(shipped_weights()["answer"])
