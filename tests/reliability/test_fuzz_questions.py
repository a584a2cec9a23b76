"""Property: any question gets an Answer with valid citations, or an InputError — nothing else."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rag.errors import InputError
from rag.ingest.bundled import bundled_files
from rag.schema import Answer

pytestmark = pytest.mark.reliability

SOURCES = {p.name for p in bundled_files()}
REAL = [
    "软银和英伟达在日本建设的AI工厂有多少算力？",
    "AI工厂的电力需求是多少？",
    "What did Jensen Huang say at CES?",
    "黄仁勋",
]
CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.characters(
    min_codepoint=0x7F, max_codepoint=0x9F
)
ZERO_WIDTH = st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u200f"])
SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
PUNCT = st.characters(categories=["P", "S"])
MIXED = st.characters(categories=["L", "N", "Zs"])
PIECE = st.one_of(
    st.sampled_from(REAL),
    st.text(MIXED, max_size=20),
    st.text(CONTROL | ZERO_WIDTH | SURROGATE, max_size=5),
    st.text(PUNCT, max_size=8),
)
QUESTIONS = st.one_of(
    st.just(""),
    st.text(st.characters(codec="utf-8") | SURROGATE | ZERO_WIDTH, min_size=2001, max_size=2500),
    st.lists(PIECE, max_size=6).map("".join),
    st.text(PUNCT, min_size=1, max_size=30),
    st.text(CONTROL | ZERO_WIDTH, max_size=30),
)


def _squash(text: str) -> str:
    return "".join(text.split())


@given(question=QUESTIONS)
@example(question="")
@example(question="\ud800")  # bug: UnicodeEncodeError in the embedder
@example(question="黄仁勋\udfff说了什么")
@example(question="\u200b\u200b")
@example(question="x" * 2001)
@example(question="？？！！…")
def test_any_question_answers_with_valid_citations_or_input_error(
    assistant: object, record: Callable[..., object], outcome: Callable[..., None], question: str
) -> None:
    with record("questions -> assistant.ask") as counter:  # type: ignore[attr-defined]
        try:
            answer = assistant.ask(question)  # type: ignore[attr-defined]
        except InputError:
            outcome(counter, "input error")
            return
        assert isinstance(answer, Answer)
        outcome(counter, "abstained" if answer.abstained else "answered")
        for citation in answer.citations:
            assert citation.source in SOURCES
            assert 1 <= citation.start_line <= citation.end_line
            # A soft-wrapped line ("AI\nGrid") is quoted joined with a space: compare without whitespace.
            assert _squash(citation.quote) in _squash(citation.text)
