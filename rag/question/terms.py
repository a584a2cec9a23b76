"""Evidence from the passages: sentences with their lines, and the question's terms and names (how much
of them a text covers is `rag.question.query.Query.coverage`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.text.clean import fold
from rag.text.crosslingual import ENGLISH_STOP, Gloss, lemmas
from rag.text.tokens import is_chinese, tagged, words


def question_terms(
    question: str, idf: Callable[[str], float], glosses: Sequence[Gloss] = ()
) -> dict[str, float]:
    """Content words of the question with their weights (rarer terms weigh more).

    `glosses` pair words of a question in another language with their dictionary translations; such
    a word becomes one term `word|译文|译名`, present when any alternative is, weighed by its
    translations. Function words of such a question ("each", "say") are not terms.
    """
    terms: dict[str, float] = {}
    glossed: set[str] = set()
    for source, found in glosses:
        if found:
            terms["|".join([source, *found])] = max(idf(w) for w in found)
            glossed.update(source.split())
    other = not is_chinese(question)
    for term in words(fold(question)):
        if len(term) == 1 and not term.isascii():
            continue  # single Han characters say little on their own
        if term in glossed or (other and term in ENGLISH_STOP):
            continue
        terms[term] = max(terms.get(term, 0.0), idf(term))
    # a compound whose parts are also terms counts once, through its parts
    for term in [t for t in terms if "|" not in t]:
        parts = [t for t in terms if t != term and "|" not in t and t in term]
        if len(parts) >= 2:
            del terms[term]
    return terms


# jieba's flags for names: people (and transliterated ones), organisations, other proper nouns,
# Latin-script words. Places (`ns`) are left out: jieba tags common nouns such as 城市 as places.
_NAME_FLAGS = frozenset({"nr", "nrt", "nt", "nz", "eng"})
_LATIN_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9-]*")
# what follows a person's name: the word before it is one, however jieba tags it (宫川先生, 山田教授)
_HONORIFICS = frozenset("先生 女士 小姐 夫人 博士 教授 会长 社长 总裁".split())
# capitalised, but dates, not names: Chinese text writes 10月, 周一
_CALENDAR = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)
# the lowercase tail of a hyphenated word that makes a name a modifier ("China-led"); not that of a
# name written with a hyphen ("Wi-Fi", "GPT-4")
_MODIFIER_TAIL = re.compile(r"(?<=[A-Za-z0-9])(?:-[a-z]+)+$")


@dataclass(frozen=True)
class Name:
    """A name the question gives ("Vera Rubin", 华为): the documents' forms it may take."""

    forms: tuple[str, ...]  # folded: the name's words, their base forms and dictionary translations
    # written as the documents would write it (a Chinese name in a Chinese question): a name no
    # document holds is then one they do not speak of; a name in another language may just lack
    # a translation
    as_written: bool


def question_names(question: str, translate: Callable[[str], list[Gloss]] | None = None) -> list[Name]:
    """The names a question gives: what it is about, so an answer must come from a document that
    speaks of them.

    In an English question, a name is a capitalised word after the first, or an acronym or a code;
    capitalised words in a row make one name ("Vera Rubin"), found when any of its words is. In a
    Chinese question, the words jieba tags as names, and a word before an honorific (宫川先生)."""
    if is_chinese(question):
        tags = tagged(fold(question))
        following = [w for w, _ in tags[1:]] + [""]
        # not a pronoun (这位先生), a number or punctuation; a Latin word is a name already (eng)
        honoured = {w for (w, f), nxt in zip(tags, following) if nxt in _HONORIFICS and f[:1] not in "rmx"}
        names = [
            Name((word,), flag != "eng")
            for word, flag in tags
            if len(word) > 1 and (flag in _NAME_FLAGS or word in honoured)
        ]
        return list(dict.fromkeys(names))
    groups: list[list[str]] = []
    joinable, end = False, -1  # was the word before a capitalised name word, and where it ended
    for i, match in enumerate(_LATIN_WORD.finditer(question)):
        word = _MODIFIER_TAIL.sub("", match.group(0))  # "AI-accelerated", "Amazon-made": AI, Amazon
        name = (
            i > 0
            and len(word) > 1
            and word.lower() not in ENGLISH_STOP
            and word.lower() not in _CALENDAR
            and (word[0].isupper() or any(c.isdigit() for c in word))
        )
        titled = name and word[0].isupper() and not word.isupper()
        if titled and joinable and question[end : match.start()] == " ":
            groups[-1].append(word)
        elif name:
            groups.append([word])
        joinable, end = titled, match.end()
    names = []
    for group in groups:
        forms: list[str] = []
        for word in group:
            forms += lemmas(word.lower())
            forms += [w for _, found in (translate(word.lower()) if translate else []) for w in found]
        names.append(Name(tuple(dict.fromkeys(forms)), False))
    return names
