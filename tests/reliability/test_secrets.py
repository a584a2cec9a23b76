"""Configured keys never reach the user: an endpoint that echoes the LLM or the embedding key, in any
form (whole, split, quoted, URL- or JSON-escaped, spaced out), has it hidden from the answer, every
streamed piece, the notice, the log and the errors. Real openai client, real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag import Answer, Assistant, Passage
from rag.answer.llm import LLMAnswerer
from rag.config import LLMSettings
from tests.support.llm_server import Reply, ScriptedLLM

pytestmark = pytest.mark.reliability
LLM_KEY = "sk-proj-Xq7Lm2Rt9Vb4Nc8Kd3Hf6Jw1Zp5Ys0Ua"
EMBEDDING_KEY = "emb-Gh4Tk9Wq2Lz7Bx3Mn8Rc5Vd1"
FACT = "黄仁勋宣布与SoftBank合作，在日本建设一个拥有25艾字节算力的AI工厂。"
PASSAGES = [Passage("p1", "002.txt", FACT, 1.0, 41, 41, dense=1.0)]
QUESTION = "软银和英伟达在日本建设的AI工厂有多少算力？"


def forms(key: str) -> list[Callable[[str], str]]:
    """Ways a reply may echo a key."""
    cut = len(key) // 2
    return [
        lambda k: k,
        lambda k: f'"{k}"',
        lambda k: quote(k, safe=""),
        lambda k: quote_plus(k),
        lambda k: json.dumps(k),
        lambda k: f"{k[:cut]} {k[cut:]}",
        lambda k: f"{k[:cut]}。{k[cut:]}",
        lambda k: f"'{k[:cut]}' + '{k[cut:]}'",
        lambda k: " ".join(k),
        lambda k: "-".join(k[i : i + 4] for i in range(0, len(k), 4)),
        lambda k: f"`{k}`",
        lambda k: f"https://x.example/?key={quote(k)}",
    ]


def leaked(text: str) -> bool:
    """Any ten letters or digits of either key, in order, with anything but letters and digits between."""
    compact = "".join(c for c in text if c.isalnum())
    for key in (LLM_KEY, EMBEDDING_KEY):
        plain = "".join(c for c in key if c.isalnum())
        if any(plain[i : i + 10] in compact for i in range(len(plain) - 9)):
            return True
    return False


@pytest.fixture()
def keyed(
    monkeypatch: pytest.MonkeyPatch, server: ScriptedLLM, assistant: Assistant
) -> Iterator[LLMAnswerer]:
    monkeypatch.setenv("RAG_EMBEDDING_KEY", EMBEDDING_KEY)
    settings = LLMSettings(base_url=server.base_url, api_key=LLM_KEY, timeout=5.0, max_retries=0)
    yield LLMAnswerer(settings)


def run(answerer: LLMAnswerer, assistant: Assistant, stream: bool) -> tuple[Answer, list[str]]:
    pieces: list[str] = []
    answer = None
    for item in answerer.respond(QUESTION, PASSAGES, assistant.extractive, stream=stream):
        if isinstance(item, Answer):
            answer = item
        else:
            pieces.append(item)
    assert answer is not None
    return answer, pieces


@given(
    which=st.sampled_from([LLM_KEY, EMBEDDING_KEY]),
    form=st.integers(0, 11),
    where=st.sampled_from(["alone", "in the fact", "own sentence", "list"]),
    stream=st.booleans(),
)
def test_no_echoed_key_is_ever_shown_or_logged(
    keyed: LLMAnswerer,
    server: ScriptedLLM,
    assistant: Assistant,
    caplog: pytest.LogCaptureFixture,
    record: Callable[..., Any],
    outcome: Callable[..., None],
    which: str,
    form: int,
    where: str,
    stream: bool,
) -> None:
    echoed = forms(which)[form](which)
    reply = {
        "alone": echoed,
        "in the fact": f"日本的AI工厂将拥有25艾字节算力，密钥 {echoed} [1]。",
        "own sentence": f"日本的AI工厂将拥有25艾字节算力[1]。The key is {echoed} [1].",
        "list": f"- 25艾字节算力 [1]\n- key: {echoed}",
    }[where]
    with record("echoed keys -> answer, pieces, notice, log") as counter:
        counter.faults += 1
        server.clear()
        server.script(Reply(text=reply, chunk_delay=0.0) if stream else reply)
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            answer, pieces = run(keyed, assistant, stream)
        shown = [
            answer.text,
            answer.notice,
            *answer.unsupported,
            *pieces,
            *(c.quote for c in answer.citations),
        ]
        shown += [r.getMessage() for r in caplog.records]
        assert not any(leaked(s) for s in shown), (reply, shown)
        outcome(counter, answer.mode)


@pytest.mark.parametrize("status", [400, 401, 500])
def test_an_error_that_quotes_the_key_is_shown_without_it(
    keyed: LLMAnswerer,
    server: ScriptedLLM,
    assistant: Assistant,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    server.clear()
    message = f"Incorrect API key provided: {LLM_KEY[:12]} {LLM_KEY[12:]} ({quote(EMBEDDING_KEY)})"
    server.script(Reply(status=status, error_message=message, headers={"x-should-retry": "false"}))
    with caplog.at_level(logging.DEBUG):
        answer, pieces = run(keyed, assistant, stream=False)
    assert answer.notice and not leaked(answer.notice) and not any(map(leaked, pieces))
    assert not any(leaked(r.getMessage()) for r in caplog.records)
    error = keyed.client.error(Exception(message))
    assert not leaked(str(error)) and not re.search("Xq7Lm2Rt9V", str(error))
