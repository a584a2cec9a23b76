"""Hostile files: small files that unpack or expand into huge text, lines that no pattern should take
quadratic time on, sentences longer than the embedding window, and files that take too long.

Every file either ingests or is skipped with its reason, within bounded work; the write lock is
released whatever happens to a file."""

from __future__ import annotations

import string
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag import Assistant, Settings
from rag.config import EMBED_WINDOW_TOKENS
from rag.ingest.chunk import chunk_document, window_parts, window_tokens
from rag.ingest.formats import Budget, SkippedFile
from rag.ingest.load import read_document
from rag.schema import Document, Line
from rag.text.clean import clean_document

pytestmark = pytest.mark.reliability
Record = Callable[..., Any]

FACT = "蓝鲸公司在2030年建成了一座海底数据中心，功率为42兆瓦。\n"
# Pieces that open a construct a pattern might scan for to the end of the line
OPENERS = [
    *string.punctuation,
    "![",
    "[a](",
    "[a](/",
    "<!--",
    "<a ",
    "遠(",
    "遠(yu",
    "http://",
    "\x1b]",
    "\x1b[",
]


def _within(seconds: float, work: Callable[[], object]) -> object:
    """work(), which must finish within `seconds` (a generous bound: a quadratic step takes minutes)."""
    result: list[object] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still working after {seconds} s"
    if failed:
        raise failed[0]
    return result[0]


def _assistant(tmp_path: Path, embedder: object, **limits: Any) -> Assistant:
    return Assistant(
        Settings(home=tmp_path / "home", llm=None, **limits),
        embedder=embedder,  # type: ignore[arg-type]
        bundled=False,
        show_progress=False,
    )


def test_a_small_docx_that_unpacks_to_huge_text_is_skipped_at_once(
    assistant: Assistant, tmp_path: Path, record: Record
) -> None:
    path = tmp_path / "runs.docx"
    document = docx.Document()
    for _ in range(50):  # fifty 1 MB runs of one character: about 90 KB on disk
        document.add_paragraph("a" * 1_000_000)
    document.save(str(path))
    (tmp_path / "fact.md").write_text(FACT, encoding="utf-8")
    with record("hostile files: skipped or ingested") as counter:
        counter.faults += 1
        a = _assistant(tmp_path, assistant.embedder)
        start = time.monotonic()
        report = _within(120, lambda: a.ingest([path, tmp_path / "fact.md"]))
        counter.outcomes["50 MB docx skipped s"] = round(time.monotonic() - start, 1)
        assert report.added == ["fact.md"]  # type: ignore[attr-defined]
        [why] = report.skipped.values()  # type: ignore[attr-defined]
        assert "50,000,000 characters long, over the limit of 1,000,000" in why


def test_a_docx_part_over_the_unpack_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    document = docx.Document()
    for _ in range(70):
        document.add_paragraph("b" * 1_000_000)
    document.save(str(path))
    with pytest.raises(SkippedFile, match=r"unpacks to 6\d MB, over the 64 MB"):
        _within(60, lambda: read_document(path))


def test_a_five_megabyte_line_is_skipped_by_its_length(
    assistant: Assistant, tmp_path: Path, record: Record
) -> None:
    path = tmp_path / "oneline.txt"
    path.write_text("英伟达的AI工厂需要1吉瓦电力，" * 340_000, encoding="utf-8")  # 5 MB, no line break
    with record("hostile files: skipped or ingested") as counter:
        counter.faults += 1
        a = _assistant(tmp_path, assistant.embedder)
        start = time.monotonic()
        report = _within(60, lambda: a.ingest([path]))
        counter.outcomes["5 MB line skipped s"] = round(time.monotonic() - start, 1)
        assert not report.added  # type: ignore[attr-defined]
        assert "characters long, over the limit" in report.skipped[str(path)]  # type: ignore[attr-defined]


@settings(max_examples=60)
@given(opener=st.sampled_from(OPENERS), tail=st.text(string.printable, max_size=3))
def test_cleaning_takes_linear_time_on_any_repeated_piece(opener: str, tail: str, record: Record) -> None:
    """Before, one 100k-character line of "[" took 106 s to clean, "![" 56 s, "<!--" 22 s."""
    with record("hostile lines: cleaned in bounded time"):
        piece = opener + tail
        line = piece * (100_000 // len(piece))
        _within(30, lambda: clean_document(line))


@given(
    piece=st.sampled_from(
        ["a", "word ", "英伟达的AI工厂需要1吉瓦电力，", "😀", "1234567890", "ab-cd,", "\u00e9"]
    ),
    repeat=st.integers(1, 30_000),
)
@settings(max_examples=40)
def test_every_chunk_and_sentence_fits_the_embedding_window(piece: str, repeat: int, record: Record) -> None:
    """A sentence over the window is cut into parts that fit; nothing of the text is lost."""
    with record("long sentences: cut to the embedding window") as counter:
        text = (piece * repeat)[:200_000]
        parts = window_parts(text)
        assert "".join(parts) == text
        assert max(map(window_tokens, parts)) <= EMBED_WINDOW_TOKENS
        chunks = chunk_document(Document("long.txt", "/long.txt", "0", [Line(1, text.strip() or "x")]))
        from rag.index.sentence_index import as_passage
        from rag.text.sentences import split_passages

        sentences = [s.text for c in chunks for s in split_passages([as_passage(c)])]
        assert max(map(window_tokens, sentences)) <= EMBED_WINDOW_TOKENS
        counter.outcomes["parts"] = int(counter.outcomes.get("parts", 0)) + len(parts)


def test_a_file_over_its_time_is_skipped_and_the_lock_is_released(
    assistant: Assistant, tmp_path: Path, record: Record, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_MAX_FILE_SECONDS", "2")
    long = tmp_path / "long.txt"
    lines = (f"第{i}号数据中心位于第{i % 97}区，功率为{i * 7 % 1000}兆瓦。" for i in range(12_000))
    long.write_text("\n".join(lines), encoding="utf-8")  # 300k characters, every sentence new
    (tmp_path / "fact.md").write_text(FACT, encoding="utf-8")
    with record("hostile files: skipped or ingested") as counter:
        counter.faults += 1
        a = _assistant(tmp_path, assistant.embedder)
        start = time.monotonic()
        report = _within(120, lambda: a.ingest([long, tmp_path / "fact.md"]))
        counter.outcomes["over-time file skipped s"] = round(time.monotonic() - start, 1)
        assert report.added == ["fact.md"]  # type: ignore[attr-defined]
        assert "longer than the 2 s allowed for one file" in report.skipped[str(long)]  # type: ignore[attr-defined]
        assert [d.source for d in a.documents()] == ["fact.md"]
        again = a.ingest([tmp_path / "fact.md"])  # the lock was released: a second run writes
        assert again.unchanged == ["fact.md"]


def test_the_budget_counts_only_its_own_file() -> None:
    budget = Budget(seconds=0.05, chars=10).start()
    budget.pause()
    time.sleep(0.1)  # other files' work does not count
    budget.start().check()
    budget.text(10)
    with pytest.raises(SkippedFile, match="11 characters long, over the limit of 10"):
        budget.text(11)
    time.sleep(0.1)
    with pytest.raises(SkippedFile, match=r"longer than the 0\.05 s allowed"):
        budget.check()
