"""`rag.verify` (this module holds it): check any answer with [n] citation markers against numbered passages.

Works for answers from this assistant's model or from any other pipeline. Each sentence is checked
against every passage by the fitted claim verifier (rag.verification.claims): its figures with their units
and what they count, its names, its content words (also across Chinese and English). Unsupported
sentences are removed from `Verification.text` and citations are repaired.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.schema import Citation, Passage
from rag.verification.citations import verify as check_answer


@dataclass
class SentenceResult:
    """One sentence of the answer: `cited` the numbers it cites as written, `supporting` the passages
    that support it (most likely first), `citations` those it carries in `Verification.text`
    (numbered as given), `reason` why it is not supported."""

    text: str
    cited: list[int]
    supported: bool
    supporting: list[int] = field(default_factory=list)
    citations: list[int] = field(default_factory=list)
    reason: str = ""
    repaired: bool = False


@dataclass
class Verification:
    """The checked answer: `text` without unsupported sentences and with repaired, renumbered
    citations; `sentences` sentence by sentence; `citations` what each [n] of `text` points to;
    `dropped` the cited numbers no passage has."""

    text: str
    sentences: list[SentenceResult]
    citations: list[Citation]
    dropped: list[int]

    @property
    def supported(self) -> bool:
        """Every sentence is supported."""
        return all(s.supported for s in self.sentences)

    @property
    def unsupported(self) -> list[SentenceResult]:
        return [s for s in self.sentences if not s.supported]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


def as_passages(passages: Sequence[Passage | str]) -> list[Passage]:
    """Passage objects for `passages`, numbered 1..n as given (a string becomes passage n)."""
    out = []
    for n, p in enumerate(passages, start=1):
        if isinstance(p, Passage):
            out.append(p)
        elif isinstance(p, str):
            out.append(Passage(f"passage-{n}", f"passage {n}", p, 0.0, 1, max(1, p.count("\n") + 1)))
        else:
            raise InputError(f"Passage {n} is a {type(p).__name__}; give a string or a rag.Passage.")
    return out


def verify(answer: str, passages: Sequence[Passage | str]) -> Verification:
    """Check each sentence of `answer` against the numbered `passages` ([1] is the first).

    Example:
        >>> from rag import verify
        >>> passages = ["英伟达正在建设的AI工厂电力需求高达1000兆瓦，建一座AI工厂的成本高达600亿美元。"]
        >>> checked = verify("The AI factory needs 1 GW of power [1]. It costs $600 billion [1].", passages)
        >>> checked.text
        'The AI factory needs 1 GW of power [1].'
        >>> [(s.supported, s.reason) for s in checked.sentences]
        [(True, ''), (False, 'the figure 600 is not in the cited passages')]
    """
    if not isinstance(answer, str):
        raise InputError(f"The answer must be a string, not {type(answer).__name__}.")
    given = as_passages(passages)
    checked = check_answer(answer, given, drop_unsupported=True)
    sentences = [
        SentenceResult(
            s.text, s.cited, s.supported is not False, s.supporting, s.citations, s.reason, s.repaired
        )
        for s in checked.sentences
    ]
    return Verification(checked.text, sentences, checked.citations, checked.dropped)


def read_passages(path: Path) -> list[str]:
    """Passages from a file: a JSON list of strings or of {"text": …} objects, or plain text with
    one passage per block (blocks separated by a blank line)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"Cannot read the passages file {path}: {exc.strerror or exc}") from None
    if raw.lstrip().startswith("["):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path} starts like JSON but is not valid JSON: {exc.msg} (line {exc.lineno})."
            ) from None
        out = []
        for n, item in enumerate(data, start=1):
            text = item.get("text") if isinstance(item, dict) else item
            if not isinstance(text, str):
                raise InputError(
                    f'Passage {n} in {path} is neither a string nor an object with a "text" string.'
                )
            out.append(text)
        return out
    return [block.strip() for block in re.split(r"\n\s*\n", raw) if block.strip()]
