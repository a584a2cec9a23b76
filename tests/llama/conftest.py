"""A real local model for the LLM path: llama.cpp's `llama-server`, started only when asked for.

    RAG_TEST_LLAMA_SERVER=/path/to/llama-server RAG_TEST_LLAMA_MODEL=/path/to/model.gguf \\
        python -m pytest -m llama tests/llama

`RAG_TEST_LLAMA_TEMPLATE` may name a chat template file (`--chat-template-file`) for a GGUF that has
none (a base model). Without the variables these tests are skipped; they never build anything.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.net import free_port

STARTUP_SECONDS = 120.0  # loading the model on two cores


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "llama: runs a real llama.cpp server (RAG_TEST_LLAMA_SERVER)")


@pytest.fixture(scope="session")
def llama_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The OpenAI-compatible base URL of a llama-server started for the session (skips without one)."""
    binary, model = os.environ.get("RAG_TEST_LLAMA_SERVER"), os.environ.get("RAG_TEST_LLAMA_MODEL")
    if not binary or not model:
        pytest.skip("set RAG_TEST_LLAMA_SERVER (a llama-server binary) and RAG_TEST_LLAMA_MODEL (a GGUF)")
    if not Path(binary).is_file() or not Path(model).is_file():
        pytest.skip(f"llama-server or the model is missing: {binary}, {model}")
    port = free_port()
    command = [binary, "--model", model, "--host", "127.0.0.1", "--port", str(port), "--ctx-size", "8192"]
    if template := os.environ.get("RAG_TEST_LLAMA_TEMPLATE"):
        command += ["--chat-template-file", template]
    log = (tmp_path_factory.mktemp("llama") / "server.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama-server exited with {process.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama-server did not start within {STARTUP_SECONDS:g} s; see {log.name}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
