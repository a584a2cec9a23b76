"""The LLM path against a real small model (opt-in: `-m llama`, see tests/llama/conftest.py): whatever
the model writes, the answer is checked, bounded in time and size, and never a copy of the prompt."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from rag import Assistant, Settings
from rag.config import LLMSettings

pytestmark = pytest.mark.llama
ROOT = Path(__file__).resolve().parents[2]
MAX_TOKENS = 96
SCAFFOLD = ("<passage", "</passage", "资料段落", "Passages:", "Rules:", "规则：", "[n]", "Cite only passages")


def development_questions(n: int = 12) -> list[dict[str, object]]:
    lines = (ROOT / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:n] if line.strip()]


def test_a_real_model_gives_checked_bounded_answers(llama_url: str, assistant: Assistant) -> None:
    llm = LLMSettings(
        base_url=llama_url, api_key="unused", model="local", timeout=60.0, max_tokens=MAX_TOKENS
    )
    settings = Settings(home=assistant.settings.home, llm=llm)
    a = Assistant(settings, embedder=assistant.embedder, show_progress=False)
    for item in development_questions():
        question = str(item["question"])
        started = time.monotonic()
        answer = a.ask(question)
        took = time.monotonic() - started
        assert took < llm.deadline + 5, (question, took)
        assert not any(s in answer.text for s in SCAFFOLD), (question, answer.text)
        if answer.mode == "llm" and not answer.abstained:
            assert answer.citations and all(c.verified for c in answer.citations), (question, answer)
        if answer.mode == "extractive" and answer.notice:
            assert answer.notice.endswith("quotes the passages instead.") or answer.abstained, answer.notice
