"""Evidence from the passages: sentences with their lines, question terms and what the question asks for."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.chunk import continues
from rag.clean import fold
from rag.schema import Passage
from rag.tokens import sentences, words

_NUMBER = re.compile(
    r"\d|(?:[二两三四五六七八九十]|一[十百千万亿])[一二两三四五六七八九十百千万亿]*"
    r"(?:个|倍|家|年|人|名|次|座|台|款|种|项|位|亿|万)"
)
_DATE = re.compile(r"\d{4}\s*年|\d{1,2}\s*月|\d{1,2}\s*日|\b(19|20)\d\d\b|\d{4}-\d{1,2}")
_ASKS_NUMBER = re.compile(
    r"多少|几[个位家年倍次座台款种项名]|多大|多高|多长|多快|多久|比例|百分之"
    r"|how (much|many|large|big|fast|long)|what (is|was|were) the (number|amount|size|scale|capacity|power|speed)"
)
_ASKS_DATE = re.compile(
    r"什么时候|何时|哪一?年|哪一?天|几月|几号|哪个月|日期"
    r"|\bwhen\b|what (year|date|day|month)|which (year|date|day)"
)


@dataclass
class Sentence:
    """A sentence of a retrieved passage, with the file line it stands on."""

    passage: Passage
    rank: int
    line: int
    text: str
    folded: str


def split_passages(passages: Sequence[Passage]) -> list[Sentence]:
    """Every sentence of every passage, in rank order, with its line number."""
    out = []
    for rank, passage in enumerate(passages):
        lines = passage.text.split("\n")
        numbers = list(passage.line_numbers) or [passage.start_line] * len(lines)
        paragraphs: list[tuple[int, str]] = []
        previous = -1
        for line_text, number in zip(lines, numbers):
            if paragraphs and continues(paragraphs[-1][1], previous, number):
                glue = " " if paragraphs[-1][1][-1:].isascii() and line_text[:1].isascii() else ""
                paragraphs[-1] = (paragraphs[-1][0], paragraphs[-1][1] + glue + line_text)
            else:
                paragraphs.append((number, line_text))
            previous = number
        for number, text in paragraphs:
            for sentence in sentences(text):
                out.append(Sentence(passage, rank, number, sentence, fold(sentence)))
    return out


def question_terms(
    question: str, idf: Callable[[str], float], groups: Sequence[Sequence[str]] = ()
) -> dict[str, float]:
    """Content words of the question with their weights (rarer terms weigh more).

    `groups` are alternative translations of one word of the question; such a term is written
    `a|b|c` and counts as present when any alternative is.
    """
    terms: dict[str, float] = {}
    for group in groups:
        if group:
            terms["|".join(group)] = max(idf(w) for w in group)
    for term in words(fold(question)):
        if len(term) == 1 and not term.isascii():
            continue  # single Han characters say little on their own
        terms[term] = max(terms.get(term, 0.0), idf(term))
    # a compound whose parts are also terms counts once, through its parts
    for term in [t for t in terms if "|" not in t]:
        parts = [t for t in terms if t != term and "|" not in t and t in term]
        if len(parts) >= 2:
            del terms[term]
    return terms


def present(term: str, folded: str) -> bool:
    """Does the text contain the term (or one of its `|`-separated alternatives)."""
    return any(a in folded for a in term.split("|"))


def coverage(terms: dict[str, float], folded: str) -> float:
    """Weighted share of the question's terms that occur in the text."""
    total = sum(terms.values())
    if not total:
        return 0.0
    return sum(w for t, w in terms.items() if present(t, folded)) / total


def asks_number(question: str) -> bool:
    """The question wants a quantity."""
    return bool(_ASKS_NUMBER.search(fold(question)))


def asks_date(question: str) -> bool:
    """The question wants a date or year."""
    return bool(_ASKS_DATE.search(fold(question)))


_LIST_NUMBER = re.compile(r"^\s*\d{1,2}[.、)]\s*")
_COUNTERS = "人名家个位年次倍座台款种项"


def asked_unit(question: str) -> str:
    """The counter a Chinese question asks a count of (`多少人` → `人`), or ''."""
    match = re.search(rf"(?:多少|几)([{_COUNTERS}])", fold(question))
    return match.group(1) if match else ""


def has_number(folded: str, unit: str = "") -> bool:
    """The text states a quantity (of `unit`, when one is asked for); list numbering does not count."""
    folded = _LIST_NUMBER.sub("", folded)
    if unit:
        return bool(re.search(rf"(\d|[一二两三四五六七八九十百千万亿])\s*{unit}", folded))
    return bool(_NUMBER.search(folded))


def has_date(folded: str) -> bool:
    """The text states a date or year."""
    return bool(_DATE.search(folded))
