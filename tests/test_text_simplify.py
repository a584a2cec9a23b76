"""The fast traditional→simplified conversion gives OpenCC's own output, on every corpus line and on
random mixtures of the dictionaries' keys, and the library converts when its data does not fit."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator

import pytest

from rag.text import simplify
from rag.text.clean import fold, strip_pinyin, to_simplified
from tests.support.corpus import document_lines

TRADITIONAL = [
    "黃仁勛發表演講",
    "英偉達(dá)ＡＩ工廠",
    "反覆思維之後，他回覆了：情有獨鍾、沈默是金；乾隆年間，頭髮乾了。",
    "酒逢知己千鍾少話不投機半句多",
    "大目乾連冥間救母變文",
    "一目瞭然的數據中心與記憶體頻寬",
    "沈船沈沒沈積，有序排列，么麼小丑，二噁英",
    "臺灣的資料中心-伺服器．機櫃／電源",
    "",
    " ",
    "，。",
]


def _lines() -> list[str]:
    return document_lines() + TRADITIONAL


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return _lines()


def test_the_fast_converter_is_used() -> None:
    assert simplify.fast() is not None


def test_every_corpus_line_converts_as_opencc_converts_it(lines: list[str]) -> None:
    fast = simplify.fast()
    assert fast is not None
    library = simplify.library()
    assert [fast.convert(line) for line in lines] == [library.convert(line) for line in lines]
    assert to_simplified("黃仁勛發表演講") == "黄仁勋发表演讲"


def test_fold_is_unchanged_on_every_corpus_line(lines: list[str]) -> None:
    library = simplify.library()

    def opencc_fold(text: str) -> str:
        return str(library.convert(unicodedata.normalize("NFKC", strip_pinyin(text)))).lower()

    assert [fold(line) for line in lines] == [opencc_fold(line) for line in lines]


def _mixtures(count: int) -> Iterator[str]:
    """Strings made of whole and cut phrase keys, character keys, their values, separators and
    other Han characters: overlapping and adjacent matches of every kind."""
    ((_, _, phrases), (_, _, characters)) = simplify.library()._dict_chain_data[0]
    phrase_keys, character_keys = sorted(phrases), sorted(characters)
    values = sorted(v for table in (phrases, characters) for v in table.values())
    separators = [*"，。 -.、（）《》…", "  ", "\t"]
    rng = random.Random(20240611)
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 12)):
            pick = rng.random()
            if pick < 0.35:
                key = rng.choice(phrase_keys)
                cut = rng.random() < 0.3
                parts.append(key[rng.randint(0, 1) : len(key) - rng.randint(0, 1)] if cut else key)
            elif pick < 0.6:
                parts.append(rng.choice(character_keys))
            elif pick < 0.7:
                parts.append(rng.choice(separators))
            elif pick < 0.8:
                parts.append(rng.choice(values))
            else:
                parts.append(chr(rng.randint(0x4E00, 0x9FFF)))
        yield "".join(parts)


def test_random_mixtures_of_keys_convert_as_opencc_converts_them() -> None:
    fast = simplify.fast()
    assert fast is not None
    library = simplify.library()
    texts = list(_mixtures(5000))
    assert [fast.convert(t) for t in texts] == [library.convert(t) for t in texts]


class _Other:
    """A converter whose output the fast rule does not reproduce (as another opencc version might)."""

    def __init__(self, data: list[list[tuple[int, int, dict[str, str]]]], separators: object) -> None:
        self._dict_chain_data = data
        self.split_chars_re = separators

    def convert(self, text: str) -> str:
        return text.upper()


def test_the_library_converts_when_its_data_does_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    separators = simplify.library().split_chars_re
    with pytest.raises(ValueError):
        simplify.FastConverter.of(object())
    with pytest.raises(ValueError):  # a key across a separator
        simplify.FastConverter.of(_Other([[(2, 2, {"a，b": "c"})]], separators))
    other = _Other([[(1, 1, {"x": "y"})]], separators)
    monkeypatch.setattr(simplify, "library", lambda: other)
    simplify.fast.cache_clear()
    try:
        assert simplify.fast() is None
        assert simplify.to_simplified("abc") == "ABC"
    finally:
        monkeypatch.undo()
        simplify.fast.cache_clear()
    assert simplify.fast() is not None
