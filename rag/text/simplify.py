"""Traditional → simplified script: OpenCC's t2s result, byte for byte, in a fraction of its time.

opencc-python-reimplemented finds dictionary matches by trying every substring of every key length
in pure Python; that was about a third of a cold citation check. Its result follows one rule, which
`_Group` applies with C-speed string methods and regular expressions on the converter's own
dictionaries and separators:

- the text is split at OpenCC's separators (punctuation, spaces), which pass through unchanged;
- each piece goes through each dictionary group of the conversion chain in turn;
- within a group, the longest key of its first dictionary found in the piece (of equal ones the
  leftmost) is replaced by its first value; the parts left and right of it go through the group
  again, and a part without any key of that dictionary goes on to the group's next dictionary.

t2s is one group: a few hundred phrases, then single characters. A text in which no phrase occurs
(nearly every text) is converted character by character with `str.translate`, unsplit, and not at
all when none of its characters changes (English, most simplified text).

The converter is built from the library's data only when that data has the shape the rule assumes
and it gives the library's own output on `_PROBES`; otherwise the library converts (`to_simplified`).
tests/test_text_simplify.py compares the two on every line of the bundled and invented corpora.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Traditional text with every kind of match: phrases longer than a character that override the
# character table (反覆 → 反复, not 反覆), phrases kept as they are (乾隆), several values for one key
# (情有獨鍾), separators between pieces, and text the conversion leaves alone.
_PROBES = (
    "黃仁勛發表演講，說英偉達的ＡＩ工廠需要1000兆瓦。",
    "反覆思維之後，他回覆了：情有獨鍾、沈默是金；乾隆年間，頭髮乾了。",
    "有序的數據中心 — GPU 與 HBM 記憶體（記憶體頻寬）…",
    "NVIDIA builds AI factories; 这是简体中文，没有需要转换的字。二噁英",
)
_NEVER = re.compile(r"(?!)")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # beyond the Basic Multilingual Plane


def _any_of(strings: list[str]) -> re.Pattern[str]:
    """A pattern that finds any of the strings (a character class when they are single characters
    of the Basic Multilingual Plane: a bitmap lookup per character)."""
    if not strings:
        return _NEVER
    if all(len(s) == 1 and s <= "\uffff" for s in strings):
        return re.compile("[" + "".join(re.escape(s) for s in sorted(strings)) + "]")
    return re.compile("|".join(re.escape(s) for s in sorted(strings, key=len, reverse=True)))


@dataclass(frozen=True)
class _Characters:
    """Single-character keys as a `str.translate` table, with patterns that tell whether a text holds
    a character the table changes (those beyond the Basic Multilingual Plane make a slow character
    class: it is tried only on a text that has such characters)."""

    table: dict[int, str]
    basic: re.Pattern[str]
    astral: re.Pattern[str]

    @classmethod
    def of(cls, values: dict[str, str]) -> _Characters:
        changed = [key for key, value in values.items() if value != key]
        return cls(
            {ord(key): value for key, value in values.items()},
            _any_of([key for key in changed if key <= "\uffff"]),
            _any_of([key for key in changed if key > "\uffff"]),
        )

    def convert(self, text: str) -> str:
        if self.basic.search(text) is None and (
            _ASTRAL.search(text) is None or self.astral.search(text) is None
        ):
            return text
        return text.translate(self.table)


@dataclass(frozen=True)
class _Dictionary:
    """One OpenCC dictionary: its keys by first character (longest first) and each key's first value;
    `characters` when every key is a single character."""

    by_first: dict[str, tuple[str, ...]]
    values: dict[str, str]
    characters: _Characters | None

    @classmethod
    def of(cls, mapping: dict[str, str]) -> _Dictionary:
        values = {key: value.split(" ")[0] for key, value in mapping.items()}
        if not all(values.values()) or not all(values):
            raise ValueError("an empty key or value")  # OpenCC treats an empty value as no match
        by_first: dict[str, list[str]] = {}
        for key in values:
            by_first.setdefault(key[0], []).append(key)
        single = all(len(key) == 1 for key in values)
        return cls(
            {c: tuple(sorted(keys, key=len, reverse=True)) for c, keys in by_first.items()},
            values,
            _Characters.of(values) if single else None,
        )

    def longest(self, piece: str) -> tuple[int, str] | None:
        """(position, key) of the longest key found in the piece, the leftmost of equally long ones."""
        best: tuple[int, str] | None = None
        for first in self.by_first.keys() & set(piece):
            for key in self.by_first[first]:
                if best is not None and len(key) < len(best[1]):
                    break  # longest first: no later key of this character can win
                at = piece.find(key)
                if at >= 0 and (best is None or len(key) > len(best[1]) or at < best[0]):
                    best = (at, key)
        return best


@dataclass(frozen=True)
class _Group:
    """Dictionaries applied together, in order: a part one of them matches is not seen by the next.
    `others` finds any key of the dictionaries before the last."""

    dictionaries: tuple[_Dictionary, ...]
    others: re.Pattern[str]

    @classmethod
    def of(cls, dictionaries: tuple[_Dictionary, ...]) -> _Group:
        return cls(dictionaries, _any_of([key for d in dictionaries[:-1] for key in d.values]))

    def by_characters(self, text: str) -> str | None:
        """The text converted when only the last dictionary, of single characters, can match in it
        (then every piece of it converts character by character); None otherwise."""
        characters = self.dictionaries[-1].characters
        if characters is None or self.others.search(text) is not None:
            return None
        return characters.convert(text)

    def convert(self, piece: str) -> str:
        out: list[str] = []
        last = len(self.dictionaries)
        stack = [(piece, 0)]  # (part, index of the dictionary it goes to); `last`: converted
        while stack:
            part, level = stack.pop()
            if not part or level == last:
                out.append(part)
                continue
            dictionary = self.dictionaries[level]
            if dictionary.characters is not None and level == last - 1:
                out.append(dictionary.characters.convert(part))  # one character at a time
                continue
            found = dictionary.longest(part)
            if found is None:
                stack.append((part, level + 1))
                continue
            at, key = found  # left part first: pushed last
            stack += [(part[at + len(key) :], level), (dictionary.values[key], last), (part[:at], level)]
        return "".join(out)


@dataclass(frozen=True)
class FastConverter:
    """OpenCC's conversion rule over OpenCC's dictionaries and separators (see the module docstring)."""

    separators: re.Pattern[str]
    chain: tuple[_Group, ...]

    @classmethod
    def of(cls, converter: Any) -> FastConverter:
        """The fast form of an initialised `opencc.OpenCC` (ValueError when its data has another shape)."""
        try:
            chain = tuple(
                _Group.of(tuple(_Dictionary.of(table) for _, _, table in group))
                for group in converter._dict_chain_data
            )
            separators = converter.split_chars_re
            keys = [key for group in chain for d in group.dictionaries for key in d.values]
        except (AttributeError, TypeError) as exc:
            raise ValueError(f"unexpected OpenCC data: {exc}") from None
        if not chain or not all(group.dictionaries for group in chain):
            raise ValueError("an empty conversion chain or group")
        if not isinstance(separators, re.Pattern) or any(separators.search(key) for key in keys):
            raise ValueError("a key holds a separator")  # it could never match in OpenCC
        return cls(separators, chain)

    def convert(self, text: str) -> str:
        if len(self.chain) == 1 and (converted := self.chain[0].by_characters(text)) is not None:
            return converted  # no character key is a separator: no need to split
        parts = self.separators.split(text)  # pieces at even indexes, separators at odd ones
        for i in range(0, len(parts), 2):
            for group in self.chain:
                parts[i] = group.convert(parts[i])
        return "".join(parts)


@lru_cache(maxsize=1)
def library() -> Any:
    """OpenCC's t2s converter, its dictionaries loaded."""
    from opencc import OpenCC

    converter = OpenCC("t2s")
    converter.convert("")
    return converter


@lru_cache(maxsize=1)
def fast() -> FastConverter | None:
    """The fast converter, or None when the library's data does not fit the rule or its output on
    `_PROBES` differs (another opencc version): then the library converts."""
    try:
        converter = FastConverter.of(library())
    except ValueError:
        return None
    if any(converter.convert(p) != library().convert(p) for p in _PROBES):
        return None
    return converter


def to_simplified(text: str) -> str:
    """Fold traditional Chinese script to simplified: exactly OpenCC t2s (`library().convert`)."""
    converter = fast()
    return converter.convert(text) if converter is not None else str(library().convert(text))
