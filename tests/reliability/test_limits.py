"""Consumption limits: question length, passages per question, answer tokens and file size are capped,
each cap configurable (Settings or RAG_* variables) and enforced with a clear message."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rag import Assistant, InputError, Settings
from rag.app.cli import main
from rag.config import LLMSettings
from tests.support.llm_server import Reply, ScriptedLLM

pytestmark = pytest.mark.reliability
COMPUTE = "软银和英伟达在日本建设的AI工厂有多少算力？"


def on_index(assistant: Assistant, **settings: Any) -> Assistant:
    """Another assistant on the session's bundled index, with other limits."""
    return Assistant(
        Settings(home=assistant.settings.home, llm=None, **settings),
        embedder=assistant.embedder,
        show_progress=False,
    )


def test_question_length_cap(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch, record: Callable[..., Any]
) -> None:
    with record("cap: question length") as counter:
        a = on_index(assistant, max_question_chars=30)
        assert a.ask(COMPUTE).question == COMPUTE  # 22 characters: asked and answered
        counter.faults += 1
        with pytest.raises(InputError, match=r"31 characters long; the limit is 30"):
            a.ask("软" * 31)
        monkeypatch.setenv("RAG_MAX_QUESTION_CHARS", "12")
        assert Settings().max_question_chars == 12
        monkeypatch.setenv("RAG_MAX_QUESTION_CHARS", "many")
        with pytest.raises(InputError, match="RAG_MAX_QUESTION_CHARS='many' is not a number"):
            Settings()


def test_passages_cap(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch, record: Callable[..., Any]
) -> None:
    with record("cap: passages per question") as counter:
        a = on_index(assistant, max_passages=3, top_k=3)
        assert len(a.retrieve(COMPUTE, k=3)) == 3
        for k in (4, 1000, 0, -1):
            counter.faults += 1
            with pytest.raises(InputError, match=r"from 1 to 3, not"):
                a.retrieve(COMPUTE, k=k)
        with pytest.raises(InputError, match="from 1 to 3"):
            a.ask(COMPUTE, k=50)
        with pytest.raises(InputError, match="top_k=5 is over the limit of 3 passages"):
            Settings(home=assistant.settings.home, max_passages=3)
        monkeypatch.setenv("RAG_MAX_PASSAGES", "7")
        assert Settings().max_passages == 7
        # the command line reports it as a usage error (exit 2), not a traceback
        monkeypatch.setenv("RAG_HOME", str(assistant.settings.home))
        monkeypatch.setenv("RAG_MAX_PASSAGES", "2")
        assert main(["ask", "-k", "3", COMPUTE]) == 2


def test_passages_cap_bounds_the_web_ui_slider(assistant: Assistant, record: Callable[..., Any]) -> None:
    pytest.importorskip("gradio")
    from rag.app import ui

    with record("cap: passages per question"):
        app = ui.build_app(on_index(assistant, max_passages=4, top_k=4))
        props = [c.get("props", {}) for c in app.config["components"]]
        sliders = [p for p in props if str(p.get("label", "")).startswith("Passages")]
        assert [p["maximum"] for p in sliders] == [4]


def test_answer_tokens_cap(
    assistant: Assistant, server: ScriptedLLM, monkeypatch: pytest.MonkeyPatch, record: Callable[..., Any]
) -> None:
    with record("cap: answer tokens") as counter:
        llm = LLMSettings(base_url=server.base_url, api_key="sk-test", timeout=5.0, max_tokens=64)
        a = Assistant(
            Settings(home=assistant.settings.home, llm=llm), embedder=assistant.embedder, show_progress=False
        )
        server.clear()
        # a model that stops at the limit: the request carries the cap, the answer says it was cut off
        cut = "软银和英伟达在日本建设的AI工厂将拥有25艾字节的AI算力。它还"
        server.script(Reply(text=cut, finish_reason="length"))
        counter.faults += 1
        answer = a.ask(COMPUTE)
        assert "25艾字节" in answer.text, (answer.text, answer.notice)
        assert server.requests[0]["json"]["max_tokens"] == 64
        assert answer.mode == "llm" and "cut off at the model's length limit" in answer.notice
        with pytest.raises(InputError, match="at least 16 tokens"):
            LLMSettings(base_url=server.base_url, max_tokens=8)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("RAG_LLM_MAX_TOKENS", "300")
        from_env = LLMSettings.from_env()
        assert from_env is not None and from_env.max_tokens == 300


def test_file_size_cap(
    assistant: Assistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, record: Callable[..., Any]
) -> None:
    with record("cap: file size") as counter:
        docs = tmp_path / "docs"
        docs.mkdir()
        small = "蓝鲸公司在2030年建成了一座海底数据中心，功率为42兆瓦。\n"
        (docs / "small.md").write_text(small, encoding="utf-8")
        (docs / "big.md").write_text(small * 400, encoding="utf-8")  # about 30 KB
        a = Assistant(
            Settings(home=tmp_path / "home", llm=None, max_file_mb=0.02),  # 20 KB
            embedder=assistant.embedder,
            bundled=False,
            show_progress=False,
        )
        counter.faults += 1
        report = a.ingest([docs])
        assert report.added == ["small.md"]
        [why] = report.skipped.values()
        assert re.fullmatch(r"it is 3\d KB, over the 20 KB limit", why)
        assert [d.source for d in a.documents()] == ["small.md"]  # what was stored is kept
        monkeypatch.setenv("RAG_MAX_FILE_MB", "0.5")
        assert Settings().max_file_bytes == 512 * 1024


def test_file_size_cap_in_the_web_ui(
    assistant: Assistant, tmp_path: Path, record: Callable[..., Any]
) -> None:
    pytest.importorskip("gradio")
    from rag.app import ui

    with record("cap: file size") as counter:
        a = on_index(assistant, max_file_mb=0.01)
        big = tmp_path / "big.md"
        big.write_text("蓝鲸公司的数据中心功率为42兆瓦。\n" * 400, encoding="utf-8")
        counter.faults += 1
        assert re.fullmatch(r"it is \d\d KB, over the 10 KB limit", ui.ChatHandlers(a).refusal(big))
        app = ui.build_app(a)
        assert app.rag_max_file_bytes == int(0.01 * 2**20)  # handed to Gradio's own upload limit at launch
