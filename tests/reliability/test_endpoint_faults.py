"""A failing LLM endpoint never leaves a question unanswered: 429, 500, a hang, garbage and a dropped
server each end, within a bounded time, in the extractive answer with a notice saying why."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from llm_server import Reply, ScriptedLLM

from rag import Answer, Assistant, Settings
from rag.config import LLMSettings
from tests.reliability.replies import answer_of

pytestmark = pytest.mark.reliability
COMPUTE = "软银和英伟达在日本建设的AI工厂有多少算力？"
TIMEOUT = 1.0
RETRIES = 1
# (fault, replies for each attempt, what the notice must say: a regular expression)
FAULTS: list[tuple[str, list[Reply], str]] = [
    ("429 rate limit", [Reply(status=429, headers={"retry-after-ms": "10"})] * 2, "rate-limiting"),
    ("500 server error", [Reply(status=500, headers={"retry-after-ms": "10"})] * 2, "HTTP 500"),
    ("hang past the timeout", [Reply(text="太慢了", delay=30)] * 2, "did not answer within"),
    ("garbage body", [Reply(raw=b"\x00\xffnot json{")] * 2, "failed|empty answer"),
    ("JSON of the wrong shape", [Reply(raw=b'{"id": 1, "choices": "none"}')] * 2, "failed|empty answer"),
    ("empty answer", [Reply(text="")], "empty answer"),
]


def _ask(a: Assistant, stream: bool) -> tuple[Answer, list[str], float]:
    start = time.monotonic()
    answer, pieces = answer_of(a, COMPUTE, stream)
    return answer, pieces, time.monotonic() - start


@pytest.mark.parametrize("stream", [False, True], ids=["ask", "stream"])
def test_every_endpoint_fault_ends_in_a_quoted_answer_in_bounded_time(
    assistant: Assistant,
    server: ScriptedLLM,
    stream: bool,
    record: Callable[..., Any],
    outcome: Callable[..., None],
) -> None:
    llm = LLMSettings(base_url=server.base_url, api_key="sk-test", timeout=TIMEOUT, max_retries=RETRIES)
    a = Assistant(
        Settings(home=assistant.settings.home, llm=llm), embedder=assistant.embedder, show_progress=False
    )
    bound = (RETRIES + 1) * (TIMEOUT + 1.0) + 2.0  # every attempt times out, plus backoff and the answer
    slowest = 0.0
    for fault, replies, words in FAULTS:
        with record(f"LLM endpoint faults -> {'stream' if stream else 'ask'}") as counter:
            server.clear()
            server.script(*replies)
            counter.faults += 1
            answer, pieces, took = _ask(a, stream)
            slowest = max(slowest, took)
            assert took < bound, (fault, took)
            assert answer.mode == "extractive" and "25艾字节" in answer.text, (fault, answer)
            assert re.search(words, answer.notice), (fault, answer.notice)
            assert answer.notice.endswith("This answer quotes the passages instead."), (fault, answer.notice)
            assert all(p in answer.text for p in pieces), (fault, pieces)  # nothing of the failed reply shown
            outcome(counter, "extractive fallback")
    counter.outcomes["slowest s"] = round(slowest, 2)
    # a server that is gone altogether: connection refused, no wait for a timeout
    with record(f"LLM endpoint faults -> {'stream' if stream else 'ask'}") as counter:
        gone = LLMSettings(base_url="http://127.0.0.1:9/v1", api_key="sk-test", timeout=TIMEOUT)
        b = Assistant(
            Settings(home=assistant.settings.home, llm=gone), embedder=assistant.embedder, show_progress=False
        )
        counter.faults += 1
        answer, _, took = _ask(b, stream)
        assert took < bound and answer.mode == "extractive" and "could not be reached" in answer.notice
        outcome(counter, "extractive fallback")
