"""Names of a sentence, and a name swapped for another of its kind, for the citation verifier.

A wrong fact often keeps the words of the passage and changes one name: the reply says BMW where
the passage says 奔驰, 空客 where it says 波音, "Tern and Albatross" where it says "Tern and Puffin".
A name the claim gives that the passage lacks is not enough on its own (an English claim may name
what a Chinese passage calls 我们, or a name the dictionary cannot translate); what marks a swap is
that the passage sentence closest to the claim holds a name the claim does not give, in any script.

Names are Latin-script proper nouns (a capitalised word after the first, an acronym, a code), the
dictionary's Chinese names (rag.question.glossary), and the words jieba's dictionary tags as
people, organisations and other proper nouns.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from rag.question.glossary import english_name, han_names
from rag.question.lexicon import translations, word_start
from rag.text.han import HAN_CHAR
from rag.text.tokens import bigrams, cut, word_flags

if TYPE_CHECKING:
    from rag.verification.claims import ClaimFacts, PassageFacts

SENTENCE_CACHE = 4096  # passage sentences whose names are kept
MIN_HAN_NAME = 2  # shortest Chinese word taken as a name (characters)
MIN_LATIN_NAME = 2  # shortest Latin name (the O of I/O is not one)
# characters either side of a rival name in which the claim's words next to its missing name are looked for
PLACE = 16
# jieba's part-of-speech flags for names: people (and transliterated ones), organisations, other
# proper nouns. Places (`ns`) are left out: jieba tags common nouns such as 城市 as places (the
# dictionary's own place names are found through the glossary)
NAME_FLAGS = frozenset({"nr", "nrt", "nt", "nz"})
# what may come before a capital that only starts a sentence (a list item, a heading)
_STARTS = ".:!?-•*"
_LATIN_NAME = re.compile(r"(?<![\w])([A-Z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*|[a-z]+[A-Z][A-Za-z0-9]*)")
_AFFIX = re.compile(r"(?:-[a-z]+)+$")  # a lower-case word joined to a name: NVLink-driven, SERDES-based
_SPECIAL = re.compile(r"[a-z][A-Z]|\d")  # inner capitals or digits: a name even at the start (iPhone, H100)


def latin_names(text: str, common: Collection[str]) -> list[str]:
    """The Latin-script names of a sentence, lower-cased: capitalised words other than the one that
    starts it, acronyms and codes; `common` words (folded) are never names."""
    out: list[str] = []
    for m in _LATIN_NAME.finditer(text):
        word = _AFFIX.sub("", m.group(1))
        if len(word) < MIN_LATIN_NAME:
            continue
        starts = m.start() == 0 or text[: m.start()].rstrip()[-1:] in _STARTS
        special = (word.isupper() and len(word) > 1) or _SPECIAL.search(word)
        if starts and not special:
            continue  # a capital that only starts the sentence
        lowered = word.lower()
        if lowered not in common and lowered not in out:
            out.append(lowered)
    return out


@lru_cache(maxsize=SENTENCE_CACHE)
def sentence_names(raw: str, folded: str, common: frozenset[str]) -> tuple[str, ...]:
    """The names a passage sentence holds: Latin ones (from the text as written) and Chinese ones
    (from the folded text: the dictionary's names and the words jieba tags as names)."""
    found = latin_names(raw, common) if raw != folded else []
    if HAN_CHAR.search(folded):
        flags, known = word_flags(), set(han_names(folded))
        for word in cut(folded, hmm=False):
            # a whole word: a name the dictionary finds inside another word (高密 in 高密度) is none
            if len(word) >= MIN_HAN_NAME and (word in known or flags.get(word) in NAME_FLAGS):
                found.append(word)
    return tuple(dict.fromkeys(found))


def neighbours(folded: str, terms: Sequence[str], names: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Each name of a (folded) claim, and the claim terms nearest before and after it."""
    at = {t: folded.find(t) for t in terms}
    out: dict[str, tuple[str, ...]] = {}
    for name in names:
        where = folded.find(name)
        if where >= 0:
            before = [t for t in terms if t != name and 0 <= at[t] < where]
            after = [t for t in terms if t != name and at[t] > where]
            near = (max(before, key=at.__getitem__, default=""), min(after, key=at.__getitem__, default=""))
            out[name] = tuple(t for t in near if t)
    return out


def swapped(
    claim: ClaimFacts, passage: PassageFacts, k: int, missing: Sequence[str], common: frozenset[str]
) -> bool:
    """Names of the claim are `missing` from the passage, and a name its k-th sentence (the closest
    to the claim) holds that the claim does not give stands where a missing one would: a claim term
    next to a missing name is found within `PLACE` characters of it (`common` words are never names)."""
    places = [t for n in missing for t in claim.near.get(n, ())]
    if k < 0 or not places:
        return False
    sentence = passage.sentences[k]
    if not any(found_term(t, passage, sentence) for t in places):
        return False  # the words next to the missing names are not there: nowhere to look
    for rival in sentence_names(passage.raw[k], sentence, common):
        start = sentence.find(rival)
        window = sentence[max(0, start - PLACE) : start + len(rival) + PLACE]
        if start >= 0 and any(found_term(t, passage, window) for t in places) and not gives(claim, rival):
            return True
    return False


def gives(claim: ClaimFacts, name: str) -> bool:
    """The claim gives the name, in either script: as written, by its dictionary spelling (波音 and
    Boeing) or a translation, whole or shortened (Japan and 日本, Alibaba and 阿里 for 阿里巴巴)."""
    folded = claim.folded
    if HAN_CHAR.search(name):
        if name in folded:
            return True
        english = english_name(name)
        if english and all(_has(folded, e) for e in english):
            return True
        words = dict.fromkeys(claim.latin_terms + claim.names)
        return any(name in t or t in name for w in words for t in translations(w) if len(t) >= MIN_HAN_NAME)
    if _has(folded, name) or any(t in folded for t in translations(name)):
        return True
    return HAN_CHAR.search(folded) is not None and any(name in english_name(n) for n in _han_names(folded))


def _has(folded: str, term: str) -> bool:
    """A Latin term (its stem) at a word start of folded text."""
    return word_start(term).search(folded) is not None


def found_term(term: str, passage: PassageFacts, window: str) -> bool:
    """A claim term in a piece of a passage sentence: as written (a Han term or a pair of its
    characters), by its stem, or by a translation or its core character."""
    if HAN_CHAR.search(term):
        return term in window or any(p in window for p in bigrams(term))
    return passage.has(term, window) or passage.has_sense(term, window)


@lru_cache(maxsize=SENTENCE_CACHE)
def _han_names(folded: str) -> list[str]:
    """The dictionary names of a claim, kept (asked for every Latin name of every passage)."""
    return han_names(folded)
