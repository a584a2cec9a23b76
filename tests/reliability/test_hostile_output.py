"""What reaches a reader: links and markup in any form, terminal escape sequences, questions with
nothing to search for, same-name uploads, and text in encodings that were misread."""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from rag import Assistant, InputError, Settings
from rag.ingest.formats import decode
from rag.question.searchable import check_searchable
from rag.text.clean import strip_controls
from rag.text.sanitize import without_links

pytestmark = pytest.mark.reliability
Record = Callable[..., Any]
Outcome = Callable[[Any, str], None]

# -- links and markup --------------------------------------------------------------------------------

HOSTS = st.sampled_from(["evil.example", "evil。example", "evil．example", "1.2.3.4", "xn--vl-ska.example"])
ADDRESSES = st.one_of(
    st.tuples(st.sampled_from(["https://", "http://", "//", "\\\\", "/\\", "ftp://", "HTTPS://"]), HOSTS).map(
        "".join
    ),
    st.sampled_from(["javascript:alert(1)", "JavaScript:fetch(1)", "data:text/html,<b>x</b>", "vbscript:x"]),
    HOSTS.map(lambda h: "www." + h),
).map(lambda a: a + "/p?q=1")
TAGS = st.sampled_from(
    ["img", "video", "audio", "iframe", "embed", "source", "link", "a", "svg", "object", "form"]
)
ATTRS = st.sampled_from(["src", "href", "data", "poster", "action", "srcset", "xlink:href", "background"])


def _tag(tag: str, attr: str, address: str, quote: str, close: bool) -> str:
    return f"<{tag} {attr}={quote}{address}{quote} onload=alert(1)>x" + (f"</{tag}>" if close else "")


FORMS = st.one_of(
    st.builds(_tag, TAGS, ATTRS, ADDRESSES, st.sampled_from(['"', "'", ""]), st.booleans()),
    st.builds(lambda a: f"![i]({a})", ADDRESSES),
    st.builds(lambda a: f"[label]({a})", ADDRESSES),
    st.builds(lambda a: f'[label]({a} "title")', ADDRESSES),
    st.builds(lambda a: f"<{a}>", ADDRESSES),
    st.builds(lambda a: f"[label][r]\n\n[r]: {a}", ADDRESSES),
    st.builds(lambda a: f'<div style="background:url({a})">x</div>', ADDRESSES),
    st.builds(lambda a: f"<style>p{{background:url({a})}}</style>", ADDRESSES),
    st.builds(lambda a: f"background: url({a})", ADDRESSES),
    st.builds(lambda a: a, ADDRESSES),
    st.builds(
        lambda f: f.replace("<", "&lt;").replace(">", "&gt;"),
        st.builds(_tag, TAGS, ATTRS, ADDRESSES, st.just('"'), st.booleans()),
    ),
)
AROUND = st.sampled_from(["", "黄仁勋说", "The lighthouse is 61 m tall. ", "见", "\n"])


class _Fetching(HTMLParser):
    """Collects every element and attribute a browser would act on."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in (
            "p",
            "em",
            "strong",
            "code",
            "br",
            "hr",
            "ul",
            "ol",
            "li",
            "blockquote",
            "h1",
            "h2",
            "pre",
        ):
            self.found.append(tag)
        self.found += [name for name, _ in attrs]


def _rendered_actions(text: str) -> list[str]:
    parser = _Fetching()
    parser.feed(MarkdownIt("commonmark", {"html": True, "linkify": False}).render(text))
    return parser.found


@given(before=AROUND, form=FORMS, after=AROUND)
@example(before="", form="<video src=\\\\evil.example/v.mp4>", after="")
@example(before="见", form="[q](/\\evil.example)", after="。")
@example(before="", form='<a href="//evil。example">x</a>', after="")
@example(before="", form="<svg onload=alert(1)>", after="")
def test_no_link_or_markup_form_survives_in_an_answer(
    before: str, form: str, after: str, record: Record, outcome: Outcome
) -> None:
    with record("link and markup forms -> answer text") as counter:
        counter.faults += 1
        text = without_links(before + form + after)
        assert _rendered_actions(text) == [], text
        folded = unicodedata.normalize("NFKC", text).lower()
        for trace in (
            "://",
            "javascript:",
            "vbscript:",
            "data:",
            "www.",
            "url(",
            "evil.example/",
            "\\\\evil",
        ):
            assert trace not in folded, (form, text)
        outcome(counter, "held")


@given(text=st.text(st.characters(blacklist_characters="<>&[]()!:/\\."), max_size=200))
def test_text_without_links_is_unchanged(text: str, record: Record) -> None:
    with record("link and markup forms -> answer text"):
        assert without_links(text) == text


# -- terminal escapes --------------------------------------------------------------------------------

CSI = st.builds(
    lambda intro, params, final: intro + params + final,
    st.sampled_from(["\x1b[", "\x9b"]),
    st.text("0123456789;?", max_size=8),
    st.sampled_from(list("mHJKABCDsuhlr@")),
)
OSC = st.builds(
    lambda intro, body, end: intro + body + end,
    st.sampled_from(["\x1b]", "\x1bP", "\x1b_", "\x1b^", "\x1bX"]),
    st.sampled_from(["8;;http://evil.example", "0;title", "52;c;Y2xpcA==", "1337;File=x"]),
    st.sampled_from(["\x07", "\x1b\\", "\x9c", ""]),
)
CONTROLS = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.characters(
    min_codepoint=0x7F, max_codepoint=0x9F
)
ESCAPES = st.one_of(
    CSI,
    OSC,
    st.text(CONTROLS, min_size=1, max_size=4),
    st.sampled_from(["\x1bc", "\x1b(0", "\u202e", "\u2066", "\r"]),
)
_UNSAFE = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]} - {"\n", "\t"} | set(
    "\u202a\u202b\u202c\u202d\u202e"
)


@given(pieces=st.lists(st.one_of(ESCAPES, st.sampled_from(["黄仁勋", "GTC ", "42兆瓦。"])), max_size=8))
def test_no_escape_sequence_reaches_the_terminal(pieces: list[str], record: Record) -> None:
    with record("terminal escape sequences -> CLI output") as counter:
        counter.faults += sum(1 for p in pieces if set(p) & _UNSAFE)
        shown = strip_controls("".join(pieces))
        assert not set(shown) & _UNSAFE, repr(shown)
        assert "[31m" not in shown and "8;;http" not in shown


def test_escapes_in_a_document_and_its_name_are_not_printed(
    assistant: Assistant,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    record: Record,
) -> None:
    from rag.app.cli import main

    docs = tmp_path / "docs"
    docs.mkdir()
    name = "evil\x1b[2J\x1b]0;owned\x07.md"
    text = "蓝鲸公司的海底数据中心\x1b[31m功率为42兆瓦\x1b[0m，\x1b]8;;http://evil.example\x07位于南海\x1b]8;;\x07。\n"
    (docs / name).write_text(text, encoding="utf-8")
    monkeypatch.setenv("RAG_HOME", str(tmp_path / "home"))
    with record("terminal escape sequences -> CLI output") as counter:
        counter.faults += 2
        assert main(["ingest", str(docs)]) == 0
        assert main(["ask", "蓝鲸公司的海底数据中心功率是多少？"]) == 0
        out = capsys.readouterr()
        assert "42兆瓦" in out.out
        assert not set(out.out + out.err) & _UNSAFE, repr(out.out)


# -- questions with nothing to search for ------------------------------------------------------------

EMPTY = st.characters(categories=["P", "S", "Z", "Cc", "Cf"]).filter(
    lambda c: not any(unicodedata.category(x)[0] in "LN" for x in unicodedata.normalize("NFKC", c))
)


@given(question=st.text(EMPTY, min_size=1, max_size=20))
@example(question="😀🚀🔥")
@example(question="?")
@example(question="(((((")
@example(question="\u200b\u200b\u200b")
@example(question=".*")
def test_a_question_with_nothing_to_search_for_is_refused(
    assistant: Assistant, question: str, record: Record, outcome: Outcome
) -> None:
    with record("content-free questions -> InputError") as counter:
        counter.faults += 1
        with pytest.raises(InputError, match=r"nothing to search for|empty"):
            assistant.ask(question)
        outcome(counter, "refused")


def test_questions_with_words_or_numbers_pass_the_check() -> None:
    for question in ("黄仁勋", "GTC?", "2026", "ℹ️ NVIDIA", "AI工厂多少瓦？"):
        assert check_searchable(question) == question


# -- same-name uploads -------------------------------------------------------------------------------


def test_a_same_name_upload_keeps_both_documents(
    assistant: Assistant, tmp_path: Path, record: Record
) -> None:
    from rag.app import ui

    a = Assistant(
        Settings(home=tmp_path / "home", llm=None),
        embedder=assistant.embedder,
        bundled=False,
        show_progress=False,
    )
    handlers = ui.ChatHandlers(a)
    first, second = tmp_path / "one" / "notes.md", tmp_path / "two" / "notes.md"
    for path, text in (
        (first, "蓝鲸公司的数据中心功率为42兆瓦。\n"),
        (second, "青松公司的芯片有128个量子比特。\n"),
    ):
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
    with record("same-name uploads -> both kept") as counter:
        counter.faults += 1
        handlers.upload([str(first)], lambda *a, **k: None)
        handlers.upload([str(second)], lambda *a, **k: None)
        assert sorted(d.source for d in a.documents()) == ["notes (2).md", "notes.md"]
        assert "42兆瓦" in a.ask("蓝鲸公司的数据中心功率是多少？").text
        handlers.upload([str(first)], lambda *a, **k: None)  # the same file again: unchanged
        assert len(a.documents()) == 2


# -- encodings ---------------------------------------------------------------------------------------

TEXT = "黄仁勋在GTC上发表了演讲。AI工厂需要1吉瓦电力。\n第二段。\n"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_a_byte_order_mark_are_decoded(codec: str) -> None:
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(codec, b"")
    assert decode(bom + TEXT.encode(codec)).lstrip("\ufeff") == TEXT


@given(
    damage=st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from([b"\xff", b"\xc3", b"\x80", b"\xfe"])), max_size=3
    )
)
def test_utf8_with_a_few_damaged_bytes_stays_utf8(damage: list[tuple[int, bytes]], record: Record) -> None:
    with record("damaged UTF-8 -> decoded as UTF-8"):
        data = (TEXT * 40).encode("utf-8")
        for at, byte in damage:
            data = data[: at % len(data)] + byte + data[at % len(data) :]
        assert "黄仁勋在GTC上发表了演讲" in decode(data)
