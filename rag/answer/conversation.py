"""Follow-up questions: a conversation's history and a rewrite of the last question to stand alone.

With a language model the rewrite uses prompts/condense.txt; without one (or when the endpoint fails)
a short or anaphoric follow-up ("它的成本呢？", "How much did it cost?") gets the content words of the
previous user question in front of it, which is what retrieval needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from rag.errors import InputError, LLMError
from rag.text.clean import fold
from rag.text.tokens import cut, is_content, words

if TYPE_CHECKING:
    from rag.answer.llm import LLMAnswerer

History = Iterable[tuple[str, str] | Mapping[str, str]]

ROLES = ("user", "assistant", "system")
MAX_TURNS = 8
MAX_TURN_CHARS = 1500
_ANAPHORA_ZH = re.compile(
    r"它|(?<!其)他|她|[这那](个|些|里|家|座|位|款)|(?<![应活])该|其(?![他中实余])|上述|前者|后者|^[那这]"
)
_ANAPHORA_EN = re.compile(
    r"\b(it|its|they|them|their|that|this|those|these|he|she|his|her|there)\b", re.IGNORECASE
)
_FOLLOW_UP_TERMS = 2  # a question with fewer content words than this leans on the conversation
_ASKING = frozenset(["多大", "多高", "多长", "多久", "多快", "有多", "几个", "哪家", "哪位"])
_ASKING |= frozenset("大高长快久")  # left over from 有多大, 多高 …


def turns(history: History | None) -> list[tuple[str, str]]:
    """The history as (role, text) pairs; accepts pairs or OpenAI-style {"role", "content"} dicts."""
    out: list[tuple[str, str]] = []
    for item in history or []:
        if isinstance(item, Mapping):
            role, text = item.get("role"), item.get("content")
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            role, text = item
        else:
            raise InputError(f"A history entry must be (role, text) or {{role, content}}, not {item!r}")
        if role not in ROLES or not isinstance(text, str):
            raise InputError(f"A history entry needs a role ({', '.join(ROLES)}) and a text, not {item!r}")
        if text.strip():
            out.append((str(role), text.strip()))
    return out


def transcript(history: list[tuple[str, str]]) -> str:
    """The last turns as `user: …` / `assistant: …` lines for the condense prompt."""
    lines = []
    for role, text in history[-MAX_TURNS:]:
        if role != "system":
            lines.append(f"{role}: {' '.join(text.split())[:MAX_TURN_CHARS]}")
    return "\n".join(lines)


def leans_on_history(question: str) -> bool:
    """Short, or refers back with a pronoun (它, 这个, it, that …)."""
    folded = fold(question)
    terms = [w for w in words(folded) if len(w) > 1 or w.isascii()]
    return len(terms) < _FOLLOW_UP_TERMS or bool(_ANAPHORA_ZH.search(folded) or _ANAPHORA_EN.search(folded))


def topic(text: str) -> str:
    """The content of a question without its question words: runs of kept words, space-separated
    (`英伟达正在建设的AI工厂有多大？` → `英伟达正在建设 ai工厂`)."""
    runs, run = [], ""
    for token in cut(fold(text)):
        word = token.strip()
        if is_content(word) and word not in _ASKING:
            run += f" {word}" if run[-1:].isascii() and run and word.isascii() else word
        elif run:
            runs.append(run)
            run = ""
    return " ".join([*runs, run] if run else runs)


def fallback_standalone(history: list[tuple[str, str]], question: str) -> str:
    """Without a model: put the previous user question's topic in front of a follow-up that leans on it."""
    previous = next((text for role, text in reversed(history) if role == "user"), "")
    if not previous or not leans_on_history(question):
        return question
    return f"{topic(previous)[:200]} {question}".strip()


def _clean(reply: str, limit: int) -> str:
    """The model's rewrite as one plain question, or '' when it is unusable."""
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    label = r"^(standalone question|rewritten question|独立问题|改写后的问题)\s*[:：]\s*"
    text = re.sub(label, "", text, flags=re.IGNORECASE)
    text = text.strip().strip("\"'“”「」")
    return text if 0 < len(text) <= limit else ""


def standalone_question(
    history: list[tuple[str, str]], question: str, llm: LLMAnswerer | None, limit: int
) -> tuple[str, str]:
    """(the question to retrieve and answer with, a notice when the model could not rewrite it)."""
    if not history:
        return question, ""
    if llm is None:
        return fallback_standalone(history, question), ""
    try:
        rewritten = _clean(llm.rewrite(transcript(history), question), limit)
    except LLMError as exc:
        why = llm.client.redact(str(exc))
        return fallback_standalone(history, question), f"{why} The follow-up was read without the model."
    return (rewritten, "") if rewritten else (fallback_standalone(history, question), "")
