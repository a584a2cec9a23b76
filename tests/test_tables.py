"""Tables and a page's details line in documents: table rows are kept, stay together in a chunk and are read
under their header; a line of labelled details is kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag import Assistant
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


def test_a_table_too_long_for_one_chunk_repeats_its_header_in_each_part() -> None:
    header = "| 站点 | 首班车 | 末班车 | 票价 |"
    rows = [f"| 第{i}号站台东口 | 06:{i % 60:02d} | 23:{i % 60:02d} | {i % 7 + 2} 元 |" for i in range(120)]
    chunks = chunk_document(_document("# 时刻表\n\n" + header + "\n|---|---|---|---|\n" + "\n".join(rows)))
    parts = [c for c in chunks if "号站台" in c.text]
    assert len(parts) >= 2, [len(c.text) for c in chunks]
    assert sum(c.text.count("号站台") for c in parts) == len(rows)  # every row once
    assert header in parts[0].text.split("\n")
    for part in parts[1:]:
        assert part.text.split("\n")[0] == header
        assert part.start_line == part.line_numbers[1] > part.line_numbers[0]
    later = split_passages([as_passage(parts[-1])])
    assert {s.header for s in later if s.text != header} == {header}
    assert parts[-1].start_line > parts[0].end_line  # the span is the part's own rows


def test_a_line_of_labelled_page_details_is_kept_and_navigation_is_not() -> None:
    page = "\n".join(
        [
            "作者：纪清和（Ji Qinghe）｜ 来源：《城市观察》第12期 ｜ 2026-07-06 发布 ｜ 阅读 1.6万",
            "首页 › 新闻 › 本地　｜　下载PDF　｜　打印本页　｜　最后更新：2026-02-24 10:47",
            "分享到：微信｜微博｜複製連結　　字級：大｜中｜小",
            "正文第一段讲的是这座城市的新图书馆，它将在明年开放。",
        ]
    )
    kept = _lines(page)
    assert any(line.startswith("作者：纪清和") for line in kept), kept
    assert not any("下载PDF" in line or "微博" in line for line in kept), kept


_ARTICLE = (
    "# 青石镇的新图书馆\n\n"
    "作者：纪清和（Ji Qinghe）｜ 来源：《城市观察》第12期 ｜ 2026-07-06 发布 ｜ 阅读 1.6万\n\n"
    "青石镇的新图书馆将在明年三月开放，馆舍面积约为四千平方米。\n\n"
    "馆长表示，开放后每周一闭馆，其余时间每天上午九点开门。\n"
)


def test_who_wrote_an_article_is_answered_from_its_details_line(
    assistant_over: Callable[[dict[str, str]], Assistant],
) -> None:
    answer = assistant_over({"library.md": _ARTICLE}).ask("这篇讲青石镇新图书馆的文章作者是谁？")
    assert not answer.abstained, answer.text
    assert "纪清和" in answer.text and answer.citations[0].quote_line == 3
