"""An OpenAI-compatible chat endpoint: requests with timeouts and retries, replies read as a stream,
and its failures as EndpointErrors in plain words with the configured keys redacted."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rag.config import LLMSettings
from rag.errors import LLMError
from rag.text.secrets import Redactor, configured_secrets, guard_logs

if TYPE_CHECKING:
    import openai


log = logging.getLogger("rag")


class EndpointError(LLMError):
    """The endpoint could not give an answer; the message is meant for the person asking."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Finish:
    reason: str = ""


class LLMClient:
    """Chat completions through the openai client, which alone retries (max_retries) and times out."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self._client: openai.OpenAI | None = None
        self._lock = threading.Lock()
        self.secrets: Redactor = configured_secrets(settings.api_key)
        guard_logs(self.secrets, ("rag", "openai", "openai._base_client", "httpx", "httpcore"))

    @property
    def endpoint(self) -> str:
        """Where requests go, without credentials."""
        if not self.settings.base_url:
            return "api.openai.com"
        parts = urlsplit(self.settings.base_url)
        return (parts.hostname or "") + (f":{parts.port}" if parts.port else "") or "the configured URL"

    def redact(self, text: str) -> str:
        """The text with every configured key hidden, in whatever form it is echoed."""
        return self.secrets.redact(text)

    def client(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                import openai

                s = self.settings
                self._client = openai.OpenAI(
                    api_key=s.api_key or "unused",
                    base_url=s.base_url,
                    timeout=s.timeout,
                    max_retries=s.max_retries,
                )
            return self._client

    def _request(self, messages: list[dict[str, str]], stream: bool) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.settings.model,
            "messages": messages,
            "stream": stream,
            "max_tokens": self.settings.max_tokens,
        }
        if self.settings.temperature is not None:
            params["temperature"] = self.settings.temperature
        return params

    def error(self, exc: BaseException) -> EndpointError:
        """A plain-words EndpointError for what the openai client raised (never the key)."""
        import openai

        s = self.settings
        tries = f"tried {s.max_retries + 1} time{'s' if s.max_retries else ''}"
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            why, kind = f"refused the API key (HTTP {exc.status_code}); check OPENAI_API_KEY", "auth"
        elif isinstance(exc, openai.APITimeoutError):
            why, kind = f"did not answer within {s.timeout:g} s ({tries})", "timeout"
        elif isinstance(exc, openai.APIConnectionError):
            why, kind = f"could not be reached ({tries})", "connection"
        elif isinstance(exc, openai.RateLimitError):
            why, kind = f"is rate-limiting requests (HTTP 429, {tries})", "rate"
        elif isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
            why, kind = f"failed with HTTP {exc.status_code} ({tries})", "server"
        elif isinstance(exc, openai.NotFoundError):
            why, kind = f"does not know the model {s.model!r} (HTTP 404)", "request"
        elif isinstance(exc, openai.APIStatusError):
            why, kind = f"rejected the request (HTTP {exc.status_code})", "request"
        elif isinstance(exc, (json.JSONDecodeError, openai.APIResponseValidationError)):
            why, kind = "sent a reply that is not valid JSON", "malformed"
        else:
            why, kind = f"failed ({type(exc).__name__})", "other"
        return EndpointError(self.redact(f"The LLM endpoint {self.endpoint} {why}."), kind)

    def complete(
        self, messages: list[dict[str, str]], finish: Finish | None = None, opened: list[Any] | None = None
    ) -> Iterator[str]:
        """The whole reply as one piece."""
        import openai

        try:
            result: Any = self.client().chat.completions.create(**self._request(messages, stream=False))
            content = _content(result, finish)
        except (openai.OpenAIError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise self.error(exc) from None
        yield content

    def stream(
        self, messages: list[dict[str, str]], finish: Finish | None = None, opened: list[Any] | None = None
    ) -> Iterator[str]:
        """The reply in pieces as they arrive (`opened` receives the response, so that another thread
        can close it).

        A reply is malformed, as a whole reply would be, when an event is not JSON, or when no event
        is a chat completion chunk and nothing was written. A reply with no events at all is not a
        stream: it is read as a whole reply (some endpoints answer so), and is malformed if it is not
        one.
        """
        import openai

        try:
            # closed on exit, also when the consumer stops reading early
            with self.client().chat.completions.create(**self._request(messages, stream=True)) as events:
                if opened is not None:
                    opened.append(events)
                opening = _Opening(events.response)
                chunks, other, written = 0, 0, False
                for chunk in events:
                    choices = getattr(chunk, "choices", None)
                    if isinstance(chunk, str) or not isinstance(choices, list):
                        other += 1  # JSON, but not a chat completion chunk
                        continue
                    chunks += 1
                    opening.forget()
                    for choice in choices:
                        if finish is not None and choice.finish_reason:
                            finish.reason = str(choice.finish_reason)
                        content = choice.delta.content if choice.delta is not None else None
                        if content:
                            written = True
                            yield content
                if not chunks and not other and opening.whole():
                    if reply := _content(_parsed(opening.data), finish):
                        yield reply
                elif other and not written:
                    raise json.JSONDecodeError("not a chat completion chunk", "", 0)
        except (openai.OpenAIError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise self.error(exc) from None


def _content(result: Any, finish: Finish | None) -> str:
    """The text of a whole reply (a chat completion as the openai client gives it); a reply that is
    not one raises JSONDecodeError, one of the wrong shape AttributeError or IndexError."""
    choices = getattr(result, "choices", None)
    if isinstance(result, str) or not choices:
        raise json.JSONDecodeError("not a chat completion", str(result)[:100], 0)
    choice = choices[0]
    content = choice.message.content if choice.message is not None else None
    if finish is not None:
        finish.reason = str(getattr(choice, "finish_reason", "") or "")
    return str(content or "")


def _parsed(data: bytes) -> Any:
    """A whole reply's bytes as the openai client reads them: JSON, an object as a chat completion."""
    from openai.types.chat import ChatCompletion

    value = json.loads(data)
    return ChatCompletion.construct(**value) if isinstance(value, dict) else value


class _Opening:
    """What a streamed reply sent before its first chat completion chunk (at most LIMIT bytes), to
    read the reply whole when it turns out to hold no events."""

    LIMIT = 1 << 20

    def __init__(self, response: Any) -> None:
        self.data = b""
        self._kept: list[bytes] | None = []
        self._size = 0
        read = response.iter_bytes

        def iter_bytes(*args: Any, **kwargs: Any) -> Iterator[bytes]:
            for part in read(*args, **kwargs):
                if self._kept is not None and self._size < self.LIMIT:
                    self._kept.append(part[: self.LIMIT - self._size])
                    self._size += len(self._kept[-1])
                yield part

        response.iter_bytes = iter_bytes  # the stream reads the response's bytes through this

    def forget(self) -> None:
        """A chunk came: the reply is a stream, and its opening is not needed."""
        self._kept = None

    def whole(self) -> bool:
        """Did the reply send bytes, none of them a line of an event stream (an event's field, or a
        comment such as a keep-alive)? Then it is a whole reply, not a stream."""
        self.data = b"".join(self._kept or [])
        lines = (line.strip() for line in self.data.splitlines())
        return bool(self.data.strip()) and not any(line.startswith(_EVENT_LINES) for line in lines)


_EVENT_LINES = (b"data:", b"event:", b"id:", b"retry:", b":")
