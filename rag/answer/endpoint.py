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
            choices = getattr(result, "choices", None)
            if isinstance(result, str) or not choices:
                raise json.JSONDecodeError("not a chat completion", str(result)[:100], 0)
            choice = choices[0]
            content = choice.message.content if choice.message is not None else None
        except (openai.OpenAIError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise self.error(exc) from None
        if finish is not None:
            finish.reason = str(getattr(choice, "finish_reason", "") or "")
        yield content or ""

    def stream(
        self, messages: list[dict[str, str]], finish: Finish | None = None, opened: list[Any] | None = None
    ) -> Iterator[str]:
        """The reply in pieces as they arrive (`opened` receives the response, so that another thread
        can close it)."""
        import openai

        try:
            # closed on exit, also when the consumer stops reading early
            with self.client().chat.completions.create(**self._request(messages, stream=True)) as events:
                if opened is not None:
                    opened.append(events)
                for chunk in events:
                    for choice in getattr(chunk, "choices", None) or []:
                        if finish is not None and choice.finish_reason:
                            finish.reason = str(choice.finish_reason)
                        content = choice.delta.content if choice.delta is not None else None
                        if content:
                            yield content
        except (openai.OpenAIError, ValueError, TypeError, AttributeError) as exc:
            raise self.error(exc) from None
