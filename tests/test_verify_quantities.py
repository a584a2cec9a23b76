"""Figures compared by value (rag.text.quantities) and the figure features of the citation verifier
(rag.verification.figures): units, multipliers, currencies and orders of magnitude resolved, and a
rival figure told from a figure the passage does not speak of."""

from __future__ import annotations

import re

import pytest

from rag.text.clean import fold
from rag.text.quantities import Quantity, found_quantity
from rag.verification import figures as figures_module
from rag.verification.claims import ClaimFacts
from rag.verification.figures import located_figures
from tests.support.claims import values


def figures(text: str) -> list[Quantity]:
    return [q for q, _, _ in located_figures(fold(text))]


def found(claim: str, passage: str) -> bool:
    stated = figures(claim)
    assert stated, claim
    return all(found_quantity(q, figures(passage)) for q in stated)


@pytest.mark.parametrize(
    ("claim", "passage", "same"),
    [
        ("$45 billion", "港口扩建预计耗资450亿美元", True),
        ("$450 billion", "港口扩建预计耗资450亿美元", False),  # a scale slipped
        ("45 billion dollars", "港口扩建预计耗资450亿美元", True),
        ("45 billion yuan", "港口扩建预计耗资450亿美元", False),  # another currency
        ("€3 billion", "新厂投资30亿欧元", True),
        ("3万亿美元", "总额可能超过3万亿美元", True),
        ("30万亿美元", "总额可能超过3万亿美元", False),
        ("2000兆瓦", "the plant delivers 2 GW", True),
        ("2 gigawatts", "电站装机2000兆瓦", True),
        ("8000 GB", "each drive holds 8 terabytes", True),
        ("百分之二十", "a 20% share", True),
    ],
)
def test_figures_match_by_value_with_unit_scale_and_currency(claim: str, passage: str, same: bool) -> None:
    assert found(claim, passage) is same


@pytest.mark.parametrize(
    ("claim", "passage", "same"),
    [
        ("全国会建成几十座新仓库", "dozens of new depots will be built", True),
        ("全国会建成几百座新仓库", "全国会建成几十座新仓库", False),
        ("几十座", "全国会建成40座新仓库", True),  # a range holds the figure inside it
        ("40座", "全国会建成几十座新仓库", False),  # a precise figure is not found in a range
        ("数以千计的志愿者", "thousands of volunteers", True),
        ("tens of thousands of visitors", "每年接待几万名游客", True),
        ("hundreds of thousands of visitors", "每年接待几万名游客", False),
        ("several hundred million dollars", "花费数亿美元", True),
    ],
)
def test_orders_of_magnitude_are_ranges(claim: str, passage: str, same: bool) -> None:
    assert found(claim, passage) is same


def test_a_range_takes_a_unit_but_not_a_word_made_from_one() -> None:
    (tens,) = figures("tens of megawatts")
    assert (tens.value, tens.high, tens.dim) == (1e7, 1e8, "w")
    (dozens,) = figures("dozens of gigawatt-class plants")
    assert (dozens.value, dozens.high, dozens.dim) == (10.0, 100.0, "")


def test_a_currency_is_read_before_or_after_the_number() -> None:
    assert [q.currency for q in figures("$5 million, 300亿元, 7 million euros, 12 apples")] == [
        "usd",
        "cny",
        "eur",
        "",
    ]


@pytest.mark.parametrize(
    ("claim", "passage", "rival"),
    [
        ("The harbour expansion costs $450 billion.", "港口扩建预计耗资450亿美元。", 1.0),
        ("The harbour expansion costs $45 billion.", "港口扩建预计耗资450亿美元。", 0.0),  # found
        ("总额可能超过30万亿美元。", "总额可能超过3万亿美元。", 1.0),
        ("剧院可容纳5000名观众。", "这座剧院可容纳3000名观众，门外还有广场。", 1.0),
        ("全国会建成几百座新仓库。", "全国会建成几十座新仓库。", 1.0),
        ("The harbour has 12 cranes.", "港口扩建预计耗资450亿美元。", 0.0),  # nothing in its place
    ],
)
def test_a_changed_figure_has_a_rival_in_the_passage(claim: str, passage: str, rival: float) -> None:
    assert values(claim, passage)["num_rival"] == rival


def test_a_number_word_is_a_figure_not_a_term() -> None:
    facts = ClaimFacts.read("Eighteen ferries sail from the harbour every day.")
    assert "eighteen" not in facts.latin_terms and "ferries" in facts.latin_terms
    assert [q.value for q, _ in facts.figures] == [18.0]


def test_the_quick_check_for_ranges_changes_no_result(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [
        fold(t)
        for t in (
            "几十座仓库、数百万用户、上千家公司、十几万人、数以万计的游客",
            "a few hundred ships, a couple of thousand trucks, dozens of gigawatt-class plants",
            "tens of thousands of users paid $5 million, 300亿元 and 7 million euros",
            "no figure here, 没有数字",
        )
    ]
    before = [located_figures(t) for t in texts]
    monkeypatch.setattr(figures_module, "_RANGE_HINT", re.compile(""))
    assert [located_figures(t) for t in texts] == before
    assert sum(bool(q.high) for found in before for q, _, _ in found) == 9
