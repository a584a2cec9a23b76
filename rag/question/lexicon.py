"""English words in a Chinese passage, for the citation verifier: their dictionary translations
(rag.text.crosslingual's lexicon, made from CC-CEDICT), the characters most of those translations
share, and a Latin term's stem at a word start.

A translation is a whole word (汽车 for "car", 云端 for "cloud"); a passage often writes the sense
with another word built on the same character (机架 for "rack": the dictionary gives 网架, 衣架, 行李架
…). The character that most of a word's translations share (架, 云, 新, 液) is that sense's core, and
is looked for too — for the content words of a claim only, never for a name, whose one character
would be found anywhere.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

WORD_CACHE = 4096  # words whose translations, cores and word-start patterns are kept
MAX_TRANSLATIONS = 24  # dictionary translations tried per English word, shortest first
MAX_TRANSLATION = 4  # longest translation kept (characters): longer ones are phrases, not words
# a character is a word's core when at least this share of its translations, and at least
# CORE_LEAST of them, hold it (0.6 to 0.75 measured alike; 0.5 and below let in loose ones)
CORE_SHARE = 0.67
CORE_LEAST = 2


@lru_cache(maxsize=1)
def _table() -> dict[str, list[str]]:
    from rag.config import default_home
    from rag.text.crosslingual import LEXICON_FILE, Lexicon

    home = default_home()
    return Lexicon(home / LEXICON_FILE if home.is_dir() else None).table()


@lru_cache(maxsize=WORD_CACHE)
def translations(word: str) -> tuple[str, ...]:
    """Chinese words a (lower-case) English word may translate to, primary senses first."""
    from rag.text.crosslingual import lemmas

    table = _table()
    found: list[str] = []
    for form in lemmas(word):
        found.extend(w for w in table.get(form, []) if w not in found and len(w) <= MAX_TRANSLATION)
    return tuple(sorted(found, key=len)[:MAX_TRANSLATIONS])


@lru_cache(maxsize=WORD_CACHE)
def core_characters(word: str) -> tuple[str, ...]:
    """The characters most translations of an English word share ("rack": 架; "cloud": 云)."""
    found = translations(word)
    if len(found) < CORE_LEAST:
        return ()
    counts = Counter(c for t in found for c in set(t))
    return tuple(c for c, n in counts.most_common() if n >= CORE_LEAST and n / len(found) >= CORE_SHARE)


def _stem(word: str) -> str:
    return word if len(word) <= 4 else word[: max(4, len(word) - 3)]


@lru_cache(maxsize=WORD_CACHE)
def word_start(term: str) -> re.Pattern[str]:
    """A Latin term's stem at a word start, compiled once (it is looked for in every passage sentence)."""
    return re.compile(rf"(?<![a-z0-9]){re.escape(_stem(term))}")
