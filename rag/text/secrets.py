"""Configured secrets (the LLM and embedding keys) taken out of anything shown or logged, in any
echoed form: whole, URL- or JSON-escaped, quoted, or split into pieces by spaces or punctuation."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

HIDDEN = "***"
MIN_SECRET = 8  # shorter values are not treated as secrets (they would hide ordinary words)
FRAGMENT = 10  # a run of this many of a secret's letters and digits, in order, is hidden
_SECRET_ENV = ("OPENAI_API_KEY", "RAG_EMBEDDING_KEY")


class Redactor:
    """Hides the given secrets in text.

    Example:
        >>> Redactor(["sk-proj-Abc123Def456Ghi789"]).redact("key: sk-proj- Abc123 Def456 Ghi789!")
        'key: ***!'
    """

    def __init__(self, secrets: Iterable[str | None]) -> None:
        values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True)
        forms = {f for s in values for f in (s, quote(s, safe=""), quote_plus(s), json.dumps(s)[1:-1])}
        self._whole = (
            re.compile("|".join(map(re.escape, sorted(forms, key=len, reverse=True)))) if forms else None
        )
        self._grams = {
            c[i : i + FRAGMENT] for s in values for c in [_compact(s)] for i in range(len(c) - FRAGMENT + 1)
        }

    def __bool__(self) -> bool:
        return self._whole is not None

    def redact(self, text: str) -> str:
        if not self._whole or not text:
            return text
        text = self._whole.sub(HIDDEN, text)
        # pieces: the letters and digits of the text, in order, with where each one stands
        where = [i for i, c in enumerate(text) if c.isalnum()]
        compact = "".join(text[i] for i in where)
        hide = [False] * len(compact)
        for i in range(len(compact) - FRAGMENT + 1):
            if compact[i : i + FRAGMENT] in self._grams:
                hide[i : i + FRAGMENT] = [True] * FRAGMENT
        if not any(hide):
            return text
        out, last, k = [], 0, 0
        while k < len(hide):
            if not hide[k]:
                k += 1
                continue
            end = k
            while end + 1 < len(hide) and hide[end + 1]:
                end += 1
            out += [text[last : where[k]], HIDDEN]
            last = where[end] + 1
            k = end + 1
        return "".join(out) + text[last:]


def _compact(text: str) -> str:
    return "".join(c for c in text if c.isalnum())


def configured_secrets(*extra: str | None) -> Redactor:
    """A redactor for the keys in the environment (OPENAI_API_KEY, RAG_EMBEDDING_KEY) and `extra`."""
    return Redactor([*(os.environ.get(name, "").strip() for name in _SECRET_ENV), *extra])


class RedactingFilter(logging.Filter):
    """Hides the secrets in every record of the logger it is attached to."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = self.redactor.redact(message)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


def guard_logs(redactor: Redactor, names: Iterable[str] = ("rag", "openai", "httpx", "httpcore")) -> None:
    """Attach a redacting filter to the loggers that may see a key (once per redactor)."""
    if not redactor:
        return
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) and f.redactor is redactor for f in logger.filters):
            logger.addFilter(RedactingFilter(redactor))
