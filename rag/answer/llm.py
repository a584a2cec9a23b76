"""The LLM answerer: an OpenAI-compatible model writes the answer from numbered passages, then every
sentence is checked against the passages it cites (rag.verification.citations).

Weak retrieval evidence abstains before any request. Endpoint failures (timeouts, refused
connections, rate limits and 5xx after the client's own retries, malformed or empty replies, a refused
key) fall back to the extractive answer with a notice in plain words; the API key never appears in
notices or logs. Prompt files (prompts/answer_zh.txt, answer_en.txt, condense.txt) hold a system part
and a user part separated by a line `---`.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from rag.answer.endpoint import EndpointError, Finish, LLMClient
from rag.answer.extractive import abstain_text
from rag.answer.prompts import answer_messages, fit_passages, load_prompt, render
from rag.answer.protocol import Answerer
from rag.config import LLMSettings
from rag.schema import Answer, Passage
from rag.verification.citations import verify
from rag.verification.markers import parse_markers, split_sentences, strip_markers
from rag.verification.relevance import about, copies_prompt, is_bare, on_subject
from rag.verification.stream import VerifiedStream
from rag.weights import shipped_weights

if TYPE_CHECKING:
    pass

log = logging.getLogger("rag")
GATE_SECTION = "gate"  # of rag/model.json


def retrieval_signal(passages: Sequence[Passage]) -> float:
    """How strongly retrieval found something: the best dense cosine between the question and a passage."""
    return max((p.dense for p in passages), default=0.0)


@lru_cache(maxsize=1)
def gate_bar() -> float:
    """The fitted bar `retrieval_signal` must reach before the model is asked (eval/fit_gate.py)."""
    return float(shipped_weights()[GATE_SECTION]["bar"])


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
        finish = Finish()
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

    def _bounded(self, messages: list[dict[str, str]], finish: Finish, stream: bool) -> Iterator[str]:
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
