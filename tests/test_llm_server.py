"""Tests for tests/support/llm_server.py, driven through the real ``openai`` client.

They also pin down how the openai 3.x client reacts to odd server behaviour
(malformed JSON, non-JSON content types, retries, timeouts).
"""

from __future__ import annotations

import json
import math
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.support.llm_server import Reply, ScriptedLLM

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What is RAG?"}]


@pytest.fixture
def server() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as llm:
        yield llm


def make_client(server: ScriptedLLM, *, max_retries: int = 0, timeout: float = 5.0) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=server.base_url,
        api_key="test-key",
        max_retries=max_retries,
        timeout=timeout,
    )


@pytest.fixture
def client(server: ScriptedLLM) -> Iterator[openai.OpenAI]:
    with make_client(server) as c:
        yield c


def ask(client: openai.OpenAI, model: str = "gpt-test") -> str | None:
    completion = client.chat.completions.create(model=model, messages=MESSAGES)
    return completion.choices[0].message.content


# -- chat completions ------------------------------------------------------------------------


def test_plain_completion_returns_text(server: ScriptedLLM, client: openai.OpenAI) -> None:
    server.script(Reply(text="Retrieval-augmented generation."))
    completion = client.chat.completions.create(model="gpt-test", messages=MESSAGES)

    assert completion.choices[0].message.content == "Retrieval-augmented generation."
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-test"  # echoed from the request
    assert completion.usage is not None
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert completion.usage.completion_tokens > 0

    [request] = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["json"]["messages"] == MESSAGES
    assert request["json"]["model"] == "gpt-test"


def test_replies_are_consumed_in_order_then_default(server: ScriptedLLM, client: openai.OpenAI) -> None:
    # A plain str is shorthand for Reply(text=...).
    server.script(Reply(text="one"), "two")
    server.default = Reply(text="fallback")
    assert [ask(client) for _ in range(4)] == ["one", "two", "fallback", "fallback"]
    assert server.pending == 0


def test_empty_queue_without_default_is_500_and_not_retried(
    server: ScriptedLLM,
) -> None:
    # The server adds `x-should-retry: false`, so even a retrying client fails at once.
    with (
        make_client(server, max_retries=2) as client,
        pytest.raises(openai.InternalServerError) as info,
    ):
        ask(client)
    assert "no scripted reply left" in info.value.message
    assert len(server.requests) == 1


def test_streaming_yields_pieces_that_join_to_text(server: ScriptedLLM, client: openai.OpenAI) -> None:
    text = "检索增强生成（RAG）把检索和生成结合起来。 Works with ASCII too!"
    server.script(Reply(text=text))
    chunks = list(client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True))

    assert server.requests[0]["json"]["stream"] is True
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == text
    assert len(pieces) == math.ceil(len(text) / 4)
    assert all(len(piece) <= 4 for piece in pieces)
    assert {c.model for c in chunks} == {"gpt-test"}


def test_streaming_with_include_usage_sends_a_usage_chunk(server: ScriptedLLM, client: openai.OpenAI) -> None:
    server.script(Reply(text="hello there"))
    chunks = list(
        client.chat.completions.create(
            model="gpt-test",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_error_status_on_a_stream_request_raises_at_create(
    server: ScriptedLLM, client: openai.OpenAI
) -> None:
    server.script(Reply(status=429))
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)


# -- errors and retries ----------------------------------------------------------------------


def test_429_raises_rate_limit_error(server: ScriptedLLM, client: openai.OpenAI) -> None:
    server.script(Reply(status=429, error_message="slow down", headers={"retry-after": "7"}))
    with pytest.raises(openai.RateLimitError) as info:
        ask(client)
    error = info.value
    assert error.status_code == 429
    assert error.message == "Error code: 429 - slow down"
    assert error.body == {
        "message": "slow down",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert error.response.headers["retry-after"] == "7"


def test_500_raises_internal_server_error(server: ScriptedLLM, client: openai.OpenAI) -> None:
    server.script(Reply(status=500))
    with pytest.raises(openai.InternalServerError) as info:
        ask(client)
    assert info.value.status_code == 500
    assert isinstance(info.value.body, dict)
    assert info.value.body["type"] == "server_error"


def test_401_raises_authentication_error(server: ScriptedLLM, client: openai.OpenAI) -> None:
    server.script(Reply(status=401))
    with pytest.raises(openai.AuthenticationError) as info:
        ask(client)
    assert info.value.code == "invalid_api_key"


def test_authorization_header_is_received(server: ScriptedLLM, client: openai.OpenAI) -> None:
    server.script(Reply(text="ok"))
    ask(client)
    headers = server.requests[0]["headers"]
    assert headers["authorization"] == "Bearer test-key"
    assert headers["content-type"] == "application/json"


def test_client_retries_500s_then_succeeds(server: ScriptedLLM) -> None:
    # Default backoff is 0.5 s then 1 s (minus up to 25 % jitter): ~1.1-1.5 s in total.
    server.script(Reply(status=500), Reply(status=500), Reply(text="ok"))
    with make_client(server, max_retries=2) as client:
        assert ask(client) == "ok"
    assert len(server.requests) == 3
    assert [r["headers"]["x-stainless-retry-count"] for r in server.requests] == [
        "0",
        "1",
        "2",
    ]


def test_retry_after_ms_header_shortens_the_backoff(server: ScriptedLLM) -> None:
    fast_500 = Reply(status=500, headers={"retry-after-ms": "10"})
    server.script(fast_500, fast_500, Reply(text="ok"))
    started = time.monotonic()
    with make_client(server, max_retries=2) as client:
        assert ask(client) == "ok"
    assert time.monotonic() - started < 0.5
    assert len(server.requests) == 3


def test_4xx_other_than_408_409_429_is_not_retried(server: ScriptedLLM) -> None:
    server.script(Reply(status=400), Reply(text="never sent"))
    with (
        make_client(server, max_retries=2) as client,
        pytest.raises(openai.BadRequestError),
    ):
        ask(client)
    assert len(server.requests) == 1


def test_delay_past_client_timeout_raises_timeout_quickly() -> None:
    llm = ScriptedLLM().start()
    try:
        llm.script(Reply(text="too late", delay=30.0))
        started = time.monotonic()
        with (
            make_client(llm, timeout=0.3) as client,
            pytest.raises(openai.APITimeoutError),
        ):
            ask(client)
        assert time.monotonic() - started < 2.0
    finally:
        stop_started = time.monotonic()
        llm.stop()  # must interrupt the 30 s delay still running in the handler thread
    assert time.monotonic() - stop_started < 1.0
    assert llm.errors == []


def test_stop_interrupts_a_slow_stream() -> None:
    llm = ScriptedLLM().start()
    llm.script(Reply(text="abcdefghijklmnop", chunk_delay=30.0))
    with make_client(llm) as client:
        stream = client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
        first = next(iter(stream))
        assert first.choices[0].delta.role == "assistant"
        started = time.monotonic()
        llm.stop()
        assert time.monotonic() - started < 1.0
        with pytest.raises(openai.APIConnectionError):
            list(stream)


# -- malformed responses: what the openai client really does ---------------------------------


def test_malformed_json_with_status_200_raises_plain_json_decode_error(
    server: ScriptedLLM,
) -> None:
    # Not an openai.OpenAIError: the client calls response.json() unguarded, and the error
    # is not retried either.
    server.script(Reply(raw=b'{"id": "chatcmpl-1", "choices": ['), Reply(text="never sent"))
    with (
        make_client(server, max_retries=2) as client,
        pytest.raises(json.JSONDecodeError) as info,
    ):
        ask(client)
    assert not isinstance(info.value, openai.OpenAIError)
    assert len(server.requests) == 1


def test_malformed_sse_chunk_raises_json_decode_error(server: ScriptedLLM, client: openai.OpenAI) -> None:
    server.script(Reply(raw=b"data: {not json\n\n"))
    stream = client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    with pytest.raises(json.JSONDecodeError):
        list(stream)


def test_non_json_content_type_returns_a_str_instead_of_a_completion(
    server: ScriptedLLM, client: openai.OpenAI
) -> None:
    # Without _strict_response_validation the client silently returns response.text.
    server.script(Reply(raw=b"<html>bad gateway</html>", headers={"content-type": "text/html"}))
    result: object = client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert result == "<html>bad gateway</html>"


def test_json_of_the_wrong_shape_is_accepted_without_choices(
    server: ScriptedLLM, client: openai.OpenAI
) -> None:
    server.script(Reply(raw=b'{"unexpected": true}'))
    completion = client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert completion.choices is None


# -- embeddings, models, routing -------------------------------------------------------------


def test_embeddings_have_the_configured_dimension(server: ScriptedLLM, client: openai.OpenAI) -> None:
    texts = ["first chunk", "第二段", "first chunk"]
    # The client asks for encoding_format="base64" by default and decodes it as float32.
    result = client.embeddings.create(model="text-embedding-test", input=texts)
    assert server.requests[-1]["json"]["encoding_format"] == "base64"
    vectors = [item.embedding for item in result.data]
    assert [item.index for item in result.data] == [0, 1, 2]
    assert all(len(v) == 8 for v in vectors)
    assert all(math.isclose(math.fsum(x * x for x in v), 1.0, rel_tol=1e-5) for v in vectors)
    assert vectors[0] == vectors[2]
    assert vectors[0] != vectors[1]
    assert vectors[0] == pytest.approx(server.embed("first chunk"), abs=1e-6)
    assert result.usage.prompt_tokens > 0

    floats = client.embeddings.create(
        model="text-embedding-test", input="first chunk", encoding_format="float"
    )
    assert floats.data[0].embedding == server.embed("first chunk")

    server.embedding_dim = 16
    single = client.embeddings.create(model="text-embedding-test", input="x")
    assert len(single.data[0].embedding) == 16
    sized = client.embeddings.create(model="text-embedding-test", input="x", dimensions=3)
    assert len(sized.data[0].embedding) == 3


def test_embeddings_can_be_scripted_to_fail(server: ScriptedLLM, client: openai.OpenAI) -> None:
    server.script_embeddings(Reply(status=429))
    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(model="text-embedding-test", input="x")
    assert len(client.embeddings.create(model="text-embedding-test", input="x").data) == 1


def test_models_list(server: ScriptedLLM, client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["scripted"]
    assert server.requests[0]["method"] == "GET"


def test_unknown_path_is_a_404_json_error(server: ScriptedLLM) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.base_url + "/nope", timeout=5)
    assert info.value.code == 404
    body = json.loads(info.value.read())
    info.value.close()
    assert body["error"]["type"] == "invalid_request_error"
    assert server.requests[0]["path"] == "/v1/nope"
    assert server.requests[0]["json"] is None


def test_concurrent_requests_are_served_in_parallel(server: ScriptedLLM, client: openai.OpenAI) -> None:
    answers = [f"answer {i}" for i in range(6)]
    server.script(*(Reply(text=a, delay=0.4) for a in answers))
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: ask(client), range(6)))
    assert time.monotonic() - started < 1.5  # serially this would take 2.4 s
    assert sorted(r or "" for r in results) == answers
    assert len(server.requests) == 6


def test_base_url_and_restart() -> None:
    llm = ScriptedLLM()
    with pytest.raises(RuntimeError):
        _ = llm.base_url
    with llm:
        assert llm.base_url.startswith("http://127.0.0.1:")
        assert llm.base_url.endswith("/v1")
    assert not any(t.name.startswith("ScriptedLLM:") and t.is_alive() for t in threading.enumerate())
