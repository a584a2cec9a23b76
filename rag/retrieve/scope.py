"""Questions that name their document: "in the article on X, …", "那篇讲X的文章说，…".

The clause naming the document describes the article, not the answer: searched with the rest of
the question, it pulls passages about the article's subject instead of the one that answers. So
the clause is split off. It picks the document (the one whose best passage matches the clause's
words best, by BM25) and the rest of the question is what is searched for and answered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rag.question.expectation import split_question
from rag.text.tokens import is_chinese, tokenize

_EN = re.compile(
    r"(?:,\s*)?\b(?P<lead>(?:in|according to|as|from|per)\s+)?the\s+(?:[\w'’-]+\s+){0,3}?"
    r"(?:article|piece|commentary|essay|report|post|story|write-?up|analysis|column)\b(?:'s)?"
    # the description runs until the article's verb ("… says", "… compares") or a comma
    r"(?:\s+(?:on|about|arguing|covering|describing|reporting|explaining|interpreting|titled|called|of)\b"
    r"[^,?;]*?(?=\s+(?:says|said|reports?|notes|argues|claims|writes|wrote|compares|gives|traces"
    r"|describes|calls|puts|lists|mentions|predicts|estimates|suggests|explains)\b|[,?;]|$))?"
    r"(?:\s+reports? it)?",
    re.IGNORECASE,
)
_ZH = re.compile(
    r"(?:按照?|据|根据|在|从)?[^，,？?。；;]*?[那这该這該]篇[^，,？?。；;]*?"
    r"(?:文章|报道|報道|评论|評論|解读|解讀|稿子)(?:文章)?"
    r"(?:的说法|的說法|里|裡|中|说|說|提到|写道|寫道)?[，,]?\s*"
)
# The lead over the next document at which a description names one for sure (chosen on
# eval/dev.jsonl, where every lead of 0.2 or more pointed at the right article).
NAMED_LEAD = 0.3
# How much more like the description a document's title must be than the next one's to pick it
# where keyword search is unsure (cosine similarity of e5 vectors), and the lead it then gives the
# document (chosen on eval/dev.jsonl, where every title lead of 0.02 or more pointed at the right
# article).
TITLE_LEAD = 0.02
TITLE_PRIOR = 0.25
# words that name a document in general and tell none apart
_GENERIC = re.compile(
    r"文章|报道|報道|评论|評論|解读|解讀|稿子|说法|說法|[那这该這該]篇|^(按照?|据|根据|在|从)"
    r"|\b(in|according to|as|the|article|piece|commentary|essay|report|post|story|write-?up|analysis"
    r"|column)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Scope:
    """A question split into the clause naming its document and what it asks."""

    reference: str  # "the article on what physical AI means for Chinese manufacturing"
    rest: str  # the question without it
    # the document that fits the description best, with its lead over the next (0 to 1)
    documents: dict[str, float] = field(default_factory=dict)

    @property
    def named(self) -> str:
        """The document the question is clearly about ("" when unsure): answers quote only it.

        Empty when the question asks two things: the clause naming the document belongs to one of
        them, and the other may be asked of another document."""
        if len(split_question(self.rest)) > 1:
            return ""
        return next((s for s, lead in self.documents.items() if lead >= NAMED_LEAD), "")


def split_reference(question: str) -> tuple[str, str] | None:
    """The clause naming a document and the rest of the question (None when none is named, or
    when nothing else is asked)."""
    found = (_ZH if is_chinese(question) else _EN).search(question)
    if not found:
        return None
    # "In the article on X, what …": the clause goes; "the article says …", "does the article call":
    # it stands for the article
    stands_in = not is_chinese(question) and not found.group(0).startswith(",") and not found.group("lead")
    rest = question[: found.start()] + (" it " if stands_in else " ") + question[found.end() :]
    rest = re.sub(r"\s+(?=[?？,.])", "", re.sub(r"\s{2,}", " ", rest)).strip(" ，,")
    rest = rest[0].upper() + rest[1:] if rest[:1].islower() and found.start() == 0 else rest
    if len(rest.strip(" ？?。.")) < 4:
        return None
    return found.group(0).strip(" ，,"), rest


def scoped_rest(question: str) -> str | None:
    """What the question asks once a clause naming its document is set aside, when that clause has a
    word that may tell documents apart (the words `find_scope` searches for); else None."""
    split = split_reference(question)
    return split[1] if split and tokenize(_GENERIC.sub(" ", split[0])) else None


Search = Callable[[str, int], Sequence[tuple[str, float]]]  # text, k → (source, score) best first
Titles = Callable[[str], Sequence[tuple[str, float]]]  # text → (source, title similarity) best first


def find_scope(question: str, search: Search, titles: Titles | None = None, depth: int = 50) -> Scope | None:
    """The document a question names, with its lead over the next best fit (None when the question
    names none).

    `search` is keyword search over passages: a document scores its best passage's score. `titles`
    compares the description with each document's title, which tells documents apart when the
    description is in another language than they are, or speaks of a subject several of them share.
    The title picks the document when its lead is clear and keyword search is not sure of one.
    No scope when the clause holds no word that tells documents apart ("按那篇文章的说法").
    """
    split = split_reference(question)
    if split is None:
        return None
    reference, rest = split
    words = _GENERIC.sub(" ", reference)
    best: dict[str, float] = {}
    for source, score in search(words, depth):
        best[source] = max(best.get(source, 0.0), score)
    ranked = sorted(best.items(), key=lambda item: -item[1])
    if not ranked or ranked[0][1] <= 0:
        return None
    (source, top), second = ranked[0], (ranked[1][1] if len(ranked) > 1 else 0.0)
    # a near tie says little: the prior is the best one's lead over the next, not its score
    lead = (top - second) / top
    by_title = list(titles(words)) if titles is not None and lead < NAMED_LEAD else []
    if len(by_title) > 1 and by_title[0][0] != source and by_title[0][1] - by_title[1][1] >= TITLE_LEAD:
        # a likeness, not shared words: it lifts the document's passages but never names it
        source, lead = by_title[0][0], TITLE_PRIOR
    return Scope(reference, rest, {source: lead})
