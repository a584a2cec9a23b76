"""Fitted weights: linear models over named features, read from `model.json` beside this module.

Every fitted number of the product is in this one file, a section per fitting script, none set by
hand: `eval/tune.py` writes the passage ranker (section "retrieval") and the answer model's weights
and thresholds ("answer"); `eval/tune_verifier.py` the citation verifier ("verifier");
`eval/fit_gate.py` the retrieval bar before a language model is asked ("gate").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS_FILE = "model.json"


@dataclass(frozen=True)
class LinearModel:
    """A logistic regression over named features, with the scaling it was fitted with."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def logit(self, rows: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """The log-odds of each row; `names` are the columns of `rows`."""
        if not len(rows):
            return np.zeros(0, np.float32)
        columns = [list(names).index(name) for name in self.features]
        return ((rows[:, columns] - self.mean) / self.scale) @ self.weights + self.bias

    def probability(self, rows: np.ndarray, names: Sequence[str]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(rows, names)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": [round(float(x), 6) for x in self.mean],
            "scale": [round(float(x), 6) for x in self.scale],
            "weights": [round(float(x), 6) for x in self.weights],
            "bias": round(float(self.bias), 6),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], known: Sequence[str]) -> LinearModel:
        unknown = set(data["features"]) - set(known)
        if unknown:
            raise ValueError(f"the model file names unknown features: {sorted(unknown)}")
        return cls(
            tuple(data["features"]),
            np.asarray(data["mean"], np.float32),
            np.asarray(data["scale"], np.float32),
            np.asarray(data["weights"], np.float32),
            float(data["bias"]),
        )


@lru_cache(maxsize=1)
def shipped_weights() -> dict[str, Any]:
    """The weights file shipped in the package."""
    return json.loads(resources.files("rag").joinpath(WEIGHTS_FILE).read_text(encoding="utf-8"))


def write_section(path: Path, section: str, data: dict[str, Any]) -> None:
    """Replace one section of the weights file at `path` (the fitting scripts' way of writing it)."""
    weights = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    weights[section] = data
    path.write_text(json.dumps(weights, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    shipped_weights.cache_clear()
