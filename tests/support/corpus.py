"""Every line of the documents this repository holds: the bundled articles and the invented corpora's
documents (and, when asked, the question files), for checks that must hold on real text."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def document_lines(questions: bool = False) -> list[str]:
    """The lines of the bundled articles and the invented corpora's documents, then of eval/*.jsonl."""
    paths = sorted((ROOT / "rag" / "corpus").glob("*.txt")) + sorted(ROOT.glob("eval/corpora/*/docs/*"))
    assert len(paths) >= 10
    if questions:
        paths += sorted(ROOT.glob("eval/*.jsonl"))
    return [line for path in paths for line in path.read_text(encoding="utf-8").splitlines()]
