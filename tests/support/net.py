"""Local servers: a free port on 127.0.0.1, a Chroma server, the web app."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from rag import Assistant

CHROMA = Path(sys.executable).parent / "chroma"


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chroma_run(data: Path, port: int) -> subprocess.Popen[bytes]:
    """`chroma run` on 127.0.0.1:`port` over the folder `data`, once it answers its heartbeat (skips
    without the chroma command; fails if it does not start within 30 s)."""
    chroma = str(CHROMA) if CHROMA.exists() else shutil.which("chroma")
    if chroma is None:
        pytest.skip("the chroma command is not installed")
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1) as reply:
                reply.read()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                pytest.fail(f"chroma run did not start (exit {proc.poll()})")
            time.sleep(0.05)


def serve(assistant: Assistant) -> tuple[Any, str]:
    """The web app on `assistant`, served for real on 127.0.0.1: the app (close it) and its URL.
    Needs gradio (`pytest.importorskip("gradio")` first)."""
    from rag.app import ui

    app = ui.build_app(assistant)
    url = ui.launch(app, "127.0.0.1", free_port(), block=False)
    return app, url
