"""Place names, so a question for a named place ("which city", 哪个国家) is answered only by a
sentence that names one, and one that asks where by a place where something is or happens.

A place name is a word jieba's dictionary tags as a place (`ns`) that CC-CEDICT lists as a proper
noun (its pinyin capitalised): 东京, 得克萨斯州 and 北欧 are places; 城市, 东西 and 多国, which jieba
also tags `ns`, are not. A proper noun CC-CEDICT locates in such a place is one too: 拉斯维加斯
("Las Vegas, Nevada"), which jieba takes for a person's name.
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache

from rag.text.crosslingual import dictionary_file
from rag.text.tokens import cut, tagged

_PROPER = re.compile(r"\S+ (\S+) \[[A-Z]")  # "東京 东京 [Dong1 jing1] /Tokyo/": simplified, capital pinyin


@lru_cache(maxsize=1)
def place_words() -> frozenset[str]:
    """Every place name jieba and CC-CEDICT agree on, and CC-CEDICT's proper nouns it places in
    one of them ("拉斯维加斯: Las Vegas, Nevada"): about 6,700 words."""
    tagged("")  # loads jieba's tagger, whose dictionary holds the flags
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
