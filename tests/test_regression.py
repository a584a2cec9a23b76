"""Regression gate: the product configuration must keep the scores recorded in eval/thresholds.json,
on the held-out questions over the bundled articles and on the invented corpus never fitted on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rag import Assistant, Settings
from rag.evaluation.harness import load_eval, run_eval

pytestmark = pytest.mark.slow  # a full eval run per corpus
EVAL = Path(__file__).resolve().parent.parent / "eval"


def _check(metrics: dict[str, Any], floors: dict[str, float], ceilings: dict[str, float]) -> None:
    below = {name: (metrics[name], floor) for name, floor in floors.items() if metrics[name] < floor}
    above = {name: (metrics[name], top) for name, top in ceilings.items() if metrics[name] > top}
    assert not below, f"scores fell below the recorded thresholds (score, threshold): {below}"
    assert not above, f"scores rose above the recorded ceilings (score, ceiling): {above}"


def test_hybrid_scores_stay_within_the_recorded_thresholds(assistant: Assistant) -> None:
    recorded = json.loads((EVAL / "thresholds.json").read_text(encoding="utf-8"))
    result = run_eval(assistant, load_eval(EVAL / "qa.jsonl"), configs=["hybrid"], k=5)
    _check(result["configs"]["hybrid"]["metrics"], recorded["hybrid"], recorded["hybrid_at_most"])


@pytest.fixture(scope="module")
def orchard(tmp_path_factory: pytest.TempPathFactory, assistant: Assistant) -> Assistant:
    made = Assistant(
        Settings(home=tmp_path_factory.mktemp("orchard"), llm=None, embedding=None),
        embedder=assistant.embedder,
        bundled=False,
        show_progress=False,
    )
    made.ingest([EVAL / "corpora" / "orchard" / "docs"])
    return made


def test_scores_on_documents_never_fitted_on_stay_within_the_recorded_thresholds(orchard: Assistant) -> None:
    recorded = json.loads((EVAL / "thresholds.json").read_text(encoding="utf-8"))
    result = run_eval(orchard, load_eval(EVAL / "corpora" / "orchard" / "qa.jsonl"), configs=["hybrid"], k=5)
    _check(result["configs"]["hybrid"]["metrics"], recorded["orchard"], recorded["orchard_at_most"])
