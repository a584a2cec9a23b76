"""The LLM answerer: an OpenAI-compatible model writes the answer from numbered passages, then every
sentence is checked against the passages it cites (rag.answer.citations).

Weak retrieval evidence abstains before any request. Endpoint failures (timeouts, refused
connections, rate limits and 5xx after the client's own retries, malformed or empty replies, a refused
key) fall back to the extractive answer with a notice in plain words; the API key never appears in
notices or logs. Prompt files (prompts/answer_zh.txt, answer_en.txt, condense.txt) hold a system part
and a user part separated by a line `---`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rag.answer.citations import parse_markers, verify
from rag.answer.extractive import ExtractiveAnswerer, abstain_text
from rag.answer.guard import VerifiedStream
from rag.chunk import count_tokens
from rag.config import LLMSettings
from rag.errors import LLMError
from rag.formats import describe_span
from rag.schema import Answer, Passage
from rag.tokens import is_chinese

if TYPE_CHECKING:
    import openai

log = logging.getLogger("rag")

_NOT_FOUND = re.compile(
    r"(资料|文档|段落|文章|材料|来源|上下文|内容)[中里内]?(并|均|都)?(没有|没|未|不|无)(有)?"
    r"(找到|包含|提及|提到|涉及|给出|说明|回答|记载|相关)"
    r"|没有找到.{0,8}(答案|信息)|无法(根据|从|基于).{0,12}(回答|得出|确定|找到)"
    r"|\b(do|does|did)\s*(not|n't)\s+(answer|contain|mention|say|provide|include|specify|state|cover)\b"
    r"|\bnot\s+(mentioned|stated|provided|found|covered|given|answered)\b|\bno (information|mention)\b"
    r"|\b(cannot|can't|can not|unable to)\b.{0,30}\b(answer|determine|find)\b",
    re.IGNORECASE,
)


def says_not_found(reply: str, passages: int) -> bool:
    """The reply says the passages do not hold the answer (and cites none of them)."""
    cited = any(1 <= n <= passages for numbers in parse_markers(reply) for n in numbers)
    return not cited and bool(_NOT_FOUND.search(reply))


# -- prompts ---------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def load_prompt(name: str) -> tuple[str, str]:
    """(system, user) templates of a prompt file: rag/prompts in a wheel, else ./prompts in a checkout."""
    text = None
    try:
        resource = resources.files("rag").joinpath("prompts").joinpath(name)
        if resource.is_file():
            text = resource.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        pass
    checkout = Path(__file__).resolve().parents[2] / "prompts" / name
    if text is None and checkout.is_file():
        text = checkout.read_text(encoding="utf-8")
    if text is None:
        raise LLMError(f"The prompt file {name} is missing (looked in rag/prompts and {checkout.parent}).")
    system, separator, user = text.partition("\n---\n")
    return (system.strip(), user.strip()) if separator else ("", text.strip())


def render(template: str, **values: str) -> str:
    """Fill {name} placeholders in one pass (braces inside the values are left alone)."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


def escape_passage(text: str) -> str:
    """Passage text that cannot close (or open) its <passage> delimiter."""
    return re.sub(r"<(\s*/?\s*passage)", r"&lt;\1", text, flags=re.IGNORECASE)


def passage_block(number: int, passage: Passage) -> str:
    """`[n] file, lines a-b` and the text between <passage> delimiters."""
    source = re.sub(r"[\x00-\x1f<>]", " ", passage.source)
    span = describe_span(passage.source, passage.start_line, passage.end_line)
    return f"[{number}] {source}, {span}\n<passage>\n{escape_passage(passage.text)}\n</passage>"


def fit_passages(passages: Sequence[Passage], budget: int) -> list[Passage]:
    """As many of the ranked passages as fit in `budget` cl100k tokens (the best one always)."""
    chosen: list[Passage] = []
    used = 0
    for passage in passages:
        tokens = count_tokens(passage_block(len(chosen) + 1, passage)) + 2
        if chosen and used + tokens > budget:
            continue
        chosen.append(passage)
        used += tokens
    return chosen


def answer_messages(question: str, passages: Sequence[Passage]) -> list[dict[str, str]]:
    """The chat messages asking for a cited answer; the question's language picks the prompt."""
    system, user = load_prompt("answer_zh.txt" if is_chinese(question) else "answer_en.txt")
    blocks = "\n\n".join(passage_block(n, p) for n, p in enumerate(passages, start=1))
    values = {"passages": blocks, "question": question}
    messages = [{"role": "system", "content": render(system, **values)}] if system else []
    return [*messages, {"role": "user", "content": render(user, **values)}]


# -- the endpoint ----------------------------------------------------------------------------------


class EndpointError(LLMError):
    """The endpoint could not give an answer; the message is meant for the person asking."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class _Finish:
    reason: str = ""


class LLMClient:
    """Chat completions through the openai client, which alone retries (max_retries) and times out."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self._client: openai.OpenAI | None = None
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        """Where requests go, without credentials."""
        if not self.settings.base_url:
            return "api.openai.com"
        parts = urlsplit(self.settings.base_url)
        return (parts.hostname or "") + (f":{parts.port}" if parts.port else "") or "the configured URL"

    def redact(self, text: str) -> str:
        key = self.settings.api_key
        return text.replace(key, "***") if key else text

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

    def complete(self, messages: list[dict[str, str]], finish: _Finish | None = None) -> Iterator[str]:
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

    def stream(self, messages: list[dict[str, str]], finish: _Finish | None = None) -> Iterator[str]:
        """The reply in pieces as they arrive."""
        import openai

        try:
            # closed on exit, also when the consumer stops reading early
            with self.client().chat.completions.create(**self._request(messages, stream=True)) as events:
                for chunk in events:
                    for choice in getattr(chunk, "choices", None) or []:
                        if finish is not None and choice.finish_reason:
                            finish.reason = str(choice.finish_reason)
                        content = choice.delta.content if choice.delta is not None else None
                        if content:
                            yield content
        except (openai.OpenAIError, ValueError, TypeError, AttributeError) as exc:
            raise self.error(exc) from None


# -- the answerer ----------------------------------------------------------------------------------


class LLMAnswerer:
    """Answers from the passages with a language model and checks the citations of the reply."""

    mode = "llm"

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self.client = LLMClient(settings)

    def respond(
        self,
        question: str,
        passages: Sequence[Passage],
        extractive: ExtractiveAnswerer,
        stream: bool = False,
        fallback_k: int = 5,
    ) -> Iterator[str | Answer]:
        """Text pieces as the model writes them, then the checked Answer (always last)."""
        _, supported = extractive.assess(question, passages)
        if not supported:
            text = abstain_text(question)
            yield text
            yield Answer(question, text, abstained=True, mode="extractive")
            return
        chosen = fit_passages(passages, self.settings.context_tokens)
        messages = answer_messages(question, chosen)
        finish = _Finish()
        pieces: list[str] = []
        gate = VerifiedStream(chosen)  # only whole, checked sentences are shown while it streams
        shown = False
        try:
            source = self.client.stream if stream else self.client.complete
            for piece in source(messages, finish):
                pieces.append(piece)
                if text := gate.feed(piece):
                    shown = True
                    yield text
        except EndpointError as exc:
            yield from self._fallback(question, passages[:fallback_k], extractive, str(exc), not shown)
            return
        if text := gate.close():
            shown = True
            yield text
        reply = "".join(pieces).strip()
        if not reply:
            why = f"The LLM endpoint {self.client.endpoint} returned an empty answer."
            yield from self._fallback(question, passages[:fallback_k], extractive, why, True)
            return
        if says_not_found(reply, len(chosen)):
            yield Answer(question, abstain_text(question), abstained=True, mode="llm")
            return
        checked = verify(reply, chosen, drop_unsupported=True, evidence=gate.evidence)
        if not checked.supported:
            why = "The language model's answer is not supported by the passages it was given."
            yield from self._fallback(question, passages[:fallback_k], extractive, why, not shown)
            return
        notes = []
        if checked.dropped:
            cited = ", ".join(f"[{n}]" for n in checked.dropped)
            notes.append(f"The model cited {cited}, which it was not given; removed.")
        if checked.unsupported:
            n = len(checked.unsupported)
            notes.append(
                f"{n} sentence{'s' if n > 1 else ''} of the model's answer {'were' if n > 1 else 'was'} "
                "removed: the passages do not support "
                + ("them." if n > 1 else "it.")
            )
        if finish.reason == "length":
            notes.append("The answer was cut off at the model's length limit.")
        yield Answer(
            question,
            checked.text,
            citations=checked.citations,
            mode="llm",
            unsupported=checked.unsupported,
            notice=self.client.redact(" ".join(notes)),
        )

    def _fallback(
        self, question: str, passages: Sequence[Passage], extractive: ExtractiveAnswerer, why: str, show: bool
    ) -> Iterator[str | Answer]:
        why = self.client.redact(why)
        log.info("Answering without the language model: %s", why)
        answer = extractive.answer(question, passages)
        answer.notice = why if answer.abstained else f"{why} This answer quotes the passages instead."
        if show:
            yield answer.text
        yield answer

    def rewrite(self, history: str, question: str) -> str:
        """The follow-up question rewritten to stand alone (raises EndpointError)."""
        system, user = load_prompt("condense.txt")
        values = {"history": history, "question": question}
        messages = [{"role": "system", "content": render(system, **values)}] if system else []
        messages.append({"role": "user", "content": render(user, **values)})
        return "".join(self.client.complete(messages))
