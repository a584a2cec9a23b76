"""A scripted, OpenAI-compatible HTTP server for tests (standard library only).

Usage::

    with ScriptedLLM() as server:
        server.script(Reply(text="Hello"), Reply(status=429))
        client = openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)
        ...
        assert server.requests[0]["headers"]["authorization"] == "Bearer test-key"

Endpoints (all under ``/v1``):

* ``POST /v1/chat/completions`` -- consumes one scripted :class:`Reply` per request
  (falls back to ``default``); answers as a ``chat.completion`` JSON object or, when
  the request has ``"stream": true``, as OpenAI-style server-sent events.
* ``POST /v1/embeddings`` -- deterministic, normalised, hash-derived vectors.  Honours
  ``encoding_format`` ("float" or "base64"; the openai client asks for base64 by default)
  and ``dimensions``.  Scripted failures can be queued with :meth:`ScriptedLLM.script_embeddings`.
* ``GET /v1/models`` and ``GET /v1/models/scripted``.
* anything else -- 404 (or 405 for a wrong method) with an OpenAI-style error JSON.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

__all__ = ["Reply", "ScriptedLLM"]

MODEL_ID = "scripted"

# status -> (error type, error code, default message), modelled on real OpenAI errors.
_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("permission_error", None, "You are not allowed to access this resource."),
    404: (
        "invalid_request_error",
        "not_found",
        "The requested resource does not exist.",
    ),
    405: ("invalid_request_error", None, "Method not allowed."),
    409: ("invalid_request_error", "conflict", "Conflict."),
    422: ("invalid_request_error", None, "Unprocessable entity."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached. Please try again later.",
    ),
}
_SERVER_ERROR = (
    "server_error",
    None,
    "The server had an error while processing your request. Sorry about that!",
)


@dataclass
class Reply:
    """One scripted answer.

    * ``text`` -- assistant content (chat) -- ignored when ``status >= 400`` or ``raw`` is set.
    * ``status`` -- HTTP status.  For ``status >= 400`` the body is an OpenAI error JSON
      ``{"error": {"message", "type", "param", "code"}}``.
    * ``delay`` -- seconds to wait before sending anything (ends early, without answering,
      when the server stops).
    * ``raw`` -- bytes sent verbatim as the body with ``status``; content type is
      ``application/json`` (``text/event-stream`` for streaming requests) unless
      ``headers`` says otherwise.
    * ``chunk_delay`` -- seconds between streamed chunks.
    * ``error_message`` -- message of the error JSON; empty means a status-specific default.
    * ``headers`` -- extra response headers (override defaults), e.g. ``{"retry-after": "1"}``.
    * ``finish_reason`` / ``error_type`` / ``error_code`` -- optional overrides.
    * ``keepalive`` -- (streaming) this many SSE comment lines (``: keep-alive``), ``chunk_delay``
      apart, before the first event: bytes that keep a read timeout from firing.
    """

    text: str = ""
    status: int = 200
    delay: float = 0.0
    raw: bytes | None = None
    chunk_delay: float = 0.0
    error_message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    finish_reason: str = "stop"
    error_type: str | None = None
    error_code: str | None = None
    keepalive: int = 0


class _Abort(Exception):
    """Raised inside a handler to drop the connection without answering (server stopping)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Never join handler threads in server_close(): ScriptedLLM.stop() unblocks and joins
    # them itself, with a bounded timeout.
    block_on_close = False

    def __init__(self, llm: ScriptedLLM) -> None:
        self.llm = llm
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default implementation prints a traceback to stderr.
        return


def _estimate_tokens(value: object) -> int:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return max(1, math.ceil(len(text) / 4))


class ScriptedLLM:
    """An OpenAI-compatible chat server on 127.0.0.1 that plays scripted replies."""

    embedding_dim: int = 8
    stream_piece_chars: int = 4
    join_timeout: float = 2.0

    def __init__(self) -> None:
        self.default: Reply | None = None
        self.requests: list[dict[str, Any]] = []
        # Unexpected exceptions raised by the server's own code (should stay empty).
        self.errors: list[BaseException] = []
        self.embedding_dim = type(self).embedding_dim
        self._queue: deque[Reply] = deque()
        self._embedding_queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: dict[threading.Thread, socket.socket] = {}
        self._counter = 0
        self._base_url: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(self)
        port = server.server_address[1]
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"ScriptedLLM:{port}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        self._base_url = f"http://127.0.0.1:{port}/v1"
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in `delay` / `chunk_delay`
        server.shutdown()
        with self._lock:
            connections = dict(self._connections)
        # Unblock keep-alive handlers waiting for the next request.
        for conn in connections.values():
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        deadline = time.monotonic() + self.join_timeout
        for t in [*connections, *([thread] if thread else [])]:
            t.join(max(0.0, deadline - time.monotonic()))
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (available once started)."""
        if self._base_url is None:
            raise RuntimeError("ScriptedLLM is not started; call start() or use it as a context manager")
        return self._base_url

    # -- scripting -----------------------------------------------------------------------------

    def script(self, *replies: Reply | str) -> None:
        """Queue chat replies, consumed in order, one per chat request (a str means Reply(text=...))."""
        with self._lock:
            self._queue.extend(Reply(text=r) if isinstance(r, str) else r for r in replies)

    def script_embeddings(self, *replies: Reply) -> None:
        """Queue replies for /v1/embeddings (status/delay/raw/headers/error_* are used; a 2xx
        reply without ``raw`` produces the normal embeddings).  Empty queue: normal embeddings."""
        with self._lock:
            self._embedding_queue.extend(replies)

    @property
    def pending(self) -> int:
        """Number of scripted chat replies not consumed yet."""
        with self._lock:
            return len(self._queue)

    def clear(self) -> None:
        """Forget queued replies and recorded requests."""
        with self._lock:
            self._queue.clear()
            self._embedding_queue.clear()
            self.requests.clear()
            self.errors.clear()

    def embed(self, text: str, dim: int | None = None) -> list[float]:
        """The deterministic unit vector the server returns for ``text``."""
        return _embedding(text, dim or self.embedding_dim)

    # -- used by the handler -------------------------------------------------------------------

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    def _next_chat_reply(self) -> Reply | None:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def _next_embedding_reply(self) -> Reply | None:
        with self._lock:
            return self._embedding_queue.popleft() if self._embedding_queue else None

    def _next_id(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _register(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections[threading.current_thread()] = conn

    def _unregister(self) -> None:
        with self._lock:
            self._connections.pop(threading.current_thread(), None)

    def _sleep(self, seconds: float) -> None:
        """Sleep, but raise _Abort as soon as the server is stopping."""
        if seconds > 0 and self._stopping.wait(seconds):
            raise _Abort
        if self._stopping.is_set():
            raise _Abort


def _embedding(text: str, dim: int) -> list[float]:
    values: list[float] = []
    block = 0
    while len(values) < dim:
        digest = hashlib.sha256(f"{block}\x00{text}".encode()).digest()
        for (n,) in struct.iter_unpack("<I", digest):
            values.append(n / 0xFFFFFFFF * 2.0 - 1.0)
        block += 1
    values = values[:dim]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def _error_body(status: int, message: str = "", type_: str | None = None, code: str | None = None) -> bytes:
    default_type, default_code, default_message = _ERRORS.get(
        status,
        _SERVER_ERROR if status >= 500 else ("invalid_request_error", None, f"HTTP {status}"),
    )
    error = {
        "message": message or default_message,
        "type": type_ or default_type,
        "param": None,
        "code": code if code is not None else default_code,
    }
    return json.dumps({"error": error}).encode()


def _sse(obj: object) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def _to_inputs(value: object) -> list[str] | None:
    """Normalise the embeddings ``input`` field (str, [str], [int] or [[int]]) to strings."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return [str(v) for v in value]
        if all(isinstance(v, int) for v in value):
            return [json.dumps(value)]
        if all(isinstance(v, list) and v and all(isinstance(t, int) for t in v) for v in value):
            return [json.dumps(v) for v in value]
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ScriptedLLM/1.0"
    sys_version = ""

    _headers_sent = False

    @property
    def llm(self) -> ScriptedLLM:
        server = self.server
        assert isinstance(server, _Server)
        return server.llm

    def setup(self) -> None:
        super().setup()
        self.llm._register(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.llm._unregister()

    def log_message(self, *args: Any) -> None:
        return  # silence the default logging to stderr

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # -- plumbing ------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _start(self, status: int, content_type: str, extra: dict[str, str], length: int | None) -> None:
        headers = {
            "content-type": content_type,
            "x-request-id": f"req_scripted_{self.llm._next_id()}",
            "openai-processing-ms": "1",
        }
        headers.update({k.lower(): v for k, v in extra.items()})
        if length is None:
            headers["transfer-encoding"] = "chunked"
            headers.pop("content-length", None)
        else:
            headers["content-length"] = str(length)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self._headers_sent = True

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        extra: dict[str, str] | None = None,
    ) -> None:
        self._start(status, content_type, extra or {}, len(body))
        self.wfile.write(body)
        self.wfile.flush()

    def _send_json(self, status: int, obj: object, extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False).encode(), extra=extra)

    def _send_error_reply(self, reply: Reply) -> None:
        body = _error_body(reply.status, reply.error_message, reply.error_type, reply.error_code)
        self._send(reply.status, body, extra=reply.headers)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _dispatch(self) -> None:
        llm = self.llm
        try:
            raw_body = self._read_body()
            try:
                parsed: Any = json.loads(raw_body) if raw_body else None
            except ValueError:
                parsed = None
            llm._record(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "json": parsed,
                }
            )
            path = urlsplit(self.path).path.rstrip("/")
            routes = {
                "/v1/chat/completions": ("POST", self._chat),
                "/v1/embeddings": ("POST", self._embeddings),
                "/v1/models": ("GET", self._models),
                f"/v1/models/{MODEL_ID}": ("GET", self._model),
            }
            route = routes.get(path)
            if route is None:
                self._send(404, _error_body(404, f"Unknown path: {self.command} {self.path}"))
            elif route[0] != self.command:
                self._send(
                    405,
                    _error_body(405, f"Method {self.command} not allowed on {path}"),
                )
            else:
                route[1](parsed if isinstance(parsed, dict) else {})
        except _Abort:
            self.close_connection = True
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # client went away
        except Exception as exc:
            llm.errors.append(exc)
            self.close_connection = True
            if not self._headers_sent:
                try:
                    self._send(500, _error_body(500, f"ScriptedLLM internal error: {exc!r}"))
                except OSError:
                    pass

    # -- endpoints -----------------------------------------------------------------------------

    def _models(self, _: dict[str, Any]) -> None:
        self._send_json(200, {"object": "list", "data": [self._model_obj()]})

    def _model(self, _: dict[str, Any]) -> None:
        self._send_json(200, self._model_obj())

    @staticmethod
    def _model_obj() -> dict[str, Any]:
        return {
            "id": MODEL_ID,
            "object": "model",
            "created": 0,
            "owned_by": "scripted-llm",
        }

    def _chat(self, body: dict[str, Any]) -> None:
        llm = self.llm
        reply = llm._next_chat_reply()
        stream = body.get("stream") is True
        if reply is None:
            message = "ScriptedLLM: no scripted reply left (queue empty and default is None)"
            # x-should-retry: false so that clients surface this immediately instead of retrying.
            self._send(500, _error_body(500, message), extra={"x-should-retry": "false"})
            return
        llm._sleep(reply.delay)
        if reply.raw is not None:
            content_type = "text/event-stream" if stream else "application/json"
            self._send(reply.status, reply.raw, content_type, reply.headers)
        elif reply.status >= 400:
            self._send_error_reply(reply)
        elif stream:
            self._stream(body, reply)
        else:
            self._complete(body, reply)

    def _usage(self, body: dict[str, Any], text: str) -> dict[str, int]:
        prompt = _estimate_tokens(body.get("messages", ""))
        completion = _estimate_tokens(text) if text else 0
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _complete(self, body: dict[str, Any], reply: Reply) -> None:
        obj = {
            "id": f"chatcmpl-scripted-{self.llm._next_id()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model") or MODEL_ID),
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": reply.text,
                        "refusal": None,
                    },
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": self._usage(body, reply.text),
            "system_fingerprint": None,
        }
        self._send_json(reply.status, obj, reply.headers)

    def _stream(self, body: dict[str, Any], reply: Reply) -> None:
        llm = self.llm
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        base = {
            "id": f"chatcmpl-scripted-{llm._next_id()}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": str(body.get("model") or MODEL_ID),
            "system_fingerprint": None,
        }

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            obj: dict[str, Any] = {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": delta,
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
            }
            if include_usage:
                obj["usage"] = None
            return obj

        text, size = reply.text, max(1, llm.stream_piece_chars)
        # Splitting a str (not bytes) by code points keeps multi-byte characters intact.
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        events = [chunk({"role": "assistant", "content": "", "refusal": None})]
        events += [chunk({"content": piece}) for piece in pieces]
        events.append(chunk({}, reply.finish_reason))
        if include_usage:
            events.append({**base, "choices": [], "usage": self._usage(body, text)})

        extra = {"cache-control": "no-cache", **reply.headers}
        self._start(reply.status, "text/event-stream; charset=utf-8", extra, None)
        for _ in range(reply.keepalive):
            llm._sleep(reply.chunk_delay)
            self._write_chunk(b": keep-alive\n\n")
        for i, event in enumerate(events):
            if i:
                llm._sleep(reply.chunk_delay)
            self._write_chunk(_sse(event))
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")  # terminating zero-length chunk

    def _embeddings(self, body: dict[str, Any]) -> None:
        llm = self.llm
        reply = llm._next_embedding_reply()
        if reply is not None:
            llm._sleep(reply.delay)
            if reply.raw is not None:
                self._send(reply.status, reply.raw, extra=reply.headers)
                return
            if reply.status >= 400:
                self._send_error_reply(reply)
                return
        inputs = _to_inputs(body.get("input"))
        if inputs is None:
            message = "'input' must be a non-empty string, list of strings or list of token lists"
            self._send(400, _error_body(400, message))
            return
        dims = body.get("dimensions")
        dim = dims if isinstance(dims, int) and not isinstance(dims, bool) and dims > 0 else llm.embedding_dim
        as_base64 = body.get("encoding_format") == "base64"
        data: list[dict[str, Any]] = []
        for index, text in enumerate(inputs):
            vector = _embedding(text, dim)
            embedding: list[float] | str = (
                base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode() if as_base64 else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(_estimate_tokens(t) for t in inputs)
        obj = {
            "object": "list",
            "data": data,
            "model": str(body.get("model") or MODEL_ID),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        self._send_json(
            reply.status if reply is not None else 200,
            obj,
            reply.headers if reply else None,
        )
