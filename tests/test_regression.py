"""Regression gate: the product configuration must keep the scores recorded in eval/thresholds.json."""

from __future__ import annotations

import json
from pathlib import Path

from rag import Assistant
from rag.evaluate import load_eval, run_eval

EVAL = Path(__file__).resolve().parent.parent / "eval"


def test_hybrid_scores_stay_above_the_recorded_thresholds(assistant: Assistant) -> None:
    thresholds = json.loads((EVAL / "thresholds.json").read_text(encoding="utf-8"))["hybrid"]
    result = run_eval(assistant, load_eval(EVAL / "qa.jsonl"), configs=["hybrid"], k=5)
    metrics = result["configs"]["hybrid"]["metrics"]
    below = {name: (metrics[name], floor) for name, floor in thresholds.items() if metrics[name] < floor}
    assert not below, f"scores fell below the recorded thresholds (score, threshold): {below}"
