"""What failed work leaves behind: files of uploads cut off mid-way, and repeated or stray messages."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rag import Assistant, Settings
from tests.support.net import free_port

pytestmark = pytest.mark.reliability
Record = Callable[..., Any]


def _cut_off_uploads(port: int, sizes: tuple[int, ...]) -> None:
    """Uploads that announce 50 MB and stop after `size` bytes (the client went away)."""
    for size in sizes:
        head = b"--b\r\nContent-Disposition: form-data; name=files; filename=cut.txt\r\n\r\n"
        request = (
            b"POST /gradio_api/upload HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 52428800\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(request + head + b"x" * size)
            time.sleep(0.3)


def test_uploads_cut_off_leave_no_files(assistant: Assistant, tmp_path: Path, record: Record) -> None:
    pytest.importorskip("gradio")
    from rag.app import ui

    a = Assistant(
        Settings(home=tmp_path / "home", llm=None, max_file_mb=1),
        embedder=assistant.embedder,
        bundled=False,
        show_progress=False,
    )
    port = free_port()
    app = ui.build_app(a)
    ui.launch(app, "127.0.0.1", port, block=False)
    temp = (tmp_path / "home" / "ui-tmp").resolve()
    try:
        with record("uploads cut off -> files left") as counter:
            _cut_off_uploads(port, (0, 1000, 300_000))
            counter.faults += 3
            deadline = time.monotonic() + 10
            while len(list(temp.glob("tmp*"))) < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
            left = list(temp.glob("tmp*"))
            assert left, "the server kept no partial upload: nothing to clean"
            assert ui.discard_partial_uploads(temp) == []  # fresh: an upload may still be arriving
            for path in left:
                os.utime(path, (time.time() - 3600, time.time() - 3600))
            fact = tmp_path / "fact.md"
            fact.write_text("蓝鲸公司的数据中心功率为42兆瓦。\n", encoding="utf-8")
            ui.ChatHandlers(a).upload([str(fact)], lambda *args, **kwargs: None)  # the next upload sweeps
            assert list(temp.glob("tmp*")) == []
            counter.outcomes["partial files removed"] = len(left)
    finally:
        app.close()


def test_a_skipped_file_is_reported_once_without_stray_warnings(tmp_path: Path, record: Record) -> None:
    """Run as a user runs it (a process of its own: no test logging handlers catch the warnings)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\n")  # no EOF marker
    (docs / "binary.txt").write_bytes(b"\x00\x01" * 50)
    (docs / "fact.md").write_text("蓝鲸公司的数据中心功率为42兆瓦。\n", encoding="utf-8")
    env = {**os.environ, "RAG_HOME": str(tmp_path / "home")}
    with record("ingest messages -> each once") as counter:
        counter.faults += 2
        done = subprocess.run(
            [sys.executable, "-m", "rag", "ingest", str(docs)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        err = done.stderr
        assert err.count("Skipped") == 2, err
        assert err.count("broken.pdf") == 1 and err.count("binary.txt") == 1, err
        assert "EOF marker not found" not in err.replace("(PdfReadError: EOF marker not found)", ""), err
