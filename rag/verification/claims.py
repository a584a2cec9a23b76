"""What an answer sentence claims, what a passage holds, and the features that compare the two.

The citation verifier (rag.verification.citations) asks, for every sentence of an answer and every passage,
how likely the passage supports the sentence. That likelihood is a logistic regression over the
explicit features below; its weights and its threshold are fitted by `eval/tune_verifier.py` on
labelled model replies and shipped in section "verifier" of `rag/model.json` (runtime: numpy only).

Feature families (each can be left out by the fitting script, to measure what it adds):
- numbers: the sentence's figures, compared by value with unit, multiplier and currency resolved and
  in words too (600亿美元 = $60 billion, 1000兆瓦 = 1 GW, 六十, 两千亿, "sixty", 几十 = "dozens"), found
  in the passage or not (any of them missing: the typical wrong fact), whether the thing a found
  figure counts appears next to it there (350 libraries is not 350 startups) or stands next to a figure
  the sentence does not give (3000万 downloads, 500万 developers) or to another it gives (two figures
  swapped), and whether the passage gives a rival figure in place of a missing one
  (rag.verification.figures: $600 billion where it has 600亿美元, 5000 people where it has 3000人);
- terms: the sentence's content words in the passage's own script (a figure written in words, 六十年,
  is a figure, not a term, and so is "eighteen"), and Han character pairs;
- names: capitalised words, acronyms and codes (and their dictionary translations, two-word names as
  one: Middle East = 中东) missing from it, and the dictionary names a Chinese sentence writes
  (索尼, 宝马) missing from it in both scripts (rag.question.glossary);
- crosslingual: English words whose dictionary translation the Chinese passage holds, or the
  character most of those translations share ("rack": 架 of 机架; rag.question.lexicon), and the
  passage's own words quoted in parentheses ("Supernode (超節點)");
- shape: how much there is to check at all (filler and restated questions have little);
- swaps: a name missing while the passage sentence closest to the claim holds another name, one the
  claim does not give in either script, next to the words the missing name stands next to (BMW where
  the passage has 奔驰; rag.verification.swaps).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from rag.question.glossary import english_name, han_names
from rag.question.lexicon import core_characters, translations, word_start
from rag.text.clean import fold
from rag.text.han import HAN, HAN_CHAR
from rag.text.quantities import (
    UNIT_WORD,
    Quantity,
    all_quantities,
    found_quantity,
)
from rag.text.tokens import STOPWORDS, bigrams, cut, is_chinese, is_content
from rag.verification.figures import check_figures, clause, displaced_figures, located_figures
from rag.verification.swaps import found_term, latin_names, neighbours, swapped
from rag.weights import shipped_weights

SECTION = "verifier"  # of rag/model.json
CLAIM_CACHE = 1024  # answer sentences whose facts are kept
SWAP_MIN_LOCAL = 0.3  # a swapped name is looked for where this share of the claim's terms is found
CONTEXT_WORDS = 3  # the claim's words on either side of a figure (in its clause) that say what it is
FAMILIES: dict[str, tuple[str, ...]] = {
    "numbers": (
        "num_missing",
        "num_missing_any",
        "num_all_found",
        "num_context_absent",
        "num_missing_where_words_match",
        "num_rival",
        "num_displaced",
        "num_swapped",
    ),
    "terms": ("term_share", "term_missing", "han_pairs", "local_share", "grounded"),
    "names": ("name_missing", "name_missing_any", "name_missing_where_words_match", "han_name_missing"),
    "crosslingual": ("cross_share", "quoted_share", "cross_script", "cross_names"),
    "shape": ("content_units", "no_content"),
    "swaps": ("name_swapped",),
}
FEATURES: tuple[str, ...] = tuple(f for names in FAMILIES.values() for f in names)

_IGNORED = frozenset(
    {"资料", "段落", "文档", "来源", "提及", "表示", "指出", "文章", "认为", "提到", "根据", "还说"}
    | {"passage", "passages", "document", "documents", "source", "sources", "according", "mentioned"}
    | {"mentions", "states", "stated", "says", "said", "also", "article", "text", "notes", "noted"}
    | {"explains", "describes", "adds", "added", "writes", "wrote", "reports", "reported"}
)
_ENGLISH_FILLER = STOPWORDS | frozenset(
    """these those such other some more most very just only each every both any all one its his her
    them him our your may might must shall being own same well also like make made using used use
    there here within while where whereas because since so yet but if into onto upon out over under
    after before again further once per via among between through during without against now then
    today currently still already even ever never always often please visit see find know need let
    help hope details detail information info question questions answer answers thing things way
    ways lot lots kind sort get got go going want wants think yes okay""".split()
)

_COMMON = _ENGLISH_FILLER | _IGNORED  # never a name

_QUOTED = re.compile(rf"[（(]([^()（）]*[{HAN}][^()（）]*)[)）]")
_GLOSSED = re.compile(rf"([A-Za-z][\w.-]*)\s*[（(]([{HAN}][^()（）]{{0,12}})[)）]")


_FIGURE_WORD = re.compile(r"^(?:万亿|亿|万|千|百)+(?:美元|元|美金|人民币|日元|欧元)?$")  # 亿美元: a scale
_CN_NUMERAL = re.compile("[零〇一二两三四五六七八九十百千万亿]")
_NAME_PAIR = re.compile(r"\b([A-Z][a-z]+) ([A-Z][a-z]+)\b")  # Middle East, Silicon Valley
_COUNTED = re.compile(rf"[a-z][a-z-]{{2,}}|[{HAN}]{{2}}")


def content_words(folded: str) -> list[str]:
    """Content words of folded text: jieba's words (no HMM: fast, and names stay whole) without
    stopwords and punctuation; single characters in a row are joined into one word."""
    out = []
    run = ""  # single Han characters in a row: a word the dictionary does not know (算力)
    for token in [*cut(folded, hmm=False), ""]:
        token = token.strip()
        if len(token) == 1 and HAN_CHAR.match(token) and token not in STOPWORDS:
            run += token
            continue
        if len(run) >= 2:
            out.append(run)
        run = ""
        if is_content(token):
            out.append(token)
    return out


_URL = re.compile(r"(?:\b[a-z][a-z0-9+.-]*://|\bwww\.|(?<![\w/])//(?=\w))[^\s)\]>\"'“”]*", re.IGNORECASE)
_URL_HINT = re.compile(r"//|www\.", re.IGNORECASE)  # in every match of _URL; quicker to look for


def without_urls(text: str) -> str:
    """The text with its URLs blanked: an address is never evidence, nor a claim."""
    return _URL.sub(" ", text) if _URL_HINT.search(text) else text


# -- a passage -------------------------------------------------------------------------------------


@dataclass
class PassageFacts:
    """What one passage can support: its sentences (folded), figures and their positions."""

    folded: str
    sentences: list[str]
    figures: list[tuple[Quantity, int, int]]
    han: bool
    latin: bool
    raw: list[str]  # the sentences as written (Latin names are capitalised)

    @classmethod
    def of(cls, sentences: list[str], raw: list[str] | None = None) -> PassageFacts:
        sentences = [without_urls(s) for s in sentences]
        folded = "\n".join(sentences)
        return cls(
            folded,
            sentences,
            located_figures(folded),
            bool(HAN_CHAR.search(folded)),
            not is_chinese(folded),
            [without_urls(s) for s in raw] if raw and len(raw) == len(sentences) else sentences,
        )

    def has(self, term: str, text: str | None = None) -> bool:
        """The term occurs (a Latin word by its stem, at a word start)."""
        text = self.folded if text is None else text
        if HAN_CHAR.search(term):
            return term in text
        return word_start(term).search(text) is not None

    def has_translation(self, word: str, text: str | None = None) -> bool:
        text = self.folded if text is None else text
        return any(t in text for t in translations(word))

    def has_sense(self, word: str, text: str | None = None) -> bool:
        """A translation of the (English) word occurs, or the character most of them share."""
        text = self.folded if text is None else text
        return self.has_translation(word, text) or any(c in text for c in core_characters(word))

    def has_name(self, name: str) -> bool:
        """A Chinese name occurs, as written or in its English spelling (英伟达, or NVIDIA)."""
        english = english_name(name)
        return name in self.folded or (bool(english) and all(self.has(e) for e in english))


# -- a claim ---------------------------------------------------------------------------------------


@dataclass
class ClaimFacts:
    """An answer sentence: its figures (and what each counts), content words, names, quoted originals."""

    text: str
    folded: str
    figures: list[tuple[Quantity, str]]  # the figure, and the word after it (what it counts)
    han_terms: list[str]
    latin_terms: list[str]
    names: list[str]
    quoted: list[str]  # Han text an English sentence quotes in brackets
    han_names: list[str]  # the dictionary names a Chinese sentence writes (英伟达, 索尼)
    pairs: list[str]
    chinese: bool  # is_chinese(text), asked for against every passage
    phrases: dict[str, str]  # a name that is one word of a two-word name the dictionary knows
    near: dict[str, tuple[str, ...]]  # each name's nearest terms before and after it
    context: list[tuple[str, ...]]  # each figure's nearest terms in its clause, before and after it

    @classmethod
    def of(cls, text: str) -> ClaimFacts:
        """The facts of a sentence (kept for the sentences seen last: a streamed sentence is checked
        as it arrives and again with the whole answer)."""
        return _claim_facts(text)

    @classmethod
    def read(cls, text: str) -> ClaimFacts:
        text = without_urls(text)
        folded = fold(text)
        figures: list[tuple[Quantity, str]] = []
        places: list[tuple[int, int]] = []
        for quantity, start, unit_end in located_figures(folded):
            same = [q for q, _ in figures if (q.value, q.high) == (quantity.value, quantity.high)]
            if any(found_quantity(quantity, [q]) for q in same):
                continue  # "$60 billion (600亿美元)": one figure, written twice
            places.append((start, unit_end))
            after = [w for w in _COUNTED.findall(folded[unit_end : unit_end + 16]) if not UNIT_WORD.match(w)]
            after = [w for w in after if w not in _ENGLISH_FILLER and w not in STOPWORDS]
            figures.append((quantity, after[0] if after else ""))
        han: list[str] = []
        latin: list[str] = []
        for w in content_words(folded):
            if w in _IGNORED or w[0].isdigit() or UNIT_WORD.match(w) or w in han or w in latin:
                continue
            if HAN_CHAR.search(w):
                if _CN_NUMERAL.search(w) and (_FIGURE_WORD.match(w) or all_quantities(w)):
                    continue  # 六十年, 亿美元: a figure, checked as one
                if len(w) >= 2:
                    han.append(w)
            elif len(w) >= 3 and w not in _ENGLISH_FILLER and not all_quantities(w):
                latin.append(w)
        names = latin_names(text, _COMMON)
        chinese = is_chinese(text)
        quoted = [fold(q) for q in _QUOTED.findall(text)] if not chinese else []
        # a name followed by the passage's own word for it ("Miyakawa (宫川)") is checked by that word
        glossed = {fold(m.group(1)): fold(m.group(2)) for m in _GLOSSED.finditer(text)}
        names = [n for n in names if n not in glossed] + [g for n, g in glossed.items() if n in names]
        pairs = list(dict.fromkeys(bigrams(folded)))
        phrases: dict[str, str] = {}  # "Middle East" is looked up as one name (中东), not as two
        for m in _NAME_PAIR.finditer(text) if names else ():
            phrase = f"{m.group(1)} {m.group(2)}".lower()
            if translations(phrase):
                phrases.update({m.group(1).lower(): phrase, m.group(2).lower(): phrase})
        named = han_names(folded) if chinese else []
        near = neighbours(folded, han + latin, names + named)
        context = [_context(folded, s, e, han + latin) for s, e in places]
        facts = (figures, han, latin, names, quoted, named, pairs, chinese, phrases, near, context)
        return cls(text, folded, *facts)


def _context(folded: str, start: int, end: int, terms: list[str]) -> tuple[str, ...]:
    """The terms nearest a figure of a sentence, in its clause, before and after it: what it is about."""
    left, right = clause(folded, start, end, len(folded))
    before, after = folded[left:start], folded[end:right]
    ahead = sorted((before.rfind(t), t) for t in terms if t in before)[-CONTEXT_WORDS:]
    behind = sorted((after.find(t), t) for t in terms if t in after)[:CONTEXT_WORDS]
    return tuple(t for _, t in ahead + behind)


@lru_cache(maxsize=CLAIM_CACHE)
def _claim_facts(text: str) -> ClaimFacts:
    return ClaimFacts.read(text)


# -- features --------------------------------------------------------------------------------------


def features(claim: ClaimFacts, passage: PassageFacts) -> dict[str, float]:
    """The feature values of a sentence against one passage (see the module docstring)."""
    figures = check_figures(claim.figures, passage.figures, lambda w, s, e: _near(w, passage, s, e))
    missing, n_fig, missing_share = figures.missing, figures.count, figures.share(figures.missing)
    where = (passage.figures, passage.folded, lambda w, t: found_term(w, passage, t))
    displaced, swaps = displaced_figures(claim.figures, claim.context, figures.spots, *where)
    han_check = [t for t in claim.han_terms if passage.han]
    han_found = [t for t in han_check if t in passage.folded]
    latin_found = [t for t in claim.latin_terms if passage.has(t)]
    cross = [t for t in claim.latin_terms if t not in latin_found and t not in claim.names]
    cross_found = [t for t in cross if passage.han and passage.has_sense(t)]
    found_units = len(han_found) + len(latin_found) + len(cross_found)
    checkable = len(han_check) + len(claim.latin_terms)
    share = found_units / checkable if checkable else 0.0
    local = 0.0  # the best share of the terms found in one sentence (none found: none in any sentence)
    closest = -1  # that sentence
    for k, sentence in enumerate(passage.sentences if han_found or latin_found or cross_found else ()):
        hits = sum(t in sentence for t in han_found) + sum(passage.has(t, sentence) for t in latin_found)
        hits += sum(passage.has_sense(t, sentence) for t in cross_found)
        if checkable and hits / checkable > local:
            local, closest = hits / checkable, k
    names_missing = [n for n in claim.names if not _named(n, claim, passage)]
    han_names_missing = [n for n in claim.han_names if not passage.has_name(n)]
    missing_names = names_missing + han_names_missing
    named, cross_script = len(claim.names) + len(claim.han_names), passage.han and not claim.chinese
    rival = local >= SWAP_MIN_LOCAL and swapped(claim, passage, closest, missing_names, _COMMON)
    pairs = sum(p in passage.folded for p in claim.pairs) / len(claim.pairs) if claim.pairs else 0.0
    quoted = (
        sum(any(p in passage.folded for p in bigrams(q)) or q in passage.folded for q in claim.quoted)
        / len(claim.quoted)
        if claim.quoted
        else 0.0
    )
    units = len(claim.han_terms) + len(claim.latin_terms) + n_fig
    return {
        "num_missing": missing_share,
        "num_missing_any": float(missing > 0),
        "num_all_found": float(n_fig > 0 and missing == 0),
        # a figure changed in a sentence whose words are all there: the typical wrong fact
        "num_missing_where_words_match": missing_share * local,
        "name_missing_where_words_match": float(bool(names_missing)) * local,
        "num_context_absent": figures.share(figures.absent),
        "num_rival": float(figures.rivalled > 0),
        # a figure found, but the words around it in the sentence are next to another figure there
        "num_displaced": figures.share(displaced),
        "num_swapped": figures.share(swaps),  # two figures of the sentence given each other's things
        "term_share": share,
        "term_missing": math.log1p(
            len(han_check) - len(han_found) + len(claim.latin_terms) - len(latin_found) - len(cross_found)
        ),
        "han_pairs": pairs,
        "local_share": local,
        "name_missing": math.log1p(len(names_missing)),
        "name_missing_any": float(bool(names_missing)),
        "han_name_missing": math.log1p(len(han_names_missing)),
        "cross_share": len(cross_found) / len(cross) if cross and passage.han else 0.0,
        "quoted_share": quoted,
        "cross_script": float(cross_script),
        # the share of an English sentence's names a Chinese passage gives (in either script)
        "cross_names": 1.0 - len(missing_names) / named if cross_script and named else 0.0,
        "content_units": math.log1p(units),
        "no_content": float(units == 0),
        # the words are there and so is every figure and name: the claim as a whole is grounded
        "grounded": local * (1.0 - missing_share) * float(not names_missing),
        # a name missing, and the closest passage sentence holds another the claim does not give
        "name_swapped": float(rival),
    }


def _named(name: str, claim: ClaimFacts, passage: PassageFacts) -> bool:
    """A name of the claim is in the passage: as written, or (a Chinese passage) translated, alone or
    as the two-word name it is part of."""
    if passage.has(name):
        return True
    phrase = claim.phrases.get(name)
    return passage.han and (
        passage.has_translation(name) or (phrase is not None and passage.has_translation(phrase))
    )


def _near(counted: str, passage: PassageFacts, start: int, end: int) -> bool:
    """The word the claim's figure counts occurs next to the passage's figure (or a translation of it)."""
    window = passage.folded[max(0, start - 24) : end + 24]
    if HAN_CHAR.search(counted):
        return counted in window or any(p in window for p in bigrams(counted))
    return passage.has(counted, window) or any(t in window for t in translations(counted))


# -- the fitted model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """Logistic regression over `FEATURES`: P(passage supports sentence) and the keep threshold."""

    names: tuple[str, ...]
    weights: np.ndarray
    bias: float
    threshold: float

    def probability(self, values: dict[str, float]) -> float:
        x = np.fromiter((values[n] for n in self.names), dtype=float, count=len(self.names))
        return float(1.0 / (1.0 + np.exp(-(x @ self.weights + self.bias))))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Model:
        names = tuple(data["features"])
        return cls(
            names,
            np.asarray([data["weights"][n] for n in names], dtype=float),
            float(data["bias"]),
            float(data["threshold"]),
        )


@lru_cache(maxsize=1)
def model() -> Model:
    """The shipped model (section "verifier" of rag/model.json)."""
    return Model.from_dict(shipped_weights()[SECTION])
