"""The web UI, served for real on 127.0.0.1 and driven through gradio_client and plain HTTP."""

from __future__ import annotations

import html
import http.client
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from rag.schema import Answer, Citation

pytest.importorskip("gradio")
from gradio_client import Client, handle_file

from rag import Assistant, Settings
from rag.app import ui
from rag.app.render import EXAMPLES, render_answer
from tests.support import ROOT
from tests.support.net import serve

HOSTILE = (
    "Zorblax 协议说明\n\n"
    "Zorblax 协议的密钥长度是 4096 位。<script>alert(1)</script>\n"
    "Zorblax 协议的图标 <img src=x onerror=alert(1)> 在这里。\n"
    "比较 a < b && c > d。\n"
    "Zorblax 协议由 Quuxcorp 在 2031 年发布 <img src=x onerror=alert(2)\n"
)


@pytest.fixture(scope="module")
def served(assistant: Assistant) -> Iterator[str]:
    """The app on the session's bundled index; only questions are asked of it (no uploads)."""
    app, url = serve(assistant)
    yield url
    app.close()


@pytest.fixture(scope="module")
def upload_assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """A knowledge base of its own (the bundled articles again) that the upload tests may change."""
    return Assistant(Settings(home=tmp_path_factory.mktemp("ui-upload-home")), show_progress=False)


@pytest.fixture(scope="module")
def upload_served(upload_assistant: Assistant) -> Iterator[str]:
    app, url = serve(upload_assistant)
    yield url
    app.close()


def ask(client: Client, question: str, history: list[Any] | None = None) -> tuple[str, list[Any], str]:
    box, chat, status = client.predict(question, history or [], 5, "hybrid", api_name="/ask")
    return box, chat, status


def content(message: dict[str, Any]) -> str:
    parts = message["content"]
    return "".join(p["text"] for p in parts) if isinstance(parts, list) else str(parts)


def get(url: str, path: str) -> tuple[int, bytes]:
    """A GET with the path sent exactly as given (no client-side `..` normalisation)."""
    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=10)
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def test_question_is_answered_with_clickable_citations_and_sources(served: str) -> None:
    box, chat, status = ask(Client(served, verbose=False), EXAMPLES[0])
    assert box == "" and status == ""
    assert [m["role"] for m in chat] == ["user", "assistant"]
    reply = content(chat[1])
    shown = html.unescape(reply)
    assert "rag-final" in reply and re.search(r"25\s*艾", shown)
    marker = re.search(r'<a class="rag-cite" href="#(rag-[0-9a-f]+-1)"', reply)
    assert marker, reply
    assert f'id="{marker.group(1)}"' in reply  # the marker leads to its own source entry
    assert "002_76ca57ada4fcd65d.txt" in shown
    assert re.search(r"lines? \d+", shown)
    assert re.search(r'<mark class="rag-quote">(?:[^<]|<br>)*25', reply)  # a quote may span a line break


def test_mode_badge_is_shown(served: str) -> None:
    status, body = get(served, "/config")
    assert status == 200 and b"Extractive" in body


def test_follow_up_keeps_each_answers_citations_with_it(served: str) -> None:
    client = Client(served, verbose=False)
    _, first, _ = ask(client, EXAMPLES[0])
    _, chat, _ = ask(client, EXAMPLES[1], first)
    assert len(chat) == 4
    one, two = content(chat[1]), content(chat[3])
    ids = [set(re.findall(r'id="(rag-[0-9a-f]+-\d+)"', m)) for m in (one, two)]
    assert ids[0] and ids[1] and not ids[0] & ids[1]
    assert "002_76ca57ada4fcd65d.txt" in html.unescape(one)
    assert "003_61f070ca4477130b.txt" in html.unescape(two)


@pytest.mark.slow
def test_twenty_parallel_questions_all_succeed(served: str) -> None:
    questions = [EXAMPLES[i % len(EXAMPLES)] for i in range(20)]

    def one(question: str) -> str:
        _, chat, _ = ask(Client(served, verbose=False), question)
        return content(chat[-1])

    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(one, questions))
    assert len(replies) == 20
    for reply in replies:
        assert "rag-final" in reply and "rag-cite" in reply and "rag-error" not in reply


def test_empty_message_sends_nothing_and_shows_a_hint(served: str) -> None:
    _, chat, status = ask(Client(served, verbose=False), "   ")
    assert chat == []
    assert "Type a question" in status


def test_unanswerable_question_shows_the_abstention(served: str) -> None:
    _, chat, _ = ask(Client(served, verbose=False), "法国的首都是哪里？")
    reply = content(chat[-1])
    assert "rag-abstained" in reply and "文档中没有找到" in html.unescape(reply)
    assert "rag-cite" not in reply


def test_file_routes_serve_nothing_outside_gradio_files(served: str, assistant: Assistant) -> None:
    home = assistant.settings.home.resolve()
    sqlite = next(home.glob("chroma/*.sqlite3"))
    secrets = [Path("/etc/passwd"), sqlite, home / "embeddings.sqlite"]
    paths = [f"/gradio_api/file={p}" for p in secrets] + [
        "/gradio_api/file=../../../../../../etc/passwd",
        "/gradio_api/file=%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        f"/gradio_api/file={home / 'ui-tmp'}/../chroma/{sqlite.name}",
        "/file=/etc/passwd",
    ]
    for path in paths:
        status, body = get(served, path)
        assert status in (403, 404), (path, status)
        assert b"root:" not in body and b"SQLite format" not in body


@pytest.mark.slow  # a knowledge base of its own
def test_upload_adds_a_document_and_renders_its_markup_as_text(
    upload_served: str, upload_assistant: Assistant, tmp_path: Path
) -> None:
    doc = tmp_path / "zorblax_notes.txt"
    doc.write_text(HOSTILE, encoding="utf-8")
    client = Client(upload_served, verbose=False)
    result, docs, _ = client.predict([handle_file(str(doc))], api_name="/upload")
    assert "1 added" in result and "zorblax_notes.txt" in html.unescape(docs)
    assert any(d.source == "zorblax_notes.txt" for d in upload_assistant.documents())
    _, chat, _ = ask(client, "Zorblax 协议的密钥长度是多少？")
    reply = content(chat[-1])
    assert "zorblax_notes.txt" in html.unescape(reply) and "4096" in reply
    assert "<script" not in reply.lower() and "<img" not in reply.lower()
    assert "&lt;img src" in reply  # the tag the cleaner left in is shown, escaped


@pytest.mark.slow  # a knowledge base of its own
def test_an_upload_the_knowledge_base_holds_is_named_by_file_not_by_server_path(
    upload_assistant: Assistant, tmp_path: Path
) -> None:
    first = tmp_path / "quillmere_minutes.txt"
    first.write_text("Quillmere 仓库的月租金为 8600 元，每季度结算一次。", encoding="utf-8")
    again = tmp_path / "minutes_copy.txt"
    again.write_text(first.read_text(encoding="utf-8"), encoding="utf-8")
    handlers = ui.ChatHandlers(upload_assistant)
    handlers.upload([str(first)], lambda *a, **k: None)
    message, _, _ = handlers.upload([str(again)], lambda *a, **k: None)
    shown = html.unescape(message)
    assert "minutes_copy.txt" in shown and "the same text as quillmere_minutes.txt" in shown
    assert str(handlers.upload_dir) not in shown


@pytest.mark.slow  # a knowledge base of its own
def test_refused_uploads_leave_the_knowledge_base_unchanged(
    upload_served: str, upload_assistant: Assistant, tmp_path: Path
) -> None:
    before = upload_assistant.documents()
    sheet = tmp_path / "report.xlsx"  # .pdf is supported now
    sheet.write_bytes(b"PK\x03\x04 not text")
    big = tmp_path / "huge.txt"
    with big.open("wb") as f:
        f.truncate(21 * 2**20)
    empty = tmp_path / "empty.md"
    empty.write_text("  \n", encoding="utf-8")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\x01\x02" * 100)

    # through the handler, as the UI calls it after Gradio's own checks
    handlers = ui.ChatHandlers(upload_assistant)
    message, _, _ = handlers.upload([str(p) for p in (sheet, big, empty, binary)], lambda *a, **k: None)
    shown = html.unescape(message)
    assert shown.count("was not added") == 4
    assert "unsupported file type .xlsx" in shown and "20 MB limit" in shown and "empty" in shown
    assert "binary" in shown
    # through the server: Gradio refuses the type and the size before the handler runs
    client = Client(upload_served, verbose=False)
    with pytest.raises(Exception, match=r"(?i)invalid file type"):
        client.predict([handle_file(str(sheet))], api_name="/upload")
    where = urlsplit(upload_served)
    conn = http.client.HTTPConnection(where.hostname or "", where.port, timeout=30)
    body = b"--b\r\nContent-Disposition: form-data; name=files; filename=huge.txt\r\n\r\n"
    body += b"x" * (21 * 2**20) + b"\r\n--b--\r\n"
    conn.request("POST", "/gradio_api/upload", body, {"Content-Type": "multipart/form-data; boundary=b"})
    assert conn.getresponse().status == 413
    conn.close()
    assert upload_assistant.documents() == before


def test_render_escapes_every_piece_of_text() -> None:
    evil = "<script>alert(1)</script><img src=x onerror=alert(1)> $$x$$ *a* [x](javascript:alert(1)) ${x}"
    answer = Answer(
        question="q",
        text=f"{evil} [1] [7]",
        citations=[Citation(1, f"{evil}.txt", f"before {evil} after", evil, 3, 4, 3, verified=False)],
        mode="llm",
        unsupported=[evil],
        notice=evil,
    )
    out = render_answer(answer, 'x" onmouseover="alert(1)')
    assert "<script" not in out and "<img" not in out and "javascript:" not in out and "${" not in out
    assert "onmouseover=" not in out and "onerror=" not in out  # no attribute escapes its quotes
    assert out.count('class="rag-cite"') == 1  # [7] has no citation: left as text
    assert "not verified" in out and "&lt;script&gt;" in out and '<mark class="rag-quote">' in out


class FakeStreaming:
    """Stands in for an assistant with stream()/chat() (LLM mode), recording how it was called."""

    def __init__(self) -> None:
        self.settings = Settings(home=Path("/nonexistent"), top_k=5)
        self.calls: list[tuple[str, Any]] = []

    def _answer(self, question: str) -> Answer:
        return Answer(question, "Final [1].", [Citation(1, "a.txt", "p Final.", "Final.", 1, 1)], mode="llm")

    def stream(self, question: str, k: int | None = None, mode: str | None = None) -> Iterator[object]:
        self.calls.append(("stream", question))
        yield "Fin"
        yield "al [1]."
        yield self._answer(question)

    def chat(self, history: list[dict[str, str]], question: str) -> Answer:
        self.calls.append(("chat", history))
        return self._answer(question)


def test_streaming_shows_pieces_then_the_cited_answer_and_follow_ups_use_chat() -> None:
    fake = FakeStreaming()
    handlers = ui.ChatHandlers(fake)  # type: ignore[arg-type]
    steps = list(handlers.respond("first?", [], [], 5, "hybrid"))
    bodies = [content(s[1][-1]) for s in steps]
    assert "rag-pending" in bodies[0]
    assert "rag-streaming" in bodies[1] and "Fin" in bodies[1]
    assert "rag-streaming" in bodies[2] and "Final [1]." in html.unescape(bodies[2])
    assert "rag-final" in bodies[-1] and "rag-cite" in bodies[-1] and "✓ verified" in bodies[-1]
    history, turns = steps[-1][1], steps[-1][2]
    assert turns == [{"role": "user", "content": "first?"}, {"role": "assistant", "content": "Final [1]."}]
    list(handlers.respond("and then?", history, turns, 5, "hybrid"))
    assert fake.calls == [("stream", "first?"), ("chat", turns)]


def test_answer_notice_is_shown() -> None:
    answer = Answer("q", "Text [1].", [Citation(1, "a.txt", "Text.", "Text.", 1, 1)], notice="LLM down: <b>")
    out = render_answer(answer, "m1")
    assert 'class="rag-notice"' in out and "LLM down: <b>" in html.unescape(out) and "<b>" not in out


def test_missing_gradio_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "gradio", None)
    monkeypatch.setenv("GRADIO_TEMP_DIR", os.environ.get("GRADIO_TEMP_DIR", str(tmp_path)))
    with pytest.raises(ImportError, match=r"pip install 'gradio>=6,<7'"):
        ui.import_gradio(tmp_path)


def test_the_command_line_does_not_import_gradio() -> None:
    code = "import sys, rag.app.cli; rag.app.cli.build_parser(); print('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
