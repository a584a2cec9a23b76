"""Place names, so a question for a named place ("which city", 哪个国家) is answered only by a
sentence that names one, and one that asks where by a place where something is or happens.

A place name is a word jieba's dictionary tags as a place (`ns`) that CC-CEDICT lists as a proper
noun (its pinyin capitalised): 东京, 得克萨斯州 and 北欧 are places; 城市, 东西 and 多国, which jieba
also tags `ns`, are not. A proper noun CC-CEDICT locates in such a place is one too: 拉斯维加斯
("Las Vegas, Nevada"), which jieba takes for a person's name.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

from rag.config import kept_table
from rag.text.crosslingual import dictionary_file
from rag.text.jieba_dict import cache_folder, dictionary_stamp
from rag.text.tokens import cut, tagged

_PROPER = re.compile(r"\S+ (\S+) \[[A-Z]")  # "東京 东京 [Dong1 jing1] /Tokyo/": simplified, capital pinyin
# the version of the rules below: place names kept by older rules are never read back
RULES = 1


@lru_cache(maxsize=1)
def place_words() -> frozenset[str]:
    """Every place name jieba and CC-CEDICT agree on, and CC-CEDICT's proper nouns it places in
    one of them ("拉斯维加斯: Las Vegas, Nevada"): about 6,700 words.

    Read from the two dictionaries once (~0.5 s), then from a file in the cache folder of jieba's
    dictionary (`rag.text.jieba_dict`), named after both dictionaries and these rules (~0.01 s). A
    cache folder that cannot be written only costs the time."""
    tagged("")  # loads jieba's tagger, whose dictionary holds the flags
    return kept_table(
        _kept_file(),
        _read_place_words,
        lambda data: frozenset(json.loads(data.decode("utf-8"))),
        lambda words: json.dumps(sorted(words), ensure_ascii=False).encode("utf-8"),
    )


def _kept_file() -> Path:
    source = dictionary_file()
    info = source.stat()
    stamp = f"{RULES}\0{dictionary_stamp()}\0{source}\0{info.st_size}\0{info.st_mtime_ns}"
    return cache_folder() / f"places-{hashlib.sha256(stamp.encode()).hexdigest()[:16]}.json"


def _read_place_words() -> frozenset[str]:
    import jieba.posseg

    flags: dict[str, str] = jieba.posseg.dt.word_tag_tab
    entries: list[tuple[str, list[str]]] = []  # proper nouns: simplified, "name, where" of the first sense
    with gzip.open(dictionary_file(), "rt", encoding="utf-8") as handle:
        for line in handle:
            match = _PROPER.match(line)
            senses = line.split("/")[1:2]
            if match and senses and flags.get(match.group(1), "n").startswith("n"):
                entries.append((match.group(1), [part.strip().lower() for part in senses[0].split(",")]))
    places = {word for word, _ in entries if flags.get(word) == "ns"}
    english = {parts[0] for word, parts in entries if word in places}
    located = {word for word, parts in entries if english.intersection(parts[1:])}
    return frozenset(places | located)


@lru_cache(maxsize=4096)
def places_in(folded: str) -> frozenset[str]:
    """The place names of folded (simplified) text. Kept for recent sentences: one answer judges
    each candidate sentence several times (reranking, then each part of the question)."""
    known = place_words()
    return frozenset(word for word in cut(folded) if word in known)
