"""An upload through the web UI is read as often as ingesting the same file from the command line
reads it, no more: its type and size are checked without reading it, and Gradio's temporary copy
is moved into the uploads folder rather than copied and read again. The document is indexed and
answered as if it had been ingested from the command line.

Reads are counted at the boundary every read of a file goes through (builtins.open, io.open and
os.open, opened for reading), by the file's name: while the upload handler runs, and while the
command line's ingestion runs.
"""

from __future__ import annotations

import builtins
import html
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rag import Assistant, Settings
from rag.app import ui
from tests.support.net import serve

pytestmark = pytest.mark.reliability
gradio_client = pytest.importorskip("gradio_client")

NAME = "quuxcorp_notes.txt"
TEXT = (
    "Quuxcorp 协议说明\n\n"
    "Quuxcorp 协议的密钥长度是 4096 位，由 Quuxcorp 在 2031 年发布。\n"
    "Quuxcorp 协议的握手需要三次往返，每次往返不超过 40 毫秒。\n"
)
QUESTION = "Quuxcorp 协议的密钥长度是多少？"


class Reads:
    """Files opened for reading while the upload handler runs (or while `counting`): their paths."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.on = False

    def of(self, name: str) -> list[str]:
        return [path for path in self.seen if Path(path).name == name]

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        self.seen.clear()
        self.on = True
        try:
            yield self.seen
        finally:
            self.on = False


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    counted = Reads()
    real_open, real_os_open, real_upload = builtins.open, os.open, ui.ChatHandlers.upload

    def py_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if counted.on and isinstance(file, (str, os.PathLike)) and not set(mode) & set("wax+"):
            counted.seen.append(os.fspath(file))
        return real_open(file, mode, *args, **kwargs)

    def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if counted.on and not flags & (os.O_WRONLY | os.O_RDWR):
            counted.seen.append(os.fspath(path))
        return real_os_open(path, flags, *args, **kwargs)

    def upload(self: ui.ChatHandlers, *args: Any, **kwargs: Any) -> Any:
        counted.on = True
        try:
            return real_upload(self, *args, **kwargs)
        finally:
            counted.on = False

    monkeypatch.setattr(builtins, "open", py_open)
    monkeypatch.setattr(io, "open", py_open)
    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(ui.ChatHandlers, "upload", upload)
    yield counted


def _answer(a: Assistant) -> tuple[str, list[str]]:
    answer = a.ask(QUESTION)
    return answer.text, [c.source for c in answer.citations]


def _upload(client: Any, path: Path, reads: Reads) -> tuple[str, list[str]]:
    """The upload's result message, and the reads of files of its name while it was handled."""
    reads.seen.clear()
    result, _, _ = client.predict([gradio_client.handle_file(str(path))], api_name="/upload")
    return html.unescape(result), reads.of(path.name)


def test_an_upload_is_read_as_often_as_an_ingested_file_and_answers_alike(
    tmp_path: Path, reads: Reads, record: Any
) -> None:
    doc = tmp_path / NAME
    doc.write_text(TEXT, encoding="utf-8")
    # the command line's ingestion of the file: what reading it takes (once new, once unchanged)
    direct = Assistant(Settings(home=tmp_path / "direct"), bundled=False, show_progress=False)
    with reads.counting():
        assert direct.ingest([doc]).added == [NAME]
    ingesting = reads.of(NAME)
    with reads.counting():
        assert direct.ingest([doc]).unchanged == [NAME]
    ingesting_again = reads.of(NAME)
    assert ingesting and ingesting_again and set(ingesting + ingesting_again) == {str(doc)}

    a = Assistant(
        Settings(home=tmp_path / "home"), embedder=direct.embedder, bundled=False, show_progress=False
    )
    kept = (tmp_path / "home" / "uploads" / NAME).resolve()
    app, url = serve(a)
    try:
        client = gradio_client.Client(url, verbose=False)
        with record("uploads -> reads of each file") as counter:
            result, read = _upload(client, doc, reads)
            assert "1 added" in result and [d.source for d in a.documents()] == [NAME]
            assert read == [str(kept)] * len(ingesting), read  # ingestion's reads, of the kept file only
            counter.outcomes["reads of a new upload"] = len(read)
            counter.outcomes["reads by the command line"] = len(ingesting)
            assert kept.read_text(encoding="utf-8") == TEXT
            assert not list((tmp_path / "home" / "ui-tmp").rglob(NAME))  # Gradio's copy is gone

            # the same answer as the file ingested from the command line, there and in the UI
            text, sources = _answer(a)
            assert "4096" in text and sources == [NAME] and (text, sources) == _answer(direct)
            _, chat, _ = client.predict(QUESTION, [], 5, "hybrid", api_name="/ask")
            assert "4096" in str(chat[-1]["content"]) and NAME in html.unescape(str(chat[-1]["content"]))

            # the same file again, recognised as unchanged: a file of that name and size is kept
            # already, so the two are compared first, which reads each of them once more
            result, read = _upload(client, doc, reads)
            assert "unchanged" in result and [d.source for d in a.documents()] == [NAME]
            assert len(read) == len(ingesting_again) + 2 and read.count(str(kept)) == len(ingesting_again) + 1
            counter.outcomes["reads of an upload kept already"] = len(read)

            # refused for what only reading it tells: said, not indexed, and not kept
            blank = tmp_path / "blank.md"
            blank.write_text("  \n", encoding="utf-8")
            result, read = _upload(client, blank, reads)
            assert "blank.md was not added: it is empty" in result and "rag-done" not in result
            assert len(read) == 1 and not (kept.parent / "blank.md").exists()
            assert [d.source for d in a.documents()] == [NAME]
    finally:
        app.close()
