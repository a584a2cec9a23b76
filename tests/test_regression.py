"""Regression gate: the product configuration must keep the scores recorded in eval/thresholds.json."""

from __future__ import annotations

import json
from pathlib import Path

from rag import Assistant
from rag.evaluate import load_eval, run_eval

EVAL = Path(__file__).resolve().parent.parent / "eval"


def test_hybrid_scores_stay_within_the_recorded_thresholds(assistant: Assistant) -> None:
    recorded = json.loads((EVAL / "thresholds.json").read_text(encoding="utf-8"))
    result = run_eval(assistant, load_eval(EVAL / "qa.jsonl"), configs=["hybrid"], k=5)
    metrics = result["configs"]["hybrid"]["metrics"]
    floors, ceilings = recorded["hybrid"], recorded["hybrid_at_most"]
    below = {name: (metrics[name], floor) for name, floor in floors.items() if metrics[name] < floor}
    above = {name: (metrics[name], top) for name, top in ceilings.items() if metrics[name] > top}
    assert not below, f"scores fell below the recorded thresholds (score, threshold): {below}"
    assert not above, f"scores rose above the recorded ceilings (score, ceiling): {above}"
