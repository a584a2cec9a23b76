"""A sentence's figures against a passage's: each found by value or not, the thing it counts next to it
or not, and for a missing one, whether the passage gives another figure in its place.

A figure is found when the passage states the same value, whatever its unit, multiplier, currency or
script (rag.text.quantities: 600亿美元 = $60 billion, 1000兆瓦 = 1 GW). A figure given by its order only
is a range (几十 and "dozens" are [10, 100), 数以百万计 and "millions of" [10^6, 10^9)), which holds the
figures inside it; a sum names its currency ($, 美元, euros). A missing figure has a rival when the
passage holds one that answers the same question with another value: the same digits at another
scale, or a value a power of ten away ($600 billion where the passage has 600亿美元, 20万亿 where it
has 2万亿), the same currency or unit, the same thing counted next to it (5000 people where it has
3000人), or another order of magnitude (几百 where it has 几十). A changed figure has a rival; a
figure the passage does not speak of at all has none.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rag.text.quantities import UNIT_TAIL, Quantity, found_quantity, located_quantities, make_quantity

ORDER_SPAN = 10.0  # 几十, "several hundred", "hundreds": one order of magnitude
PLURAL_SPAN = 1000.0  # "thousands", "millions", 数以万计: three
CLAUSE_SPAN = 40  # characters on either side of a passage figure that its clause is looked for in
_CN_ORDER = {"十": 1e1, "百": 1e2, "千": 1e3, "万": 1e4, "十万": 1e5, "百万": 1e6, "千万": 1e7, "亿": 1e8}
_EN_ORDER = {"tens": 1e1, "dozens": 1e1, "hundred": 1e2, "hundreds": 1e2, "thousand": 1e3, "thousands": 1e3,
    "million": 1e6, "millions": 1e6, "billion": 1e9, "billions": 1e9, "trillion": 1e12}  # fmt: skip
_RANGE = re.compile(
    r"数以(?P<counted>十万|百万|千万|百|千|万|亿)计"
    r"|(?:(?P<lead>[几数上])(?=[十百千万亿])(?!百分之)(?P<order>十|百|千)?|(?P<teens>十几))"
    r"(?P<cscale>万亿|亿|万)?"
    r"|\b(?:(?:several|a few|a couple of)\s+(?P<few>hundred|thousand|million|billion|trillion)"
    r"|(?P<many>tens|dozens|hundreds|thousands|millions|billions)"
    r"(?:\s+of\s+(?P<of>thousands|millions|billions))?)\b"
)
_RANGE_HINT = re.compile("[几数上]|several|few|couple|tens|dozens|hundreds|thousands|millions|billions")
_RANGE_TAIL = re.compile(rf"(?:\s*of\b)?{UNIT_TAIL}(?![-a-z])")  # a unit, but not "dozens of gigawatt-class"
# the currency of a sum, written before its number ($60) or after its multiplier (600亿美元, "dollars")
_CURRENCIES = {"美元": "usd", "美金": "usd", "dollar": "usd", "usd": "usd", "$": "usd", "us$": "usd",
    "人民币": "cny", "元": "cny", "yuan": "cny", "rmb": "cny", "欧元": "eur", "euro": "eur", "€": "eur",
    "日元": "jpy", "yen": "jpy", "英镑": "gbp", "£": "gbp"}  # fmt: skip
_CURRENCY_BEFORE = re.compile(r"(?P<c>us\$|\$|€|£|\busd)\s*$")
_CURRENCY_AFTER = re.compile(
    r"[\d,.\s]*(?:(?:万亿|亿|千万|百万|万|千|(?:trillion|billion|million|thousand|bn)\b)\s*)?(?:of\s+)?"
    r"(?P<c>美元|美金|人民币|欧元|日元|英镑|元|(?:u\.?s\.?\s*)?(?:dollar|euro)(?=s?\b)|usd\b|yuan\b|rmb\b|yen\b)"
)
_US = re.compile(r"^u\.?s\.?\s*(?=[a-z])")
_CLAUSE_END = re.compile(r"[,，;；。!?！？()（）:：\n]|\.\s|\s-\s|——")


def located_figures(folded: str) -> list[tuple[Quantity, int, int]]:
    """Each figure of folded text (ranges too) with where its number starts and its unit ends, and
    the currency of each sum."""
    ranges, rest = _ranges(folded)
    found = sorted([*ranges, *located_quantities(rest)], key=lambda f: f[1])
    return [(_with_currency(q, folded, start, end), start, end) for q, start, end in found]


def _ranges(folded: str) -> tuple[list[tuple[Quantity, int, int]], str]:
    """The figures given by their order only (with their places), and the text with them blanked."""
    if not _RANGE_HINT.search(folded):
        return [], folded
    out: list[tuple[Quantity, int, int]] = []
    text = list(folded)
    for m in _RANGE.finditer(folded):
        if m["counted"]:
            low, span = _CN_ORDER[m["counted"]], PLURAL_SPAN
        elif m["lead"] or m["teens"]:
            low = _CN_ORDER.get(m["order"] or "", 1.0) * _CN_ORDER.get(m["cscale"] or "", 1.0)
            low, span = (low * 11, 20 / 11) if m["teens"] else (low, ORDER_SPAN)  # 十几: 11 to 19
        elif m["few"]:
            low, span = _EN_ORDER[m["few"]], ORDER_SPAN
        else:
            low = _EN_ORDER[m["many"]] * _EN_ORDER.get(m["of"] or "", 1.0)
            span = ORDER_SPAN if m["of"] or low < 1e3 else PLURAL_SPAN
        tail = _RANGE_TAIL.match(folded, m.end())
        q = make_quantity(low, tail["scale"], tail["unit"]) if tail else Quantity(low, low, "")
        end = tail.end() if tail else m.end()
        out.append((Quantity(low, q.value, q.dim, q.value * span), m.start(), end))
        text[m.start() : end] = " " * (end - m.start())
    return out, "".join(text)


def _with_currency(q: Quantity, folded: str, start: int, end: int) -> Quantity:
    before = _CURRENCY_BEFORE.search(folded, max(0, start - 5), start)
    after = _CURRENCY_AFTER.match(folded, end) if not before else None
    mark = before["c"] if before else after["c"] if after else ""
    currency = _CURRENCIES.get(_US.sub("", mark), "")
    return replace(q, currency=currency) if currency else q


# (the word a claim's figure counts, where a passage figure starts, where it ends) → that word is there
Near = Callable[[str, int, int], bool]


@dataclass(frozen=True)
class FigureCheck:
    """How a sentence's figures fare in one passage."""

    count: int  # the sentence's figures
    missing: int  # not in the passage
    absent: int  # in the passage, but not what they count
    rivalled: int  # missing, with another figure of the same kind in the passage
    spots: list[list[tuple[int, int]]]  # where the passage gives each of them (none: missing)

    def share(self, n: int) -> float:
        return n / self.count if self.count else 0.0


def check_figures(
    figures: Sequence[tuple[Quantity, str]], held: Sequence[tuple[Quantity, int, int]], near: Near
) -> FigureCheck:
    """Compare a sentence's figures (each with the word it counts) with a passage's (with positions)."""
    missing = absent = rivalled = 0
    places: list[list[tuple[int, int]]] = []
    for quantity, counted in figures:
        spots = [(s, e) for q, s, e in held if found_quantity(quantity, [q])]
        places.append(spots)
        if not spots:
            missing += 1
            rivalled += any(rival(quantity, counted, q, s, e, near) for q, s, e in held)
        elif counted and not any(near(counted, s, e) for s, e in spots):
            absent += 1
    return FigureCheck(len(figures), missing, absent, rivalled, places)


def clause(text: str, start: int, end: int, span: int = CLAUSE_SPAN) -> tuple[int, int]:
    """Where the clause of text[start:end] starts and ends (within `span` characters of it)."""
    left, right = max(0, start - span), min(len(text), end + span)
    cut, stop = list(_CLAUSE_END.finditer(text, left, start))[-1:], _CLAUSE_END.search(text, end, right)
    return cut[0].end() if cut else left, stop.start() if stop else right


def displaced_figures(
    figures: Sequence[tuple[Quantity, str]], context: Sequence[tuple[str, ...]],
    spots: list[list[tuple[int, int]]], held: Sequence[tuple[Quantity, int, int]], text: str,
    found: Callable[[str, str], bool],
) -> tuple[int, int]:  # fmt: skip
    """How many figures of a sentence (with their context words), found at `spots` in the passage `text`,
    have a context word in no clause of theirs but in that of a figure of the same kind the sentence does
    not give: they count another thing (3000万 downloads, 500万 developers); and how many have none of
    their words in a clause of theirs but one in that of another figure of the sentence, of the same kind:
    two figures given each other's things (3.1亿 of 财政资金, 2.8亿 of 专项债券). `found(word, text)`."""
    given = {s for places in spots for s, _ in places}
    others = [(q.dim, *clause(text, s, e)) for q, s, e in held if s not in given] if given else []
    others = [(d, a, b) for d, a, b in others if not any(a <= s < b for s in given)]  # nor given next to them
    clauses = [[(spot, clause(text, *spot)) for spot in places] for places in spots]  # made once each
    displaced = swapped = 0
    for k, ((quantity, _), words, places) in enumerate(zip(figures, context, spots, strict=True)):
        near = [text[a:b] for _, (a, b) in clauses[k]]
        away = [w for w in words if near and not any(found(w, p) for p in near)]
        displaced += any(found(w, text[a:b]) for w in away for d, a, b in others if d == quantity.dim)
        if near and len(away) == len(words):
            mates = [j for j, (q, _) in enumerate(figures) if j != k and q.dim == quantity.dim]
            spans = [span for j in mates for spot, span in clauses[j] if spot not in places]
            swapped += any(found(w, text[a:b]) for w in words for a, b in spans)
    return displaced, swapped


def rival(q: Quantity, counted: str, p: Quantity, start: int, end: int, near: Near) -> bool:
    """The passage figure `p` (at [start, end)) stands where the sentence's missing figure `q` would."""
    if q.high and p.high:
        return True  # two orders of magnitude: 几百 for 几十
    if not (q.high or p.high) and (p.raw == q.raw or _power_of_ten(q.value, p.value)):
        return True  # a scale slipped: 600 billion for 600亿, 20万亿 for 2万亿
    if (q.currency and p.currency == q.currency) or (q.dim and p.dim == q.dim):
        return True
    return bool(counted) and near(counted, start, end)


def _power_of_ten(a: float, b: float) -> bool:
    if a <= 0 or b <= 0 or a == b:
        return False
    exponent = math.log10(a / b)
    return abs(exponent - round(exponent)) < 1e-9
