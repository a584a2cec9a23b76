"""Tables in documents: their rows are kept, stay together in a chunk, and are read under their header."""

from __future__ import annotations

from pathlib import Path

from rag.answer.features import BASE_FEATURES, base_features, candidates
from rag.index.sentence_index import as_passage
from rag.ingest.chunk import chunk_document
from rag.ingest.load import read_document
from rag.question.query import QueryAnalyzer
from rag.schema import Document
from rag.text.clean import clean_document, fold, is_spam_list
from rag.text.sentences import split_passages

MARKDOWN = """# 收费标准

下表是各类用户的水价（元/立方米）。

| 用户类别 | 基本水价 | 污水处理费 | 合计 |
|---|---|---|---|
| 居民第一阶梯 | 2.20 | 0.95 | 3.15 |
| 居民第二阶梯 | 3.15 | 0.95 | 4.10 |
| 洗车、洗浴 | 11.40 | 1.40 | 12.80 |

免费电影|在线观看|高清下载|最新大片|无码视频
"""

HTML = """<html><head><title>Fees</title></head><body><main><article>
<h1>Visitor fees</h1>
<p>The museum charges the following fees for visitors and groups, as agreed by the board in 2026.</p>
<table>
<tr><th>Ticket</th><th>Weekday</th><th>Weekend</th><th>Holiday</th><th>Notes</th></tr>
<tr><td>Adult</td><td>40</td><td>50</td><td>60</td><td>yuan per person</td></tr>
<tr><td>Student</td><td>20</td><td>25</td><td>30</td><td>with a student card</td></tr>
</table>
<p>Children under 1.2 m enter free of charge with an adult, on every day of the year.</p>
</article></main></body></html>
"""


def _lines(text: str) -> list[str]:
    return [line.text for line in clean_document(text)]


def test_table_rows_are_content_and_a_keyword_list_is_not() -> None:
    kept = _lines(MARKDOWN)
    assert "| 洗车、洗浴 | 11.40 | 1.40 | 12.80 |" in kept
    assert "| 用户类别 | 基本水价 | 污水处理费 | 合计 |" in kept
    assert not any("免费电影" in line for line in kept)
    assert not any(set(line) <= set("|- ") for line in kept)  # the separator row is not text
    assert is_spam_list(fold("免费电影|在线观看|高清下载|最新大片|无码视频"))
    assert not is_spam_list(fold("| 居民第一阶梯 | 2.20 | 0.95 | 3.15 |"))


def test_a_web_pages_table_rows_are_ingested(tmp_path: Path) -> None:
    page = tmp_path / "fees.html"
    page.write_text(HTML, encoding="utf-8")
    texts = [line.text for line in read_document(page).lines]
    assert any("Student" in t and "25" in t and t.startswith("|") for t in texts), texts
    assert any("Ticket" in t and "Holiday" in t for t in texts), texts


def _document(text: str) -> Document:
    return Document("fees.md", "/fees.md", "sha", clean_document(text))


def test_a_table_stays_in_one_chunk_and_each_row_is_read_under_its_header() -> None:
    filler = "这一段说明收费的依据和调整的程序，与表格无关，只为让前面的内容足够长。" * 4
    chunks = chunk_document(_document(filler + "\n\n" + MARKDOWN))
    holding = [c for c in chunks if "洗车" in c.text]
    assert len(holding) == 1 and "用户类别" in holding[0].text  # short rows are not headings
    sentences = split_passages([as_passage(holding[0])])
    rows = {s.text: s for s in sentences if s.text.startswith("|")}
    assert len(rows) == 4  # one sentence a row, none wrapped into the next
    header = "| 用户类别 | 基本水价 | 污水处理费 | 合计 |"
    wash = "| 洗车、洗浴 | 11.40 | 1.40 | 12.80 |"
    assert rows[header].header == ""
    assert rows[wash].header == header
    assert rows[wash].read == f"{header}\n{wash}"
    assert all(s.header == "" for s in sentences if not s.text.startswith("|"))


def test_a_rows_terms_are_matched_with_its_header() -> None:
    chunk = chunk_document(_document(MARKDOWN))[0]
    found = candidates(split_passages([as_passage(chunk)]), None)
    query = QueryAnalyzer(lambda term: 1.0).analyse("洗车的污水处理费是多少？")
    rows = base_features(query, found)
    column = {name: rows[:, BASE_FEATURES.index(name)] for name in ("coverage", "table_row", "heading")}
    single = {c.text: i for i, c in enumerate(found) if len(c.sentences) == 1}
    wash = single["| 洗车、洗浴 | 11.40 | 1.40 | 12.80 |"]
    other = single["| 居民第一阶梯 | 2.20 | 0.95 | 3.15 |"]
    assert column["coverage"][wash] > column["coverage"][other] > 0  # 污水处理费 is in the header only
    assert column["table_row"][wash] == 1 and column["heading"][wash] == 0
    title = single["收费标准"]
    assert column["table_row"][title] == 0 and column["heading"][title] == 1
