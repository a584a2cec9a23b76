"""Passages made by hand, for the stages after retrieval."""

from __future__ import annotations

from rag.schema import Passage


def passage(pid: str, text: str = "", score: float = 1.0, *, source: str = "") -> Passage:
    """A one-line passage (line 1) whose text is `text` (else its id) from `source` (else `<id>.txt`)."""
    return Passage(
        id=pid,
        source=source or f"{pid}.txt",
        text=text or pid,
        score=score,
        start_line=1,
        end_line=1,
    )
