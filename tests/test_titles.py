"""Document titles: how they are found, stored with the chunks, and shown (CLI, JSON, UI)."""

from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag import Assistant, Citation, Settings
from rag.app.render import render_answer, render_documents
from rag.index.store import DocumentInfo
from rag.ingest.bundled import bundled_files
from rag.ingest.load import read_document
from rag.ingest.titles import declared_title, document_title, tidy
from rag.schema import Answer

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("suffix", "raw", "title"),
    [
        (
            ".html",
            "<html><head><title>Quarterly results &amp; outlook - Example News</title></head>",
            "Quarterly results & outlook",
        ),
        (
            ".html",
            "<body><nav>Home</nav><h1>The <b>Vera Rubin</b> platform</h1><p>Text.</p>",
            "The Vera Rubin platform",
        ),
        (".md", "---\ntitle: Field notes\n---\n# Something else\n", "Field notes"),
        (".md", "Intro line\n\n# 红狐的栖息地\n\n正文。", "红狐的栖息地"),
        (".txt", "# 全程图文｜黄仁勋日本峰会主题演讲\n\n正文。", "全程图文｜黄仁勋日本峰会主题演讲"),
        (".txt", "no heading here\n", ""),
        (".txt", "First line\n\nsecond\n\nthird\n\n# a comment far down\n", ""),
    ],
)
def test_a_declared_title_is_read_from_the_file(suffix: str, raw: str, title: str) -> None:
    assert declared_title(suffix, raw) == title


@pytest.mark.parametrize(
    ("line", "title"),
    [
        (
            "CES2026黃仁勛: 物理AI進入“ChatGPT 時刻”倒計時 | 前沿在線",
            "CES2026黃仁勛: 物理AI進入“ChatGPT 時刻”倒計時",
        ),
        ("英伟达的新工厂_网易新闻", "英伟达的新工厂"),
        ("第一句话是标题的样子。后面还有很多很多的话，不属于标题。", "第一句话是标题的样子"),
        ("文 | 王智远", ""),  # a byline
        ("作者：星海老局", ""),
        ("By Jane Doe", ""),
        ("2024-11-16 08:01", ""),  # a date
        ("https://example.com/a", ""),
        ("GPT-4 technical report", "GPT-4 technical report"),  # a hyphen inside a word is no separator
    ],
)
def test_a_line_is_tidied_into_a_title_or_passed_over(line: str, title: str) -> None:
    assert tidy(line) == title


def test_titles_of_the_bundled_articles_are_their_headlines() -> None:
    titles = {p.name: document_title(read_document(p), p) for p in bundled_files()}
    assert (
        titles["000_ac4ae4dd60a3d1fd.txt"] == "黃仁勛的“物理AI”,對中國制造來說真不是好消息"
    )  # spam line skipped
    assert titles["001_60131ced907fff32.txt"].endswith("倒計時")  # site name dropped
    assert titles["002_76ca57ada4fcd65d.txt"].startswith("全程图文｜黄仁勋日本峰会主题演讲&对话孙正义")
    assert not titles["003_61f070ca4477130b.txt"].startswith("文")  # the byline is passed over
    assert all(t and len(t) <= 80 for t in titles.values())


def test_a_document_without_a_line_fit_for_a_title_is_named_by_its_file(tmp_path: Path) -> None:
    path = tmp_path / "figures.txt"
    path.write_text("作者：张三\n来源：某报\n", encoding="utf-8")  # bylines only
    assert document_title(read_document(path), path) == "figures.txt"


def test_titles_are_stored_listed_and_carried_by_passages(assistant_over) -> None:  # type: ignore[no-untyped-def]
    made = assistant_over({"fox.md": "# 红狐的一天\n\n红狐在清晨出来觅食，它的尾巴很长。\n"})
    docs = made.documents()
    assert [(d.source, d.title) for d in docs] == [("fox.md", "红狐的一天")]
    passage = made.retrieve("红狐什么时候觅食？", k=1)[0]
    assert passage.source == "fox.md" and passage.title == "红狐的一天"


def test_a_knowledge_base_indexed_without_titles_falls_back_then_gets_them(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "fox.md").write_text("# 红狐的一天\n\n红狐在清晨出来觅食。\n", encoding="utf-8")
    settings = Settings(home=tmp_path / "home")
    made = Assistant(settings, bundled=False, show_progress=False)
    made.ingest([folder])
    key = next(iter(made.store.documents()))
    ids = made.store.ids_of(key)
    # as an older version left it: no titles
    made.store._collection.update(ids=ids, metadatas=[{"title": ""} for _ in ids])
    made.store.snapshot.set_title(key, "", was_current=True)  # type: ignore[union-attr]
    older = Assistant(settings, bundled=False, show_progress=False)
    assert older.documents()[0].title == ""
    assert older.retrieve("红狐", k=1)[0].title == "fox.md"  # the file name, never a crash
    report = older.ingest([folder])
    assert report.unchanged == ["fox.md"] and older.documents()[0].title == "红狐的一天"
    again = Assistant(settings, bundled=False, show_progress=False)
    assert again.retrieve("红狐", k=1)[0].title == "红狐的一天"


def test_rag_docs_and_its_json_show_titles(rag_home: Path, assistant: Assistant) -> None:
    env = {"RAG_HOME": str(rag_home), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-m", "rag", "docs"], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert run.returncode == 0, run.stderr
    assert "全程图文｜黄仁勋日本峰会主题演讲" in run.stdout and "(002_76ca57ada4fcd65d.txt)" in run.stdout
    run = subprocess.run(
        [sys.executable, "-m", "rag", "docs", "--json"], capture_output=True, text=True, cwd=ROOT, env=env
    )
    listed = {d["source"]: d["title"] for d in json.loads(run.stdout)}
    assert listed["000_ac4ae4dd60a3d1fd.txt"] == "黃仁勛的“物理AI”,對中國制造來說真不是好消息"


def test_the_ui_shows_titles_with_file_names_and_falls_back_to_the_name() -> None:
    citation = Citation(
        1, "002_x.txt", "AI工厂\n算力是25艾。", "算力是25艾。", 1, 2, title="黄仁勋<日本>峰会"
    )
    untitled = Citation(2, "plain.txt", "别的。", "别的。", 3, 3)
    out = render_answer(Answer("q", "算力是25艾[1][2]", [citation, untitled]), "m1")
    assert 'class="rag-doc-title">黄仁勋&lt;日本&gt;峰会<' in out and "002&#95;x.txt" in out
    assert 'class="rag-doc-title">plain.txt<' in out  # the summary names it by its file
    table = render_documents([DocumentInfo("k", "a.txt", "", 3, "标题"), DocumentInfo("j", "b.txt", "", 2)])
    assert 'rag-doc-title">标题<' in table and table.count('class="rag-doc-title"') == 1
    assert '<th class="rag-count">Chunks</th>' in table


def test_offline_follow_up_shows_no_search_words_as_a_rewrite() -> None:
    offline = Answer(
        "And who else?", "x", standalone="japanese game company nvidia s first game And who else?"
    )
    out = render_answer(offline, "m2")
    assert "Understood as" not in out and "japanese game company" not in out
    assert "previous question" in out
    model = Answer("And who else?", "x", mode="llm", standalone="Who else partners with NVIDIA in Japan?")
    assert "Understood as: Who else partners with NVIDIA in Japan?" in html.unescape(
        render_answer(model, "m3")
    )
