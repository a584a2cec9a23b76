"""Asking through `ask` or `stream` alike: the final Answer and the pieces shown before it."""

from __future__ import annotations

from rag import Answer, Assistant


def answer_of(assistant: Assistant, question: str, stream: bool) -> tuple[Answer, list[str]]:
    """The Answer, and (streaming) the text pieces the user saw while it was written."""
    pieces: list[str] = []
    answer = None
    for item in assistant.stream(question) if stream else [assistant.ask(question)]:
        if isinstance(item, Answer):
            answer = item
        else:
            pieces.append(item)
    assert answer is not None, "the stream ended without an Answer"
    return answer, pieces
