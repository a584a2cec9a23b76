"""The ingestion progress bar counts every text embedded, chunks and sentences alike, so it neither
stops at the end while the sentences are embedded nor shows a rate other than texts per second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import rag.ingest.build as build
from rag import Assistant, Settings
from rag.index.sentence_index import as_passage
from rag.text.sentences import split_passages


class _Bar:
    def __init__(self, total: int, show: bool) -> None:
        self.total, self.done, self.closed = total, 0, False

    def update(self, n: int) -> None:
        self.done += n

    def close(self) -> None:
        self.closed = True


def test_the_bar_counts_chunks_and_sentences(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bars: list[_Bar] = []

    def progress(total: int, show: bool) -> Any:
        bars.append(_Bar(total, show))
        return bars[-1]

    monkeypatch.setattr(build, "_progress", progress)
    (tmp_path / "note.md").write_text(
        "# 仓库手册\n\n冷链仓库共有14座。每座仓库配有两名值班员。\n\n夜间温度保持在零下18度。\n",
        encoding="utf-8",
    )
    assistant = Assistant(Settings(home=tmp_path / "home"), bundled=False, show_progress=False)
    assistant.ingest([tmp_path / "note.md"])
    chunks = assistant.store.get(assistant.store.ids())
    sentences = [s for c in chunks for s in split_passages([as_passage(c)])]
    assert len(sentences) > len(chunks) > 0
    assert [(b.total, b.done, b.closed) for b in bars] == [(len(chunks) + len(sentences),) * 2 + (True,)]
