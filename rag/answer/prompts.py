"""The prompts a language model is sent: prompt files (prompts/answer_zh.txt, answer_en.txt,
condense.txt: a system part and a user part separated by a line `---`) filled with numbered
passages that fit the context budget."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

from rag.errors import LLMError
from rag.ingest.chunk import count_tokens
from rag.ingest.formats import describe_span
from rag.schema import Passage
from rag.text.tokens import is_chinese


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
