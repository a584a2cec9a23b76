"""The read copy of a collection on a Chroma server (rag.index.snapshot, rag.index.server_stamp): a
question in a new process answers from it without importing chromadb while the server's generation
stamp says it is current, and from Chroma itself whenever it may not be: another process wrote, a
program other than this one changed the collection, a write was cut off, or the server is down (then
the error is today's)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from rag import Assistant, Settings, StoreError
from rag.index.embed import MODEL_ID
from rag.index.server_stamp import KEY, WRITING, ServerCheck, auth_headers, stamped
from rag.index.store import ChromaStore
from tests.support import ROOT
from tests.support.net import chroma_run, free_port

pytestmark = pytest.mark.server

QUESTION = "蓝鲸公司的海底数据中心功率是多少？"
ASK = """
import json, sys
import rag.app.cli
code = rag.app.cli.main(sys.argv[1:])
print(json.dumps({"code": code, "chromadb": "chromadb" in sys.modules}))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a Chroma server started for this module (killed at its end)."""
    port = free_port()
    proc = chroma_run(tmp_path_factory.mktemp("chroma-server") / "db", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def _whale(folder: Path, megawatts: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = f"# 报告\n\n蓝鲸公司在2030年建成了一座海底数据中心，功率为{megawatts}兆瓦。\n"
    (folder / "whale.md").write_text(text, encoding="utf-8")
    return folder


def _env(home: Path, url: str, collection: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "CHROMA_"))}
    return {**env, "RAG_HOME": str(home), "RAG_CHROMA_URL": url, "RAG_COLLECTION": collection}


def _ask(env: dict[str, str]) -> tuple[str, bool]:
    """`rag ask` in a new process: its answer, and whether it imported chromadb."""
    run = subprocess.run(
        [sys.executable, "-c", ASK, "ask", QUESTION], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    *answer, last = run.stdout.strip().splitlines()
    outcome = json.loads(last)
    assert outcome["code"] == 0, run.stderr
    return "\n".join(answer), bool(outcome["chromadb"])


def _ingest(env: dict[str, str], folder: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "rag", "ingest", str(folder)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr


def _collection(url: str, collection: str) -> Any:
    """The collection through a plain chromadb client, as another program would open it."""
    import chromadb

    port = int(url.rsplit(":", 1)[1])
    client = chromadb.HttpClient(host="127.0.0.1", port=port)
    return client.get_collection(f"rag-{collection}", embedding_function=None)


def _kb(home: Path, url: str, collection: str) -> Assistant:
    settings = Settings(home=home, collection=collection, chroma_url=url)
    return Assistant(settings, bundled=False, show_progress=False)


# -- with a real server ----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_new_process_answers_from_the_copy_until_another_process_writes(
    server: str, tmp_path: Path
) -> None:
    docs = _whale(tmp_path / "docs", 42)
    env = _env(tmp_path / "home", server, "fresh")
    _ingest(env, docs)
    text, chroma = _ask(env)  # the writer leaves no current copy: the first reader makes it
    assert "42兆瓦" in text and chroma
    text, chroma = _ask(env)
    assert "42兆瓦" in text and not chroma  # answered from the copy: chromadb never imported
    _ingest(_env(tmp_path / "elsewhere", server, "fresh"), _whale(docs, 50))  # another client writes
    text, chroma = _ask(env)
    assert "50兆瓦" in text and chroma  # the stamp moved: Chroma itself, and the copy made again
    text, chroma = _ask(env)
    assert "50兆瓦" in text and not chroma


def test_writes_stamp_the_collection_and_readers_follow_the_stamp(server: str, tmp_path: Path) -> None:
    writer = _kb(tmp_path / "writer", server, "stamps")
    writer.ingest([_whale(tmp_path / "docs", 42)])
    metadata = _collection(server, "stamps").metadata
    assert metadata["hnsw:space"] == "cosine" and metadata["embedding_model"] == MODEL_ID  # kept whole
    assert metadata[KEY] and not metadata[KEY].startswith(WRITING)

    home = tmp_path / "reader"
    first = ChromaStore(home, "stamps", MODEL_ID, server)
    assert not first._reading_copy and first.snapshot is not None and first.snapshot.current()
    reader = ChromaStore(home, "stamps", MODEL_ID, server)
    assert reader._reading_copy
    assert reader.documents() == first.documents() and [c for c, _ in reader.chunks()] == [
        c for c, _ in first.chunks()
    ]
    # a long-lived reader sees another client's write at its next read
    other = _whale(tmp_path / "other", 17)
    (other / "whale.md").rename(other / "fox.md")
    writer.ingest([other])
    assert sorted(d.source for d in reader.documents().values()) == ["fox.md", "whale.md"]
    assert not reader._reading_copy


def test_a_collection_changed_by_another_program_is_read_from_chroma(server: str, tmp_path: Path) -> None:
    _kb(tmp_path / "writer", server, "foreign").ingest([_whale(tmp_path / "docs", 42)])
    home = tmp_path / "reader"
    ChromaStore(home, "foreign", MODEL_ID, server)  # makes the copy
    assert ChromaStore(home, "foreign", MODEL_ID, server)._reading_copy
    # a plain chromadb client changes a chunk and the metadata, without the stamp
    collection = _collection(server, "foreign")
    metadata = {k: v for k, v in (collection.metadata or {}).items() if k not in (KEY, "hnsw:space")}
    collection.modify(metadata=metadata)
    got = collection.get(include=["embeddings"])
    chunk_id, vector = got["ids"][0], got["embeddings"][0]
    collection.update(ids=[chunk_id], documents=["蓝鲸公司的海底数据中心功率为99兆瓦。"], embeddings=[vector])
    for _ in range(2):  # never answered from a copy, and none is made from an unstamped collection
        reader = ChromaStore(home, "foreign", MODEL_ID, server)
        assert not reader._reading_copy
        assert reader.get([chunk_id])[0].text == "蓝鲸公司的海底数据中心功率为99兆瓦。"
    assert reader.snapshot is not None and not reader.snapshot.current()


def test_a_write_cut_off_between_its_stamps_is_never_read_from_a_copy(server: str, tmp_path: Path) -> None:
    writer = _kb(tmp_path / "writer", server, "cutoff")
    writer.ingest([_whale(tmp_path / "docs", 42)])
    home = tmp_path / "reader"
    ChromaStore(home, "cutoff", MODEL_ID, server)
    assert ChromaStore(home, "cutoff", MODEL_ID, server)._reading_copy
    store = writer.store
    cut_off = stamped(store._collection, store._client)
    cut_off.__enter__()  # and never left: what a writer killed mid-write leaves
    assert _collection(server, "cutoff").metadata[KEY].startswith(WRITING)
    for _ in range(2):
        assert not ChromaStore(home, "cutoff", MODEL_ID, server)._reading_copy
    other = _whale(tmp_path / "other", 17)
    (other / "whale.md").rename(other / "fox.md")
    writer.ingest([other])  # the next write stamps the collection again
    ChromaStore(home, "cutoff", MODEL_ID, server)
    reader = ChromaStore(home, "cutoff", MODEL_ID, server)
    assert reader._reading_copy and sorted(d.source for d in reader.documents().values()) == [
        "fox.md",
        "whale.md",
    ]


@pytest.mark.slow
def test_a_copy_is_not_used_when_the_server_is_down(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = chroma_run(tmp_path / "db", port)
    try:
        env = _env(tmp_path / "home", url, "down")
        _ingest(env, _whale(tmp_path / "docs", 42))
        ChromaStore(tmp_path / "home", "down", MODEL_ID, url)
        assert ChromaStore(tmp_path / "home", "down", MODEL_ID, url)._reading_copy
    finally:
        proc.kill()
        proc.wait()
    start = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "rag", "ask", QUESTION], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode != 0 and time.monotonic() - start < 10
    assert url in run.stderr and "chroma run" in run.stderr and "42兆瓦" not in run.stdout
    with pytest.raises(StoreError, match="chroma run"):
        ChromaStore(tmp_path / "home", "down", MODEL_ID, url)


# -- the check itself, against a stand-in server ---------------------------------------------------


class _Stub(BaseHTTPRequestHandler):
    """Answers GETs with `reply` (status, headers, body) and records each request's headers."""

    reply: tuple[int, dict[str, str], bytes] = (200, {}, b"{}")
    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        type(self).seen.append({**dict(self.headers), "path": self.path})
        status, headers, body = self.reply
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def stub() -> Iterator[tuple[str, type[_Stub]]]:
    """A stand-in server on 127.0.0.1 and its handler class (set `reply`, read `seen`)."""
    handler = type("Handler", (_Stub,), {"seen": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def _described(generation: object) -> bytes:
    metadata = {"hnsw:space": "cosine"} if generation is None else {KEY: generation}
    body = {"id": "c0ffee", "name": "rag-kb", "tenant": "default_tenant", "database": "default_database"}
    return json.dumps({**body, "metadata": metadata}).encode()


def test_the_check_sends_chromas_credentials_and_reads_the_stamp(
    stub: tuple[str, type[_Stub]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, handler = stub
    monkeypatch.setenv("CHROMA_CLIENT_AUTH_PROVIDER", "chromadb.auth.token_authn.TokenAuthClientProvider")
    monkeypatch.setenv("CHROMA_CLIENT_AUTH_CREDENTIALS", "s3cret")
    handler.reply = (200, {}, _described("g1"))
    check = ServerCheck(url, "rag-kb")
    assert check.source() == f"{url}|default_tenant|default_database|c0ffee|g1"
    assert (
        handler.seen[0]["path"]
        == "/api/v2/tenants/default_tenant/databases/default_database/collections/rag-kb"
    )
    assert handler.seen[0]["Authorization"] == "Bearer s3cret"
    for generation in (None, "", WRITING + "x", 7):  # no stamp, a write in progress, not ours
        handler.reply = (200, {}, _described(generation))
        assert check.source() == ""
    handler.reply = (401, {}, b'{"error": "unauthorised"}')
    assert check.source() == ""


def test_the_check_follows_no_redirect_and_gives_up_quickly(stub: tuple[str, type[_Stub]]) -> None:
    url, handler = stub
    elsewhere = f"http://127.0.0.1:{free_port()}/api/v2/tenants/default_tenant/databases/default_database"
    handler.reply = (307, {"Location": elsewhere + "/collections/rag-kb"}, b"")
    assert ServerCheck(url, "rag-kb").source() == "" and len(handler.seen) == 1
    start = time.monotonic()
    assert ServerCheck(f"http://127.0.0.1:{free_port()}", "rag-kb").source() == ""  # refused
    assert time.monotonic() - start < 1
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        start = time.monotonic()
        check = ServerCheck(f"http://127.0.0.1:{silent.getsockname()[1]}", "rag-kb", timeout=0.3)
        assert check.source() == "" and time.monotonic() - start < 2


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {
            "CHROMA_CLIENT_AUTH_PROVIDER": "chromadb.auth.token_authn.TokenAuthClientProvider",
            "CHROMA_CLIENT_AUTH_CREDENTIALS": "tok-en",
        },
        {
            "chroma_client_auth_provider": "chromadb.auth.token_authn.TokenAuthClientProvider",
            "chroma_client_auth_credentials": "tok-en",
            "chroma_auth_token_transport_header": "X-Chroma-Token",
        },
        {
            "CHROMA_CLIENT_AUTH_PROVIDER": "chromadb.auth.basic_authn.BasicAuthClientProvider",
            "CHROMA_CLIENT_AUTH_CREDENTIALS": "admin:pass word",
        },
    ],
)
def test_the_check_sends_the_credentials_chromadb_sends(
    settings: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from chromadb.api.fastapi import FastAPI
    from chromadb.config import Settings as ChromaSettings
    from chromadb.config import System

    for name in list(os.environ):
        if name.lower().startswith("chroma_"):
            monkeypatch.delenv(name)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no .env file there
    chroma = ChromaSettings(anonymized_telemetry=False, allow_reset=False)  # as rag's client is made
    chroma.chroma_api_impl = "chromadb.api.fastapi.FastAPI"
    chroma.chroma_server_host, chroma.chroma_server_http_port = "127.0.0.1", 9
    sent = dict(System(chroma).instance(FastAPI)._session.headers)
    own = {"accept", "accept-encoding", "connection", "content-type", "user-agent"}
    assert {k.lower(): v for k, v in auth_headers().items()} == {
        k: v for k, v in sent.items() if k not in own
    }


def test_credentials_of_another_provider_are_not_guessed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHROMA_CLIENT_AUTH_PROVIDER", "my.own.Provider")  # the server refuses the check
    monkeypatch.setenv("CHROMA_CLIENT_AUTH_CREDENTIALS", "s3cret")
    assert auth_headers() == {}
