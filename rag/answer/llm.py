"""The LLM answerer: an OpenAI-compatible model writes the answer from numbered passages, then every
sentence is checked against the passages it cites (rag.verification.citations).

Weak retrieval evidence abstains before any request. Endpoint failures (timeouts, refused
connections, rate limits and 5xx after the client's own retries, malformed or empty replies, a refused
key) fall back to the extractive answer with a notice in plain words; the API key never appears in
notices or logs. Prompt files (prompts/answer_zh.txt, answer_en.txt, condense.txt) hold a system part
and a user part separated by a line `---`.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rag.answer.extractive import abstain_text
from rag.answer.protocol import Answerer
from rag.config import LLMSettings
from rag.errors import LLMError
from rag.ingest.chunk import count_tokens
from rag.ingest.formats import describe_span
from rag.schema import Answer, Passage
from rag.text.secrets import Redactor, configured_secrets, guard_logs
from rag.text.tokens import is_chinese
from rag.verification.citations import parse_markers, split_sentences, strip_markers, verify
from rag.verification.relevance import about, copies_prompt, is_bare, on_subject
from rag.verification.stream import VerifiedStream

if TYPE_CHECKING:
    import openai

log = logging.getLogger("rag")
GATE_FILE = "gate.json"


def retrieval_signal(passages: Sequence[Passage]) -> float:
    """How strongly retrieval found something: the best dense cosine between the question and a passage."""
    return max((p.dense for p in passages), default=0.0)


@lru_cache(maxsize=1)
def gate_bar() -> float:
    """The fitted bar `retrieval_signal` must reach before the model is asked (eval/fit_gate.py)."""
    text = resources.files("rag.answer").joinpath(GATE_FILE).read_text(encoding="utf-8")
    return float(json.loads(text)["bar"])


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
        self, messages: list[dict[str, str]], finish: _Finish | None = None, opened: list[Any] | None = None
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
        self, messages: list[dict[str, str]], finish: _Finish | None = None, opened: list[Any] | None = None
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
        extractive: Answerer,
        stream: bool = False,
        fallback_k: int = 5,
    ) -> Iterator[str | Answer]:
        """Text pieces as the model writes them, then the checked Answer (always last).

        The model is asked when retrieval found something (`retrieval_signal` at the fitted bar);
        its reply is read within the answer's deadline and size limit, must not be a copy of its
        prompt, and must say something about the question that the passages support."""
        for item in self._respond(question, passages, extractive, stream, fallback_k):
            if isinstance(item, Answer):
                yield self._redacted(item)
            else:
                yield self.client.redact(item)

    def _redacted(self, answer: Answer) -> Answer:
        hide = self.client.redact
        answer.text, answer.notice = hide(answer.text), hide(answer.notice)
        answer.unsupported = [hide(s) for s in answer.unsupported]
        for citation in answer.citations:
            citation.quote = hide(citation.quote)
        return answer

    def _respond(
        self,
        question: str,
        passages: Sequence[Passage],
        extractive: Answerer,
        stream: bool,
        fallback_k: int,
    ) -> Iterator[str | Answer]:
        if not passages or retrieval_signal(passages) < gate_bar():
            text = abstain_text(question)
            yield text
            yield Answer(question, text, abstained=True, mode="extractive")
            return
        chosen = fit_passages(passages, self.settings.context_tokens)
        messages = answer_messages(question, chosen)
        finish = _Finish()
        pieces: list[str] = []
        gate = VerifiedStream(chosen, question)  # only whole, checked sentences on the subject are shown
        shown = False
        fallback = passages[:fallback_k]
        try:
            for piece in self._bounded(messages, finish, stream):
                pieces.append(piece)
                if text := gate.feed(piece):
                    shown = True
                    yield text
        except EndpointError as exc:
            yield from self._fallback(question, fallback, extractive, str(exc), not shown)
            return
        if text := gate.close():
            shown = True
            yield text
        reply = "".join(pieces).strip()
        if not reply:
            why = f"The LLM endpoint {self.client.endpoint} returned an empty answer."
            yield from self._fallback(question, fallback, extractive, why, True)
            return
        if says_not_found(reply, len(chosen)):
            yield Answer(question, abstain_text(question), abstained=True, mode="llm")
            return
        if copies_prompt(reply, messages):
            why = "The language model repeated its instructions or the passages instead of answering."
            yield from self._fallback(question, fallback, extractive, why, not shown)
            return
        spans = [reply[a:b] for a, b in split_sentences(reply)]
        bare = [s for s in spans if not gate.shows(s)]  # a token, or what a planted text asks for
        body = "".join(s for s in spans if s not in bare).strip()
        checked = verify(body, chosen, drop_unsupported=True, evidence=gate.evidence)
        # a sentence must state something the passages say about the question's subject
        off = [
            s.text
            for s in checked.sentences
            if s.supported and not on_subject(s.text, question, gate.evidence, [n - 1 for n in s.citations])
        ]
        if off:
            body = "".join(body[s.start : s.end] for s in checked.sentences if s.text not in off).strip()
            checked = verify(body, chosen, drop_unsupported=True, evidence=gate.evidence)
        checked.unsupported += [strip_markers(s).strip() for s in [*bare, *off] if strip_markers(s).strip()]
        kept = [s for s in checked.sentences if s.supported]
        if not kept or all(is_bare(s.text) for s in kept) or not any(about(s.text, question) for s in kept):
            why = (
                "The language model's answer is not supported by the passages it was given."
                if not kept
                else "The language model's answer does not say anything about the question."
            )
            yield from self._fallback(question, fallback, extractive, why, not shown)
            return
        notes = []
        if checked.dropped:
            cited = ", ".join(f"[{n}]" for n in checked.dropped)
            notes.append(f"The model cited {cited}, which it was not given; removed.")
        if checked.unsupported:
            n = len(checked.unsupported)
            notes.append(
                f"{n} sentence{'s' if n > 1 else ''} of the model's answer {'were' if n > 1 else 'was'} "
                "removed: the passages do not support " + ("them." if n > 1 else "it.")
            )
        if finish.reason == "length":
            notes.append("The answer was cut off at the model's length limit.")
        yield Answer(
            question,
            checked.text,
            citations=checked.citations,
            mode="llm",
            unsupported=checked.unsupported,
            notice=" ".join(notes),
        )

    def _bounded(self, messages: list[dict[str, str]], finish: _Finish, stream: bool) -> Iterator[str]:
        """The reply's pieces, read in a worker thread so that the answer's deadline and size limit
        hold whatever the endpoint does (keep-alive comments, a reply that never ends); both raise
        EndpointError, and the connection is closed."""
        s = self.settings
        pieces: queue.Queue[tuple[str, Any]] = queue.Queue()
        opened: list[Any] = []
        stop = threading.Event()
        source = self.client.stream if stream else self.client.complete

        def work() -> None:
            try:
                for piece in source(messages, finish, opened):
                    if stop.is_set():
                        break
                    pieces.put(("piece", piece))
                pieces.put(("end", None))
            except BaseException as exc:  # handed to the reading thread
                pieces.put(("error", exc))

        threading.Thread(target=work, name="rag-llm-reply", daemon=True).start()
        end = time.monotonic() + s.deadline
        size = 0
        try:
            while True:
                try:
                    kind, value = pieces.get(timeout=max(0.0, end - time.monotonic()))
                except queue.Empty:
                    raise EndpointError(
                        f"The LLM endpoint {self.client.endpoint} did not finish its answer within "
                        f"{s.deadline:g} s.",
                        "deadline",
                    ) from None
                if kind == "end":
                    return
                if kind == "error":
                    raise value
                size += len(value)
                if size > s.reply_limit:
                    raise EndpointError(
                        f"The LLM endpoint {self.client.endpoint} sent a reply longer than "
                        f"{s.reply_limit:,} characters; it was cut off.",
                        "size",
                    )
                yield value
        finally:
            stop.set()
            for response in opened:
                try:
                    response.close()
                except Exception:
                    log.debug("Closing the reply stream failed", exc_info=True)

    def _fallback(
        self, question: str, passages: Sequence[Passage], extractive: Answerer, why: str, show: bool
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
