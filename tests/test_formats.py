"""Formats (HTML, PDF, DOCX), their line/page/paragraph numbers, and bad files in a folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag import Assistant
from rag.ingest.formats import clean_numbered, declared_charset, decode_html, html_lines, span_unit
from rag.ingest.load import SUFFIXES, SkippedFile, find_files, read_document

BODY = "蓝鲸公司在2030年于南海建成了一座海底数据中心，\n功率为42兆瓦，可容纳一万台服务器。"
PAGE = """<!DOCTYPE html>
<html><head><meta charset="{charset}"><title>蓝鲸科技新闻网</title>
<style>p {{ color: #333; }}</style></head>
<body>
<nav><ul><li><a href="/">首页</a></li><li><a href="/news">新闻中心</a></li>
<li><a href="/about">关于我们</a></li></ul></nav>
<header><div class="menu">登录 | 注册 | 订阅我们的电子报</div></header>
<main><article>
<h1>蓝鲸公司建成海底数据中心</h1>
<p>{body}</p>
<p>该数据中心利用海水自然冷却，&ldquo;能耗比陆地数据中心低百分之四十&rdquo;。公司表示将在2032年再建两座。</p>
<p>项目负责人<b>李明</b>说，海底环境稳定，服务器故障率只有陆地上的八分之一。</p>
</article></main>
<footer><p>版权所有 © 2030 蓝鲸科技 保留所有权利</p><p>联系我们 | 隐私政策 | 网站地图 | 友情链接</p></footer>
<script>var tracker = "蓝鲸公司在2030年";</script>
</body></html>
"""
BOILERPLATE = ("首页", "新闻中心", "登录", "版权所有", "隐私政策", "tracker", "color")


def page(charset: str = "utf-8") -> str:
    return PAGE.format(charset=charset, body=BODY)


def source_line(text: str, needle: str) -> int:
    """1-based line of the first occurrence of `needle` in `text`."""
    return text[: text.index(needle)].count("\n") + 1


@pytest.mark.parametrize(
    ("encoding", "declared"), [("utf-8", "utf-8"), ("gb18030", "gb2312"), ("gb18030", "utf-8")]
)
def test_html_main_text_with_source_line_numbers(tmp_path: Path, encoding: str, declared: str) -> None:
    source = page(declared)
    path = tmp_path / "news.html"
    path.write_bytes(source.encode(encoding))
    doc = read_document(path)
    texts = [line.text for line in doc.lines]
    assert texts[0] == "蓝鲸公司建成海底数据中心"
    assert texts[1] == "蓝鲸公司在2030年于南海建成了一座海底数据中心，功率为42兆瓦，可容纳一万台服务器。"
    assert "“能耗比陆地数据中心低百分之四十”" in texts[2] and "李明说" in texts[3]
    assert not any(word in text for text in texts for word in BOILERPLATE)
    assert [line.number for line in doc.lines] == [
        source_line(source, "<h1>"),
        source_line(source, "蓝鲸公司在2030年于"),
        source_line(source, "该数据中心"),
        source_line(source, "项目负责人"),
    ]


def test_html_encoding_declared_big5_or_detected() -> None:
    traditional = page("big5").replace("蓝鲸公司建成海底数据中心", "藍鯨公司建成海底數據中心")
    data = traditional.encode("big5hkscs", errors="replace")
    assert declared_charset(data) == "big5"
    assert "藍鯨公司建成海底數據中心" in decode_html(data)
    # A wrong declaration (latin-1 would decode anything) loses to UTF-8; a missing one to detection.
    assert "海底数据中心" in decode_html(page("iso-8859-1").encode("utf-8"))
    undeclared = page("x").replace('<meta charset="x">', "").encode("gb18030")
    assert declared_charset(undeclared) is None and "海底数据中心" in decode_html(undeclared)


def test_html_without_main_text_or_binary_is_skipped(tmp_path: Path) -> None:
    with pytest.raises(SkippedFile, match="no main text"):
        html_lines(b"<html><head><title>t</title></head><body><script>go()</script></body></html>")
    path = tmp_path / "x.htm"
    path.write_bytes(b"\x00\x01<html>" * 100)
    with pytest.raises(SkippedFile, match="binary"):
        read_document(path)


def make_pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF, one Helvetica text line per string, pages in order."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (" ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages))).encode(), len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, lines in enumerate(pages):
        shown = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines]
        stream = "\n".join(["BT /F1 11 Tf 14 TL 72 740 Td", *(f"({s}) Tj T*" for s in shown), "ET"]).encode()
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


PDF_PAGES = [
    [
        "Annual report of the Blue Whale company",
        "In 2030 the company opened an undersea data centre whose power",
        "draw is 42 megawatts and which holds ten thousand servers.",
    ],
    ["1"],  # a page with only its page number: dropped by cleaning
    ["The Green Pine chip has 1200 qubits.", "It was released in 2029."],
]


def test_pdf_lines_are_numbered_by_page(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(PDF_PAGES))
    doc = read_document(path)
    assert [(line.number, line.text) for line in doc.lines] == [
        (1, "Annual report of the Blue Whale company"),
        (
            1,
            "In 2030 the company opened an undersea data centre whose power draw is 42 megawatts "
            "and which holds ten thousand servers.",
        ),
        (3, "The Green Pine chip has 1200 qubits."),
        (3, "It was released in 2029."),
    ]


def make_docx(path: Path, paragraphs: list[str]) -> None:
    import docx

    document = docx.Document()
    document.add_heading(paragraphs[0], level=1)
    for text in paragraphs[1:]:
        document.add_paragraph(text)
    document.save(str(path))


DOCX_PARAGRAPHS = [
    "青松公司年度报告",
    "",
    "青松公司在2029年发布了一款量子芯片，拥有1200个量子比特。",
    "这款芯片在零下二百七十度的环境中工作。\n第二行：它由三家工厂共同生产。",
]


def test_docx_lines_are_numbered_by_paragraph(tmp_path: Path) -> None:
    path = tmp_path / "report.docx"
    make_docx(path, DOCX_PARAGRAPHS)
    doc = read_document(path)
    assert [(line.number, line.text) for line in doc.lines] == [
        (1, "青松公司年度报告"),
        (3, "青松公司在2029年发布了一款量子芯片，拥有1200个量子比特。"),
        (4, "这款芯片在零下二百七十度的环境中工作。"),
        (4, "第二行：它由三家工厂共同生产。"),
    ]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("bad.pdf", b"%PDF-1.4\nthis is not really a pdf\n", "not a readable PDF"),
        ("bad.pdf", make_pdf([["x"]])[:60], "not a readable PDF"),
        ("bad.docx", b"PK\x03\x04 not a zip at all", "not a readable Word document"),
        ("bad.docx", b"plain text pretending to be docx", "not a readable Word document"),
        ("blank.pdf", make_pdf([[]]), "no text layer"),
    ],
)
def test_corrupt_pdf_and_docx_are_skipped_with_a_reason(
    tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(SkippedFile, match=reason):
        read_document(path)


@pytest.mark.parametrize(
    ("size", "reason"),
    [
        (3 * 2**20, "it is 3 MB, over the 2 MB limit"),
        (2**21 + 1, "it is 2,097,153 bytes, over the 2 MB (2,097,152 bytes) limit"),
    ],
)
def test_a_file_over_the_size_limit_is_skipped_saying_by_how_much(
    tmp_path: Path, size: int, reason: str
) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * size)
    with pytest.raises(SkippedFile) as skipped:
        read_document(path, max_bytes=2**21)
    assert str(skipped.value) == reason


def test_clean_numbered_keeps_each_lines_own_number() -> None:
    lines = clean_numbered([(5, "第一段文字在这里。"), (5, ""), (9, "分享至"), (12, "第二段。\n第三段。")])
    assert [(line.number, line.text) for line in lines] == [
        (5, "第一段文字在这里。"),
        (12, "第二段。"),
        (12, "第三段。"),
    ]


def test_span_unit_names_what_numbers_count() -> None:
    assert [span_unit(s) for s in ("a.PDF", "b.docx", "c.html", "d.txt", "bundled:e.md", "noext")] == [
        "page",
        "paragraph",
        "line",
        "line",
        "line",
        "line",
    ]


def test_new_suffixes_are_found_in_folders(tmp_path: Path) -> None:
    assert {".html", ".htm", ".pdf", ".docx", ".txt", ".md"} <= set(SUFFIXES)
    for name in ("a.html", "b.HTM", "c.pdf", "d.docx", "e.doc", "f.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in find_files([tmp_path])] == ["a.html", "b.HTM", "c.pdf", "d.docx", "f.txt"]


def test_bad_files_are_skipped_with_reasons_and_the_rest_is_cited(
    fresh_settings: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "news.html").write_bytes(page("gb2312").encode("gb18030"))
    make_docx(folder / "report.docx", DOCX_PARAGRAPHS)
    (folder / "empty.md").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    with open(folder / "huge.txt", "wb") as huge:
        huge.truncate(50 * 2**20)  # sparse: 50 MB without writing them
    os.mkfifo(folder / "pipe.txt")
    (folder / "locked.txt").write_text("永远读不到的内容。", encoding="utf-8")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog")
    (folder / "broken.docx").write_bytes(b"PK\x05\x06" + bytes(18))
    real_open = os.open

    def open_file(path: str | Path, flags: int, *args: int, **kwargs: object) -> int:
        if Path(path).name == "locked.txt":  # tests run as root too: chmod would not lock it
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", open_file)
    assistant = Assistant(fresh_settings, bundled=False, show_progress=False)  # type: ignore[arg-type]
    report = assistant.ingest([folder])
    assert sorted(report.added) == ["news.html", "report.docx"]
    reasons = {Path(path).name: why for path, why in report.skipped.items()}
    expected = {
        "empty.md": "empty",
        "binary.txt": "binary",
        "huge.txt": "50 MB, over the 20 MB limit",
        "pipe.txt": "not a regular file",
        "locked.txt": "could not be read (Permission denied)",
        "broken.pdf": "not a readable PDF",
        "broken.docx": "not a readable Word document",
    }
    assert set(reasons) == set(expected)
    for name, reason in expected.items():
        assert reason in reasons[name], (name, reasons[name])

    answer = assistant.ask("蓝鲸公司的海底数据中心功率是多少？")
    assert not answer.abstained and "42兆瓦" in answer.text
    cited = next(c for c in answer.citations if "42兆瓦" in c.quote)
    body_line = source_line(page("gb2312"), "蓝鲸公司在2030年于")
    assert cited.source == "news.html" and cited.quote_line == body_line
    assert cited.start_line <= body_line <= cited.end_line

    answer = assistant.ask("青松公司的量子芯片有多少个量子比特？")
    assert not answer.abstained and "1200" in answer.text
    cited = next(c for c in answer.citations if "1200" in c.quote)
    assert cited.source == "report.docx" and cited.quote_line == 3
    assert cited.start_line <= 3 <= cited.end_line
