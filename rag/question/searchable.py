"""What makes a question searchable: it must hold something to look for."""

from __future__ import annotations

import unicodedata

from rag.errors import InputError
from rag.text.clean import strip_controls, strip_invisible

NOTHING_TO_SEARCH = (
    "The question has nothing to search for (no words or numbers, only symbols, emoji, punctuation "
    "or invisible characters): ask about something in the documents."
)


def has_content(question: str) -> bool:
    """Does the question hold a letter or a digit of any script (after NFKC, with control and
    invisible characters removed)?

    Example:
        >>> [has_content(q) for q in ("黄仁勋", "GTC?", "2026", "😀🚀🔥", "?", "(((((", ".*")]
        [True, True, True, False, False, False, False]
    """
    text = unicodedata.normalize("NFKC", strip_invisible(strip_controls(question)))
    return any(unicodedata.category(c)[0] in "LN" for c in text)


def check_searchable(question: str) -> str:
    """The question, or InputError when it has nothing to search for (see `has_content`)."""
    if not has_content(question):
        raise InputError(NOTHING_TO_SEARCH)
    return question
