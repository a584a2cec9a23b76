"""Names a document writes in two scripts: 黄仁勋（Jensen Huang）, SoftBank（软银）.

A question may give a name in one script and the documents in the other ("What did Jensen Huang
say…" over Chinese articles that write 黄仁勋). No dictionary knows every person or company a user's
documents introduce, but documents often give the other form once, in brackets, where the name first
appears. Those pairs are read from the chunks that hold the name, so the name check (does the
answer's document speak of the names the question gives) works for any name a document glosses.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

from rag.question.terms import Name
from rag.text.clean import fold
from rag.text.crosslingual import ENGLISH_STOP
from rag.text.han import HAN, HAN_CHAR
from rag.text.tokens import tagged

# the other-script forms kept for one name, the most often given first
MAX_ALIASES = 3
# chunk texts whose bracket pairs are kept
TEXTS_KEPT = 1024
# a Chinese name is 2 to 6 characters
_HAN_NAME = (2, 6)
# jieba's flags of words that are no part of a name: prepositions, conjunctions, particles, verbs,
# adverbs, pronouns (a name may end in a numeral: 宫川润一)
_FUNCTION_FLAGS = frozenset("pcuvdr")
_LATIN = r"[A-Za-z0-9&.'-]"  # a character of a Latin name
# 黄仁勋（Jensen Huang）: a run of Han characters, then a bracket holding up to five Latin words
_HAN_THEN_LATIN = re.compile(rf"([{HAN}]{{2,}})\s*\(\s*([A-Za-z]{_LATIN}*(?:\s+{_LATIN}+){{0,4}})\s*\)")
# SoftBank（软银）, Jensen Huang (黄仁勋): up to four capitalised words, then a bracket of Han
_LATIN_THEN_HAN = re.compile(rf"((?:[A-Z]{_LATIN}*\s+){{0,3}}[A-Z]{_LATIN}*)\s*\(\s*([{HAN}]{{2,6}})\s*\)")


def _han_name(run: str) -> str:
    """The name that ends a run of Han characters: its last word as jieba tags it, with the word
    before when the last is one character (宫川润 一), a common noun after a noun (软银 集团), or
    follows a lone character that is no function word (英 伟达); "" when that is no name."""
    tags = tagged(fold(run))
    if not tags:
        return ""
    last, flag = tags[-1]
    kept = tags[-1:]
    if len(tags) > 1:
        before, before_flag = tags[-2]
        if (
            len(last) == 1
            or (flag == "n" and before_flag[:1] in ("n", "j"))
            or (len(before) == 1 and before_flag[:1] not in _FUNCTION_FLAGS)
        ):
            kept = tags[-2:]
    name = "".join(w for w, _ in kept)
    plain = not any(f[:1] in _FUNCTION_FLAGS for _, f in kept)
    return name if plain and _HAN_NAME[0] <= len(name) <= _HAN_NAME[1] else ""


def _latin_words(text: str) -> list[str]:
    """The folded words of a Latin name, without function words."""
    found = re.findall(r"[a-z0-9][a-z0-9&.'-]*", fold(text))
    return [w for w in found if len(w) > 1 and w not in ENGLISH_STOP]


def pairs(text: str) -> list[tuple[str, list[str]]]:
    """The (Chinese name, its Latin words) pairs a text gives in brackets, folded."""
    return list(_pairs(text))


@lru_cache(maxsize=TEXTS_KEPT)
def _pairs(text: str) -> tuple[tuple[str, list[str]], ...]:
    """`pairs`, kept per text: the words of one name ("jensen", "huang") read the same chunks."""
    text = unicodedata.normalize("NFKC", text)
    found = []
    for run, latin in _HAN_THEN_LATIN.findall(text):
        found.append((_han_name(run), _latin_words(latin)))
    for latin, bracketed in _LATIN_THEN_HAN.findall(text):
        han = _han_name(bracketed)  # the whole bracket must be the name: not （我前面提到的引擎）
        found.append((han if han == fold(bracketed) else "", _latin_words(latin)))
    return tuple((han, latin) for han, latin in found if han and latin)


def aliases(form: str, texts: Iterable[str]) -> frozenset[str]:
    """A folded name's forms in the other script, as the texts give them in brackets: 黄仁勋 for
    "huang", "softbank" for 软银 (at most `MAX_ALIASES`, the most often given first)."""
    counts: Counter[str] = Counter()
    chinese = bool(HAN_CHAR.search(form))
    for text in texts:
        for han, latin in _pairs(text):
            if chinese and form in han:
                counts.update(latin)
            elif not chinese and form in latin:
                counts[han] += 1
    return frozenset(a for a, _ in counts.most_common(MAX_ALIASES) if a != form)


def with_aliases(name: Name, question: str, lookup: Callable[[str], frozenset[str]]) -> Name:
    """The name with the other-script forms of those of its words the (folded) question writes."""
    found = [a for form in name.forms if form in question for a in sorted(lookup(form))]
    extra = [a for a in dict.fromkeys(found) if a not in name.forms]
    return Name(name.forms + tuple(extra), name.as_written) if extra else name


def with_alias_terms(terms: dict[str, float], names: Sequence[Name]) -> dict[str, float]:
    """The question's terms, a name's word also found in its other-script forms: "huang" is present
    where a text writes 黄仁勋 (alternatives joined by "|", as translations are)."""
    forms = {form: name.forms for name in names for form in name.forms}
    out: dict[str, float] = {}
    for term, weight in terms.items():
        alternatives = term.split("|")
        extra = [
            f
            for a in alternatives
            for f in forms.get(a, ())
            if f not in alternatives and bool(HAN_CHAR.search(f)) != bool(HAN_CHAR.search(a))
        ]
        out["|".join(dict.fromkeys(alternatives + extra)) if extra else term] = weight
    return out
