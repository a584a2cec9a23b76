"""Property: cleaning and chunking any text covers the kept lines in order; valid spans, stable ids."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rag.ingest.chunk import chunk_document
from rag.schema import Document
from rag.text.clean import clean_document

pytestmark = pytest.mark.reliability

PIECES = st.one_of(
    st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF), min_size=1, max_size=30),
    st.sampled_from(
        ["遠(yuǎn)", "行（xing2）", "模型(model)", "AI(Physical AI)", "。", "！", "？", ". ", "，", "; "]
    ),
    st.sampled_from(["# 标题", "**粗体**", "> 引用", "[链接](https://x.cn/a)", "![图](a.png)", "- 列表"]),
    st.sampled_from(["<p>", "</p>", "<a href='x'>", "<!-- c -->", "&nbsp;", "<br/>"]),
    st.sampled_from([" | ", "|", "｜", "\n", "\n\n", "\r\n", " ", "\t", "\u3000", "\u200b"]),
    st.text(st.characters(categories=["L", "N", "P", "Zs"]), max_size=20),
    st.sampled_from(
        ["Jensen Huang said NVIDIA builds AI factories.", "The GPU needs 1 GW of power? ", "Yes! "]
    ),
)
TEXTS = st.lists(PIECES, max_size=60).map("".join)
LONG_ENGLISH = "Does the AI factory need power? Yes! " * 60


def _document(text: str) -> Document:
    return Document(source="doc.txt", path="/doc.txt", sha256="0" * 64, lines=clean_document(text))


@given(text=TEXTS)
@example(text=LONG_ENGLISH)  # bug: a line over the budget, split at sentences, lost the spaces between them
@example(text="遠(yuǎn)方 | 一 | 二 | 三\n" * 3)
def test_chunks_cover_kept_lines_in_order(
    record: Callable[..., object], outcome: Callable[..., None], text: str
) -> None:
    with record("text -> clean_document + chunk_document") as counter:  # type: ignore[attr-defined]
        doc = _document(text)
        chunks = chunk_document(doc)
        outcome(counter, "chunks" if chunks else "no chunks")
        by_number = {line.number: line.text for line in doc.lines}
        # In order and complete; whitespace aside, as a line split at sentences loses the space at the cut.
        joined = "".join(c.text.replace("\n", "") for c in chunks)
        assert "".join(joined.split()) == "".join("".join(line.text for line in doc.lines).split())
        previous_end = 0
        for chunk in chunks:
            assert chunk.start_line <= chunk.end_line
            assert chunk.start_line >= previous_end  # a long line split at sentences may span two chunks
            assert chunk.line_numbers[0] == chunk.start_line and chunk.line_numbers[-1] == chunk.end_line
            assert list(chunk.line_numbers) == sorted(chunk.line_numbers)
            for number, piece in zip(chunk.line_numbers, chunk.text.split("\n")):
                assert piece in by_number[number], (number, piece)
            previous_end = chunk.end_line
        again = chunk_document(_document(text))
        assert [c.id for c in again] == [c.id for c in chunks]
        assert len({c.id for c in chunks}) == len(chunks)
