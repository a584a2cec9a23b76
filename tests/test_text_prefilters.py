"""The quick checks that skip a pattern on text it cannot match change no result: figures, URLs and
the Chinese-text test give what the patterns alone give, on every line of the corpora and their
questions and on figures of every kind."""

from __future__ import annotations

import re

import pytest

from rag.text import quantities as q
from rag.text.clean import fold
from rag.text.han import HAN
from rag.text.tokens import is_chinese
from rag.verification.claims import _URL, without_urls
from tests.support.corpus import document_lines

FIGURES = [
    "1,000 兆瓦",
    "9. 与SoftBank合作",
    "百分之三十的股份",
    "sixty billion dollars",
    "two hundred million users",
    "一成的利润",
    "一兆瓦",
    "_one hundred",
    "٣٤ 万台",
    "二〇二五年",
    "十分之一",
    "六十",
    "$60 billion (600亿美元)",
    "25 艾字节, 3 exaflops, 1 吉瓦",
    "see https://x.example/a and WWW.Example.com or //cdn.example/x",
    "",
]


def _texts() -> list[str]:
    lines = document_lines(questions=True) + FIGURES
    return lines + [fold(line) for line in lines]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return _texts()


def _quantities(folded: str) -> list[q.Quantity]:
    """`quantities` with every pattern tried on every text."""
    text = q._GROUPED.sub("", folded)
    text = q._LIST_NUMBER.sub("", text)
    out = [q.make_quantity(float(m["num"]), m["scale"], m["unit"]) for m in q._ARABIC.finditer(text)]
    for m in q._CHINESE.finditer(text):
        if m["num"] == "一" and not (m["scale"] or m["unit"]):
            continue
        out.append(q.make_quantity(q.chinese_number(m["num"]), m["scale"], m["unit"]))
    out += [q.Quantity(n, n, "%") for n in (q.chinese_number(m["num"]) for m in q._CN_PERCENT.finditer(text))]
    for m in q._ENGLISH.finditer(text):
        rest = q._TAIL_RE.match(m["rest"])
        assert rest is not None
        out.append(q.make_quantity(float(q._EN_NUMBER[m["num"]]), rest["scale"], rest["unit"]))
    return out


def test_figures_are_the_same_without_the_checks(texts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    windows = [t[m.start() : m.end() + 14] for t in texts for m in q._NUMBER_AT.finditer(t)]
    found = [q.all_quantities(t) for t in texts + windows]
    located = [q.located_quantities(t) for t in texts]
    assert [q.quantities(t) for t in texts + windows] == [_quantities(t) for t in texts + windows]
    everywhere = re.compile("")  # every guard lets every text through
    for name in ("_DIGIT", "_CN_NUMERAL_CHAR", "_LOWER_LATIN"):
        monkeypatch.setattr(q, name, everywhere)
    monkeypatch.setattr(q, "quantities", _quantities)
    assert [q.all_quantities(t) for t in texts + windows] == found
    assert [q.located_quantities(t) for t in texts] == located
    assert any(found) and any(located)


def test_urls_are_blanked_as_the_pattern_alone_blanks_them(texts: list[str]) -> None:
    assert [without_urls(t) for t in texts] == [_URL.sub(" ", t) for t in texts]
    assert without_urls("见 https://x.example/a 和 WWW.Example.com") == "见   和  "


def test_chinese_text_is_told_as_before(texts: list[str]) -> None:
    def counted(text: str) -> bool:
        han = sum(len(run) for run in re.findall(f"[{HAN}]+", text))
        return han > 0 and han * 4 >= len(re.findall(r"[A-Za-z]", text))

    assert [is_chinese(t) for t in texts] == [counted(t) for t in texts]
