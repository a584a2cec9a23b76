"""Numbers as an answer states them and as a passage holds them, with multipliers and units resolved
(1 吉瓦 = 1 GW = 1,000 MW, 25 艾 = 25 exa, 600 亿 = 60 billion), so the two can be compared; a figure
given by its order only (几十) is a range, and a sum may name its currency (rag.verification.figures)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

RANGE_OVERLAP = 0.5  # of the narrower of two ranges (in orders of magnitude) both must share to match
_CN_DIGIT = {c: int(d) for c, d in zip("零〇一二两三四五六七八九", "001223456789")}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}
_EN_NUMBER = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}  # fmt: skip
# (pattern, factor), longest first; folded (lowercase, NFKC) text.
_SCALES: list[tuple[str, float]] = [
    ("万亿", 1e12), ("千亿", 1e11), ("百亿", 1e10), ("亿", 1e8), ("千万", 1e7), ("百万", 1e6), ("万", 1e4),
    ("千(?!瓦)", 1e3), ("hundred million", 1e8), ("trillion", 1e12), ("billion", 1e9), ("bn", 1e9),
    ("million", 1e6), ("thousand", 1e3), ("hundred", 1e2),
]  # fmt: skip
# (pattern, factor, dimension)
_UNITS: list[tuple[str, float, str]] = [
    ("艾(?:字节|次|flops?)?", 1e18, ""), ("exa", 1e18, ""), ("e(?=flops?)", 1e18, ""), ("peta", 1e15, ""),
    ("p(?=flops?)", 1e15, ""), ("tera", 1e12, ""), ("t(?=flops?|b\\b)", 1e12, ""), ("giga(?!watt)", 1e9, ""),
    ("g(?=flops?|b[^a-z]|b$)", 1e9, ""),
    ("千兆瓦|吉瓦|gigawatts?|gw\\b", 1e9, "w"), ("兆瓦|megawatts?|mw\\b", 1e6, "w"),
    ("千瓦|kilowatts?|kw\\b", 1e3, "w"), ("瓦|watts?|w\\b", 1.0, "w"),
    ("%|％|percent|per cent", 1.0, "%"), ("成(?![立功本为员])", 10.0, "%"),
]  # fmt: skip
# measure words that make a Chinese numeral before them a figure (五片, 三辆, 两代)
_MEASURE = (
    "个|座|年|倍|家|名|人|位|次|台|款|种|项|月|日|天|颗|块|张|条|小时|分钟|秒|美元|元|磅|岁|纳米"
    "|片|辆|架|篇|件|份|部|只|批|轮|层|代|周|季度|公里|米|吨|所|栋|艘|枚|根|套|组"
)
_SCALE_RE = "|".join(p for p, _ in _SCALES)
_UNIT_RE = "|".join(f"(?:{p})" for p, _, _ in _UNITS)
UNIT_TAIL = rf"\s*(?P<scale>{_SCALE_RE})?\s*(?P<unit>{_UNIT_RE})?"
_TAIL_RE = re.compile(UNIT_TAIL)
# (not the digits of a code such as 7f3a9: letters then digits again right after the number)
_ARABIC = re.compile(rf"(?<![a-z0-9.])(?P<num>\d+(?:\.\d+)?)(?![a-z]+\d){UNIT_TAIL}")
# the same, for text whose thousands are still grouped ("1,000 兆瓦")
_ARABIC_GROUPED = re.compile(
    rf"(?<![a-z0-9.,])(?P<num>\d{{1,3}}(?:,\d{{3}})+(?!\d)|\d+(?:\.\d+)?)(?![a-z]+\d){UNIT_TAIL}"
)
_CN_NUMERAL = "[零〇一二两三四五六七八九十百千]+"
_CHINESE = re.compile(
    rf"(?<!百分之)(?<![\d.])(?P<num>{_CN_NUMERAL})(?P<scale>万亿|亿|万)?(?=(?P<unit>{_UNIT_RE})|{_MEASURE})"
)
_CN_PERCENT = re.compile(rf"百分之(?P<num>{_CN_NUMERAL})")
_ENGLISH = re.compile(
    rf"(?<![a-z])(?P<num>{'|'.join(_EN_NUMBER)})[\s-]+(?=(?:{_SCALE_RE}|{_UNIT_RE}))(?P<rest>{UNIT_TAIL})"
)
# What the patterns above need to match at all: a text without it is not searched with them.
_DIGIT = re.compile(r"\d")
_CN_NUMERAL_CHAR = re.compile("[零〇一二两三四五六七八九十百千]")
_LOWER_LATIN = re.compile("[a-z]")  # every English number word
_GROUPED = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_LIST_NUMBER = re.compile(r"^\s*\d{1,2}[.、)]\s+")
UNIT_WORD = re.compile(rf"^(?:{_SCALE_RE}|{_UNIT_RE}|exaflops?|字节|flops?)$")


@dataclass(frozen=True)
class Quantity:
    """A number as written (`raw`) and scaled by its multiplier and unit (`value`), with its dimension;
    a figure given by its order only (几十) is the range [`value`, `high`); a sum may name its currency."""

    raw: float
    value: float
    dim: str
    high: float = 0.0  # above `value` for a figure given as a range, else 0
    currency: str = ""


def _bare(pattern: str) -> re.Pattern[str]:
    """A table pattern without its lookarounds, to match a word already cut out of the text."""
    return re.compile(re.sub(r"\(\?[=!][^)]*\)", "", pattern))


_UNIT_LOOKUP = [(_bare(p), f, d) for p, f, d in _UNITS]
_SCALE_LOOKUP = [(_bare(p), f, "") for p, f in _SCALES]


def _lookup(table: Sequence[tuple[re.Pattern[str], float, str]], word: str | None) -> tuple[float, str]:
    return next(((f, d) for p, f, d in table if word and p.fullmatch(word)), (1.0, ""))


def chinese_number(text: str) -> float:
    """The value of a number written in Chinese numerals (二〇二五, 三百五十)."""
    if len(text) > 1 and all(c in _CN_DIGIT for c in text):
        return float("".join(str(_CN_DIGIT[c]) for c in text))  # 二〇二五
    total, digit = 0, 0
    for c in text:
        if c in _CN_DIGIT:
            digit = _CN_DIGIT[c]
        else:
            total += (digit or 1) * _CN_UNIT[c]
            digit = 0
    return float(total + digit)


def make_quantity(raw: float, scale: str | None, unit: str | None) -> Quantity:
    unit_factor, dim = _lookup(_UNIT_LOOKUP, unit)
    return Quantity(raw, raw * _lookup(_SCALE_LOOKUP, scale)[0] * unit_factor, dim)


def quantities(folded: str) -> list[Quantity]:
    """The numbers stated in folded text, with Chinese and English multipliers and units resolved."""
    out: list[Quantity] = []
    text = folded
    if _DIGIT.search(text):  # each pattern here needs what it is guarded by (most text has none)
        text = _GROUPED.sub("", text)  # 1,000 → 1000
        text = _LIST_NUMBER.sub("", text)
        out += [make_quantity(float(m["num"]), m["scale"], m["unit"]) for m in _ARABIC.finditer(text)]
    for m in _CHINESE.finditer(text) if _CN_NUMERAL_CHAR.search(text) else ():
        if m["num"] == "一" and not (m["scale"] or m["unit"]):
            continue  # 一个, 一种: an article, not a figure
        out.append(make_quantity(chinese_number(m["num"]), m["scale"], m["unit"]))
    if "百分之" in text:
        out += [Quantity(n, n, "%") for n in (chinese_number(m["num"]) for m in _CN_PERCENT.finditer(text))]
    for m in _ENGLISH.finditer(text) if _LOWER_LATIN.search(text) else ():
        rest = _TAIL_RE.match(m["rest"])
        assert rest is not None
        out.append(make_quantity(float(_EN_NUMBER[m["num"]]), rest["scale"], rest["unit"]))
    return out


def found_quantity(q: Quantity, pool: Sequence[Quantity]) -> bool:
    """The quantity occurs in the pool: same scaled value (and dimension, when the answer gives one), or
    the same bare number when the answer gives no unit; a range holds the figures inside it and the
    ranges it mostly shares (几十 = "dozens"), a precise figure is never found in a range, and sums in
    two currencies differ."""
    return any(_same(q, p) for p in pool)


def _same(q: Quantity, p: Quantity) -> bool:
    if q.currency and p.currency and q.currency != p.currency:
        return False
    if q.high or p.high:
        if not q.high or not (q.dim == p.dim or not q.dim):
            return False
        if not p.high:
            return q.value <= p.value < q.high
        low, high = max(q.value, p.value), min(q.high, p.high)
        shared = math.log10(high / low) if 0 < low < high else 0.0
        return shared >= RANGE_OVERLAP * min(math.log10(q.high / q.value), math.log10(p.high / p.value))
    return (math.isclose(q.value, p.value, rel_tol=1e-6) and (q.dim == p.dim or not q.dim)) or (
        q.value == q.raw and not q.dim and math.isclose(q.raw, p.raw, rel_tol=1e-6)
    )


def restated(folded: str, amounts: Sequence[Quantity]) -> str:
    """The text with every figure that states one of the amounts blanked out, in whatever unit or
    multiplier it is written (1 吉瓦 = 1000 兆瓦 = 1 GW)."""
    if not amounts:
        return folded

    def blank(match: re.Match[str], number: float) -> str:
        q = make_quantity(number, match["scale"], match["unit"])
        same = any(math.isclose(q.value, a.value, rel_tol=1e-6) and q.dim == a.dim for a in amounts)
        return " " if same and (q.dim or q.value != q.raw) else match.group(0)

    text = _ARABIC_GROUPED.sub(lambda m: blank(m, float(m["num"].replace(",", ""))), folded)
    return _CHINESE.sub(lambda m: blank(m, chinese_number(m["num"])), text)


# Numbers written in words (六十, 两千亿, 十分之一, "sixty"), and where each figure of a text stands.

_CN_SCALE = {"万亿": 1e12, "亿": 1e8, "万": 1e4}
_CN_WORDS = re.compile(
    r"(?<![第\d])([零〇一二两三四五六七八九十百千]{2,}|[二两三四五六七八九十百千])(万亿|亿|万)?(分之([零〇一二两三四五六七八九十百]+))?"
)
_EN_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}  # fmt: skip
_EN_TENS = {
    w: 10 * i
    for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split())
    if w != "_"
}
_EN_SCALE = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_EN_ALT = "|".join(
    sorted([*_EN_TENS, *_EN_UNITS], key=len, reverse=True)
)  # longest first: eighteen, not eight
_EN_WORDS = re.compile(
    r"\b((?:(?:" + _EN_ALT + r")\b[\s-]?)+)((?:hundred|thousand|million|billion|trillion)\b)?",
)
_NUMBER_TAIL = re.compile(r"[\d,.\s零〇一二两三四五六七八九十百千万亿]*")  # where a figure's number ends
_NUMBER_AT = re.compile(
    f"百分之{_CN_NUMERAL}"
    r"|\d[\d,]*(?:\.\d+)?\s*(?:万亿|亿|万|千)?|[零〇一二两三四五六七八九十百千]+(?:万亿|亿|万)?"
    r"|\b(?:" + _EN_ALT + r")\b(?:[\s-]+(?:" + _EN_ALT + r")\b)*"
)


def _words_numbers(folded: str) -> list[Quantity]:
    """Numbers written in words that `quantities` leaves out: 六十, 两千亿, 十分之一, "sixty"."""
    out: list[Quantity] = []
    for m in _CN_WORDS.finditer(folded) if _CN_NUMERAL_CHAR.search(folded) else ():
        body, scale, fraction, denominator = m.groups()
        if body == "十" and folded[m.end() : m.end() + 1] in ("分", "足") and not fraction:
            continue  # 十分 (very), 十足
        if len(body) == 1 and not scale and not fraction:
            continue  # a lone 三 or 百 is more often a word than a figure
        if fraction:  # 十分之一: one part in ten
            share = chinese_number(denominator) / (chinese_number(body) or 1.0)
            out.append(Quantity(share, share, "ratio"))
            continue
        value = chinese_number(body) * _CN_SCALE.get(scale or "", 1.0)
        out.append(Quantity(value, value, ""))
    for m in _EN_WORDS.finditer(folded) if _LOWER_LATIN.search(folded) else ():
        parts = re.split(r"[\s-]+", m.group(1).strip())
        if parts == ["one"] and not m.group(2):
            continue  # "one of them": a pronoun more often than a figure
        value = float(sum(_EN_TENS.get(p, _EN_UNITS.get(p, 0)) for p in parts))
        if m.group(2):
            value *= _EN_SCALE[m.group(2)]
        out.append(Quantity(value, value, ""))
    return out


def all_quantities(folded: str) -> list[Quantity]:
    """Figures in folded text: digits with their scales and units, and numbers in words."""
    found = quantities(folded)
    extra = [q for q in _words_numbers(folded) if not found_quantity(q, found)]
    return found + extra


def located_quantities(folded: str) -> list[tuple[Quantity, int, int]]:
    """Each figure of folded text with where its number starts and its unit ends."""
    out: list[tuple[Quantity, int, int]] = []
    spots = list(_NUMBER_AT.finditer(folded))
    for k, m in enumerate(spots):
        stop = spots[k + 1].start() if k + 1 < len(spots) else len(folded)
        window = folded[m.start() : min(stop, m.end() + 14)]
        found = all_quantities(window)
        if found:
            tail = _NUMBER_TAIL.match(window)
            unit_end = max(m.end(), m.start() + (tail.end() if tail else 0))
            out.append((found[0], m.start(), unit_end))
    return out
