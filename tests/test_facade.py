"""The facade is built from a retriever and an answerer, either one replaceable; settings round-trip."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from rag import Answer, Assistant, Citation, EmbeddingSettings, InputError, LLMSettings, Passage, Settings
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.protocol import Answerer
from rag.retrieve.hybrid import HybridRetriever
from rag.retrieve.protocol import Retriever

HANDBOOK = Passage("h1", "handbook.md", "Staff get 25 days of paid leave a year.", 1.0, 3, 3, (3,))


class ListRetriever:
    """Returns the passages whose text shares a word with the question, in the order given."""

    def __init__(self, passages: list[Passage]) -> None:
        self.passages = passages
        self.asked: list[str] = []

    def retrieve(self, question: str, k: int = 5, mode: str = "hybrid") -> list[Passage]:
        self.asked.append(question)
        words = set(question.lower().strip("?").split())
        return [p for p in self.passages if words & set(p.text.lower().strip(".").split())][:k]

    def keyword_sources(self, text: str, k: int) -> list[tuple[str, float]]:
        return [(p.source, 1.0) for p in self.retrieve(text, k)]

    def title_sources(self, text: str) -> list[tuple[str, float]]:
        return []


class FirstSentence:
    """Quotes the first passage whole, or declines when there is none."""

    def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        search: Callable[[str], Sequence[Passage]] | None = None,
    ) -> Answer:
        if not passages:
            return Answer(question, "Not in the documents.", abstained=True)
        p = passages[0]
        cite = Citation(1, p.source, p.text, p.text, p.start_line, p.end_line, p.start_line, p.id)
        return Answer(question, f"{p.text} [1]", [cite])

    def passage_support(self, question: str, passages: Sequence[Passage]) -> dict[str, float]:
        return {p.id: 1.0 for p in passages}


def test_the_built_in_parts_meet_the_protocols() -> None:
    assert issubclass(HybridRetriever, Retriever) and issubclass(ExtractiveAnswerer, Answerer)
    assert isinstance(ListRetriever([]), Retriever) and isinstance(FirstSentence(), Answerer)


def test_a_given_retriever_and_answerer_answer_without_editing_the_facade(tmp_path: Path) -> None:
    retriever = ListRetriever([HANDBOOK])
    settings = Settings(home=tmp_path, llm=None, embedding=None)
    assistant = Assistant(
        settings, bundled=False, show_progress=False, retriever=retriever, answerer=FirstSentence()
    )
    answer = assistant.ask("How many days of paid leave?")
    assert answer.text == "Staff get 25 days of paid leave a year. [1]"
    assert answer.citations[0].source == "handbook.md" and answer.citations[0].start_line == 3
    assert "How many days of paid leave?" in retriever.asked
    assert assistant.ask("Who founded the company?").abstained  # nothing retrieved: declined


def test_settings_round_trip_through_a_dict_without_their_keys() -> None:
    settings = Settings(
        home=Path("/tmp/kb"),
        top_k=8,
        llm=LLMSettings(api_key="sk-secret", base_url="http://127.0.0.1:8080/v1", timeout=12.0),
        embedding=EmbeddingSettings("http://127.0.0.1:8000/v1", "e5", api_key="sk-other"),
    )
    data = settings.to_dict()
    assert "sk-secret" not in repr(data) and "sk-other" not in repr(data)
    assert data["llm"]["timeout"] == 12.0 and data["home"] == "/tmp/kb"
    again = Settings.from_dict(data)
    assert again.llm is not None and again.llm.api_key is None  # keys are never written out
    again.llm.api_key, again.embedding.api_key = "sk-secret", "sk-other"  # type: ignore[union-attr]
    assert again == settings


def test_settings_from_a_dict_name_what_is_not_a_setting() -> None:
    with pytest.raises(InputError, match="top_kk"):
        Settings.from_dict({"top_kk": 3})
    with pytest.raises(InputError, match="temperatur"):
        Settings.from_dict({"llm": {"temperatur": 0.5}})
