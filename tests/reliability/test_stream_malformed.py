"""A malformed streamed reply is said to be malformed, in the words used for a malformed whole reply,
not taken for an empty answer: the extractive answer follows, and the API key is never shown.

Each body below is sent by the scripted endpoint (tests/support/llm_server.py) as is, to a streamed
request (as an event stream, whatever it holds) and to a whole one.
"""

from __future__ import annotations

import json
import logging

import pytest

from rag import Answer, Assistant, Settings
from rag.answer.prompts import fit_passages
from rag.config import LLMSettings
from tests.support.llm_server import Reply, ScriptedLLM
from tests.support.replies import answer_of

pytestmark = pytest.mark.reliability
KEY = "sk-test-MALFORMED42"
COMPUTE = "软银和英伟达在日本建设的AI工厂有多少算力？"
MALFORMED = "sent a reply that is not valid JSON."
QUOTED = "This answer quotes the passages instead."
BODIES: dict[str, Reply] = {
    "an event that is not JSON": Reply(raw=b"data: {not json}\n\ndata: [DONE]\n\n"),
    "an event that is not JSON, echoing the key": Reply(raw=f'data: {{"key": "{KEY}", oops}}\n\n'.encode()),
    "events that are JSON but not chunks": Reply(raw=b'data: {"unexpected": true}\n\ndata: [DONE]\n\n'),
    "an event that is a JSON string": Reply(raw=b'data: "just a string"\n\n'),
    "cut-off JSON, no events": Reply(raw=b'{"id": "chatcmpl-1", "choices": ['),
    "JSON without choices, no events": Reply(raw=b'{"unexpected": true}'),
    "an HTML error page": Reply(raw=b"<html>bad gateway</html>", headers={"content-type": "text/html"}),
}


@pytest.fixture(scope="module")
def asker(assistant: Assistant, server: ScriptedLLM) -> Assistant:
    """The session's bundled index, answering through the scripted endpoint (no retries)."""
    llm = LLMSettings(base_url=server.base_url, api_key=KEY, timeout=5.0, max_retries=0)
    return Assistant(
        Settings(home=assistant.settings.home, llm=llm), embedder=assistant.embedder, show_progress=False
    )


def _answer(asker: Assistant, server: ScriptedLLM, reply: Reply, stream: bool) -> tuple[Answer, list[str]]:
    server.clear()
    server.script(reply)
    answer, pieces = answer_of(asker, COMPUTE, stream)
    assert server.requests[-1]["json"]["stream"] is stream
    return answer, pieces


@pytest.mark.parametrize("body", list(BODIES))
def test_a_malformed_stream_is_said_as_a_malformed_reply_and_quoted_instead(
    asker: Assistant, server: ScriptedLLM, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    caplog.set_level(logging.DEBUG)
    whole, _ = _answer(asker, server, BODIES[body], stream=False)
    streamed, pieces = _answer(asker, server, BODIES[body], stream=True)
    assert streamed.mode == "extractive" and "25艾字节" in streamed.text, streamed
    assert asker.llm is not None
    assert streamed.notice == f"The LLM endpoint {asker.llm.client.endpoint} {MALFORMED} {QUOTED}"
    assert streamed.notice == whole.notice and streamed.text == whole.text
    assert pieces == [streamed.text]  # nothing of the malformed reply was shown
    for answer in (whole, streamed):
        assert KEY not in json.dumps(answer.to_dict(), ensure_ascii=False)
    assert KEY not in caplog.text


def test_a_whole_reply_to_a_streamed_request_is_read_as_one(asker: Assistant, server: ScriptedLLM) -> None:
    """An endpoint that ignores `stream` and answers with a whole chat completion is still heard."""
    assert asker.llm is not None
    shown = fit_passages(
        asker.retrieve(COMPUTE, k=asker.llm.settings.top_k), asker.llm.settings.context_tokens
    )
    n = next(i for i, p in enumerate(shown, start=1) if "25艾字节" in p.text)  # its [n] in the prompt
    text = f"软银和英伟达在日本建设的AI工厂将拥有25艾字节的AI算力[{n}]。"
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "scripted",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }
    streamed, _ = _answer(asker, server, Reply(raw=json.dumps(completion).encode()), stream=True)
    assert streamed.mode == "llm" and "25艾字节" in streamed.text and not streamed.notice
    assert streamed.citations and streamed.citations[0].verified


def test_an_event_stream_without_events_is_still_an_empty_answer(
    asker: Assistant, server: ScriptedLLM
) -> None:
    streamed, _ = _answer(asker, server, Reply(raw=b": keep-alive\n\ndata: [DONE]\n\n"), stream=True)
    assert streamed.mode == "extractive" and "returned an empty answer" in streamed.notice
