"""An OpenAI-compatible embeddings endpoint (RAG_EMBEDDING_URL) over real HTTP, with ScriptedLLM."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag import Assistant
from rag.app.cli import main
from rag.config import EmbeddingSettings, Settings
from rag.errors import InputError, StoreError
from rag.index.embed import EmbeddingError, OpenAIEmbedder, uses_e5_prefixes
from tests.support.llm_server import Reply, ScriptedLLM

E5 = "intfloat/multilingual-e5-small"
OTHER = "text-embedding-3-small"
TOPICS = {
    "power.md": "英伟达正在建设的AI工厂需要1吉瓦的电力。电力来自附近的电站。\n\n"
    "这座工厂的造价约为500亿美元。工期为两年。冷却采用液冷。",
    "japan.md": "软银和英伟达在日本建设AI工厂，算力达到25艾字节。\n\n该网络覆盖全日本。它连接各地的基站。",
    "chips.md": "Blackwell芯片的产量今年翻了一番。\n\n台积电负责制造这些芯片。交付周期为六个月。",
}


class Server(ScriptedLLM):
    embedding_dim = 32  # not 384: nothing may assume the bundled model's dimension


@pytest.fixture()
def server() -> Iterator[Server]:
    with Server() as running:
        yield running


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in TOPICS.items():
        (docs / name).write_text(text + "\n", encoding="utf-8")
    return docs


def _settings(home: Path, server: Server, model: str = E5, collection: str = "ep") -> Settings:
    embedding = EmbeddingSettings(server.base_url, model, api_key="embed-key", batch_size=4)
    return Settings(home=home, collection=collection, llm=None, embedding=embedding)


def _inputs(server: Server) -> list[list[str]]:
    """The `input` list of every embeddings request so far."""
    out = []
    for request in server.requests:
        if request["path"].endswith("/embeddings"):
            value = request["json"]["input"]
            out.append([value] if isinstance(value, str) else list(value))
    return out


def test_ingest_and_ask_through_the_endpoint(tmp_path: Path, server: Server, folder: Path) -> None:
    assistant = Assistant(_settings(tmp_path / "home", server), bundled=False, show_progress=False)
    assert assistant.embedder.model_id == f"openai:127.0.0.1/{E5}"
    report = assistant.ingest([folder])
    assert sorted(report.added) == sorted(TOPICS) and report.chunks == 3
    batches = _inputs(server)
    texts = [t for batch in batches for t in batch]
    assert texts and all(t.startswith("passage: ") for t in texts)  # e5 model: prefixed by us
    assert max(len(b) for b in batches) == 4 and all(len(b) <= 4 for b in batches)  # batched
    assert len(batches) < len(texts)
    assert server.requests[0]["headers"]["authorization"] == "Bearer embed-key"

    server.clear()
    passages = assistant.retrieve("AI工厂需要多少电力？", k=3)
    assert passages[0].source == "power.md"
    assert _inputs(server)[0] == ["query: AI工厂需要多少电力？"]
    answer = assistant.ask("AI工厂需要多少电力？")
    assert answer.mode == "extractive"

    # a second knowledge base over the same files: every vector comes from the cache
    server.clear()
    other_settings = _settings(tmp_path / "home", server, collection="ep2")
    other = Assistant(other_settings, bundled=False, show_progress=False)
    assert other.ingest([folder]).chunks == 3
    assert _inputs(server) == []


def test_turning_the_e5_prefixes_off_is_another_model(tmp_path: Path, server: Server, folder: Path) -> None:
    home = tmp_path / "home"
    Assistant(_settings(home, server), bundled=False, show_progress=False).ingest([folder])
    first = {t.removeprefix("passage: ") for batch in _inputs(server) for t in batch}
    prefixed = _settings(home, server)
    assert prefixed.embedding is not None
    unprefixed = replace(prefixed, embedding=replace(prefixed.embedding, prefixes=False))
    # the stored vectors were made with prefixes: queries without them would not match
    with pytest.raises(StoreError) as refused:
        Assistant(unprefixed, bundled=False, show_progress=False)
    assert f"openai:127.0.0.1/{E5} [no e5 prefixes]" in str(refused.value)
    server.clear()
    again = Assistant(unprefixed, bundled=False, show_progress=False, reembed=True)
    assert again.store.count() == 3
    texts = [t for batch in _inputs(server) for t in batch]  # none taken from the prefixed cache
    assert first <= set(texts) and not any(t.startswith("passage: ") for t in texts)


def test_vectors_are_normalised_and_unprefixed_for_other_models(server: Server) -> None:
    embedder = OpenAIEmbedder(server.base_url, OTHER, api_key="k", batch_size=2)
    vectors = embedder.embed_passages(["一", "二", "三"])
    assert vectors.shape == (3, 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert _inputs(server) == [["一", "二"], ["三"]]
    assert embedder.embed_passages([]).shape == (0, 32)


def test_switching_model_is_refused_then_reembedded(tmp_path: Path, server: Server, folder: Path) -> None:
    home = tmp_path / "home"
    Assistant(_settings(home, server), bundled=False, show_progress=False).ingest([folder])
    with pytest.raises(StoreError) as refused:
        Assistant(_settings(home, server, OTHER), bundled=False, show_progress=False)
    message = str(refused.value)
    assert f"openai:127.0.0.1/{E5}" in message and f"openai:127.0.0.1/{OTHER}" in message
    assert "--reembed" in message

    server.clear()
    switched = Assistant(_settings(home, server, OTHER), bundled=False, show_progress=False, reembed=True)
    assert switched.reembed_report is not None and sorted(switched.reembed_report.added) == sorted(TOPICS)
    assert switched.store.count() == 3 and switched.store.model_id == f"openai:127.0.0.1/{OTHER}"
    texts = [t for batch in _inputs(server) for t in batch]
    assert texts and not any(t.startswith(("passage: ", "query: ")) for t in texts)
    assert switched.retrieve("Blackwell芯片", k=1)[0].source == "chips.md"
    assert not (home / "rag-ep.reembed.json").exists()


def test_a_new_model_that_fails_drops_nothing(tmp_path: Path, server: Server, folder: Path) -> None:
    home = tmp_path / "home"
    Assistant(_settings(home, server), bundled=False, show_progress=False).ingest([folder])
    failing = OpenAIEmbedder(server.base_url, OTHER, max_retries=0)
    server.script_embeddings(Reply(status=503))
    with pytest.raises(EmbeddingError):
        Assistant(
            _settings(home, server, OTHER), embedder=failing, bundled=False, show_progress=False, reembed=True
        )
    kept = Assistant(_settings(home, server), bundled=False, show_progress=False)
    assert kept.store.count() == 3 and kept.store.model_id == f"openai:127.0.0.1/{E5}"
    assert not (home / "rag-ep.reembed.json").exists()


def test_re_embedding_is_refused_while_a_document_has_no_file(
    tmp_path: Path, server: Server, folder: Path
) -> None:
    home = tmp_path / "home"
    Assistant(_settings(home, server), bundled=False, show_progress=False).ingest([folder])
    (folder / "japan.md").unlink()
    with pytest.raises(InputError) as refused:
        Assistant(_settings(home, server, OTHER), bundled=False, show_progress=False, reembed=True)
    message = str(refused.value)
    assert "1 of the 3 documents" in message and str(folder.resolve() / "japan.md") in message
    assert "rag ingest --prune" in message and "Nothing was changed" in message
    kept = Assistant(_settings(home, server), bundled=False, show_progress=False)
    assert kept.store.count() == 3 and kept.store.model_id == f"openai:127.0.0.1/{E5}"
    assert "japan.md" in {d.source for d in kept.documents()}
    assert not (home / "rag-ep.reembed.json").exists()
    # once the document is removed with the old model, the rest is re-embedded
    assert kept.ingest([folder], prune=True).removed == ["japan.md"]
    switched = Assistant(_settings(home, server, OTHER), bundled=False, show_progress=False, reembed=True)
    assert switched.reembed_report is not None
    assert sorted(switched.reembed_report.added) == ["chips.md", "power.md"]


def test_cli_reembed(
    tmp_path: Path, server: Server, folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("RAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RAG_EMBEDDING_URL", server.base_url)
    monkeypatch.setenv("RAG_EMBEDDING_MODEL", E5)
    monkeypatch.setenv("OPENAI_API_KEY", "fallback-key")  # RAG_EMBEDDING_KEY unset: this one is used
    monkeypatch.setattr("rag.config.LLMSettings.from_env", classmethod(lambda cls: None))
    assert main(["ingest", str(folder)]) == 0
    assert server.requests[0]["headers"]["authorization"] == "Bearer fallback-key"
    monkeypatch.setenv("RAG_EMBEDDING_MODEL", OTHER)
    assert main(["docs"]) == 1
    assert "rag ingest --reembed" in capsys.readouterr().err
    assert main(["ingest", "--reembed"]) == 0
    out = capsys.readouterr().out
    assert "Re-embedded 3 documents" in out and "3 chunks" in out
    assert main(["docs"]) == 0
    assert "3 documents, 3 chunks" in capsys.readouterr().out


def test_endpoint_down_names_the_url(tmp_path: Path, folder: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    embedder = OpenAIEmbedder(url, E5, max_retries=0, timeout=5)
    settings = Settings(home=tmp_path / "home", llm=None)
    assistant = Assistant(settings, embedder=embedder, bundled=False, show_progress=False)
    with pytest.raises(EmbeddingError, match=f"{url} cannot be reached"):
        assistant.ingest([folder])


def test_endpoint_refusal_is_reported(server: Server) -> None:
    server.script_embeddings(Reply(status=401, error_message="Incorrect API key provided."))
    embedder = OpenAIEmbedder(server.base_url, E5, api_key="bad", max_retries=0)
    with pytest.raises(EmbeddingError, match=r"refused the request \(HTTP 401\): Incorrect API key"):
        embedder.embed_query("问题")


def test_settings_and_prefix_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAG_EMBEDDING_URL", raising=False)
    assert EmbeddingSettings.from_env() is None
    monkeypatch.setenv("RAG_EMBEDDING_URL", "http://127.0.0.1:9/v1")
    monkeypatch.delenv("RAG_EMBEDDING_MODEL", raising=False)
    with pytest.raises(InputError, match="RAG_EMBEDDING_MODEL"):
        EmbeddingSettings.from_env()
    monkeypatch.setenv("RAG_EMBEDDING_MODEL", "bge-m3")
    monkeypatch.setenv("RAG_EMBEDDING_KEY", "secret-embed-key")
    found = EmbeddingSettings.from_env()
    assert found is not None and found.api_key == "secret-embed-key" and "secret" not in repr(found)
    assert uses_e5_prefixes("intfloat/multilingual-e5-base") and uses_e5_prefixes("e5_small")
    assert not uses_e5_prefixes("bge-m3") and not uses_e5_prefixes("intfloat/e5-mistral-7b-instruct")
    assert not uses_e5_prefixes("some-model-e50")
