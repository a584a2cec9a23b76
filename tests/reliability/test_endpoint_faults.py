"""A failing LLM endpoint never leaves a question unanswered: 429, 500, a hang, garbage and a dropped
server each end, within a bounded time, in the extractive answer with a notice saying why."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from rag import Answer, Assistant, Settings
from rag.config import LLMSettings
from tests.support.llm_server import Reply, ScriptedLLM
from tests.support.replies import answer_of

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


# -- the whole answer's deadline and the reply's size ------------------------------------------------

SLOW_TIMEOUT = 1.0  # per read: every fault below sends bytes more often than this
ENDLESS = "日本的AI工厂将拥有25艾字节算力" * 3_000  # no sentence end, 100 times max_tokens


@pytest.mark.parametrize("stream", [False, True], ids=["ask", "stream"])
def test_a_trickling_or_endless_reply_ends_in_a_quoted_answer_within_the_deadline(
    assistant: Assistant,
    server: ScriptedLLM,
    stream: bool,
    record: Callable[..., Any],
    outcome: Callable[..., None],
) -> None:
    llm = LLMSettings(
        base_url=server.base_url, api_key="sk-test", timeout=SLOW_TIMEOUT, max_retries=0, max_tokens=64
    )
    assert llm.deadline < 5 and llm.reply_limit == 64 * 8
    a = Assistant(
        Settings(home=assistant.settings.home, llm=llm), embedder=assistant.embedder, show_progress=False
    )
    faults: list[tuple[str, Reply, str]] = [
        ("endless reply ignoring max_tokens", Reply(text=ENDLESS), "longer than 512 characters"),
    ]
    if stream:  # only a stream can trickle: keep-alive comments, or a piece every half second
        faults += [
            ("keep-alive comments forever", Reply(text="25艾字节[1]。", keepalive=10_000, chunk_delay=0.5),
             "did not finish its answer within"),
            ("a piece every half second", Reply(text="日本的AI工厂有25艾字节算力[1]。" * 10, chunk_delay=0.5),
             "did not finish its answer within"),
        ]  # fmt: skip
    for fault, reply, words in faults:
        with record(f"unbounded replies -> {'stream' if stream else 'ask'}") as counter:
            server.clear()
            server.script(reply)
            counter.faults += 1
            answer, pieces, took = _ask(a, stream)
            assert took < llm.deadline + 5, (fault, took)
            assert answer.mode == "extractive" and "25艾字节" in answer.text, (fault, answer)
            assert words in answer.notice and answer.notice.endswith("quotes the passages instead."), (
                answer.notice
            )
            assert sum(map(len, pieces)) <= len(answer.text) + llm.reply_limit, fault
            counter.outcomes["slowest s"] = max(float(counter.outcomes.get("slowest s", 0.0)), round(took, 2))
            outcome(counter, "extractive fallback")
