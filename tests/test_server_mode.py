"""Server mode (RAG_CHROMA_URL): a real `chroma run` server on 127.0.0.1, written and read like the
embedded store; several processes write through it at once; an unreachable server fails fast."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import Assistant, Settings, StoreError
from rag.text.clean import fold
from tests.support import ROOT
from tests.support.net import chroma_run, free_port

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a Chroma server started for this module (killed at its end)."""
    data = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    proc = chroma_run(data / "db", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def _doc(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.mark.slow
def test_bundled_corpus_through_the_server_answers_like_the_embedded_store(
    server: str, assistant: Assistant, tmp_path: Path
) -> None:
    start = time.monotonic()
    remote = Assistant(Settings(home=tmp_path / "home", chroma_url=server), show_progress=False)
    elapsed = time.monotonic() - start
    print(f"bundled corpus indexed through the server in {elapsed:.2f} s")
    assert remote.store.count() == assistant.store.count() > 300
    assert not (tmp_path / "home" / "chroma").exists()  # nothing stored locally but the caches
    assert [(d.source, d.chunks) for d in remote.documents()] == [
        (d.source, d.chunks) for d in assistant.documents()
    ]
    answer = remote.ask("软银和英伟达在日本建设的AI工厂有多少算力？")
    assert re.search(r"25\s*艾", fold(answer.text))
    assert answer.citations[0].source == "002_76ca57ada4fcd65d.txt"
    assert remote.ask("法国的首都是哪里？").abstained
    report = remote.ingest([ROOT / "rag" / "corpus"])
    assert len(report.unchanged) == 5 and not report.added and not report.updated


def test_incremental_update_and_prune_through_the_server(server: str, tmp_path: Path) -> None:
    text = "# 报告\n\n蓝鲸公司在2030年建成了一座海底数据中心，功率为42兆瓦。\n"
    folder = _doc(tmp_path / "docs", "whale.md", text)
    remote = Assistant(
        Settings(home=tmp_path / "home", collection="incremental", chroma_url=server),
        bundled=False,
        show_progress=False,
    )
    assert remote.ingest([folder]).added == ["whale.md"]
    assert "42兆瓦" in remote.ask("蓝鲸公司的海底数据中心功率是多少？").text
    _doc(folder, "whale.md", "# 报告\n\n蓝鲸公司在2031年建成了一座海底数据中心，功率为50兆瓦。\n")
    report = remote.ingest([folder])
    assert report.updated == ["whale.md"] and report.chunks == 1
    answer = remote.ask("蓝鲸公司的海底数据中心功率是多少？")
    assert "50兆瓦" in answer.text and answer.citations[0].quote_line == 3
    assert remote.ingest([folder]).unchanged == ["whale.md"]  # the update left a complete document
    # a document whose path this client cannot see may live on another machine: --prune of
    # another folder keeps it; --prune of its own folder removes it
    (folder / "whale.md").unlink()
    other = _doc(tmp_path / "other", "fox.md", "# 赤狐\n\n赤狐公司的数据中心功率为17兆瓦。\n")
    report = remote.ingest([other], prune=True)
    assert report.added == ["fox.md"] and report.removed == [] and report.chunks == 2
    report = remote.ingest([folder], prune=True)
    assert report.removed == ["whale.md"] and report.chunks == 1


@pytest.mark.slow
def test_two_processes_writing_at_once_lose_nothing(server: str, tmp_path: Path) -> None:
    folders = []
    for side, topic in (("a", "蓝鲸"), ("b", "赤狐")):
        folder = tmp_path / side
        for n in range(1, 7):
            text = f"# {topic}{n}\n\n{topic}公司第{n}座数据中心的功率为{n * 11}兆瓦。\n"
            _doc(folder, f"{side}{n}.md", text)
        folders.append(folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    # one home on one host for both: in server mode no lock file stands between the writers
    env.update(RAG_HOME=str(tmp_path / "home"), RAG_CHROMA_URL=server, RAG_COLLECTION="shared")
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "rag", "ingest", str(f)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in folders
    ]
    outputs = [w.communicate(timeout=120) for w in writers]
    assert [w.returncode for w in writers] == [0, 0], outputs
    remote = Assistant(
        Settings(home=tmp_path / "reader", collection="shared", chroma_url=server),
        bundled=False,
        show_progress=False,
    )
    docs = remote.documents()
    assert sorted(d.source for d in docs) == sorted(f"{s}{n}.md" for s in "ab" for n in range(1, 7))
    assert all(d.chunks == 1 and d.sha256 for d in docs)
    ids = [c.id for c, _ in remote.store.chunks()]
    assert len(ids) == len(set(ids)) == remote.store.count() == 12


@pytest.mark.parametrize("where", ["embedded", "server"])
def test_two_collections_in_one_home_are_independent(server: str, tmp_path: Path, where: str) -> None:
    url = server if where == "server" else None
    home = tmp_path / "home"

    def kb(name: str) -> Assistant:
        settings = Settings(home=home, collection=f"{where}-{name}", chroma_url=url)
        return Assistant(settings, bundled=False, show_progress=False)

    one, two = kb("one"), kb("two")
    one.ingest([_doc(tmp_path / "one", "fox.md", "# 赤狐\n\n赤狐公司的数据中心功率为17兆瓦。\n")])
    two.ingest([_doc(tmp_path / "two", "owl.md", "# 白鸮\n\n白鸮公司的数据中心功率为23兆瓦。\n")])
    assert [d.source for d in one.documents()] == ["fox.md"]
    assert [d.source for d in two.documents()] == ["owl.md"]
    assert "17兆瓦" in one.ask("赤狐公司的数据中心功率是多少？").text
    assert one.ask("白鸮公司的数据中心功率是多少？").citations[0].source == "fox.md"
    (tmp_path / "one" / "fox.md").unlink()
    assert one.ingest([tmp_path / "one"], prune=True).removed == ["fox.md"]
    assert one.store.count() == 0 and [d.source for d in kb("two").documents()] == ["owl.md"]


def test_an_unreachable_server_is_a_clear_error_within_seconds(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    start = time.monotonic()
    with pytest.raises(StoreError, match=re.escape(url)) as caught:
        Assistant(Settings(home=tmp_path / "home", chroma_url=url), show_progress=False)
    elapsed = time.monotonic() - start
    print(f"unreachable server reported in {elapsed:.3f} s: {caught.value}")
    assert elapsed < 5
    assert "chroma run" in str(caught.value)


def test_a_silent_server_times_out_instead_of_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rag.index.store

    monkeypatch.setattr(rag.index.store, "SERVER_CONNECT_TIMEOUT", 0.5)
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        start = time.monotonic()
        with pytest.raises(StoreError, match="timed out"):
            Assistant(Settings(home=tmp_path / "home", chroma_url=url), show_progress=False)
        assert time.monotonic() - start < 3


def test_a_port_that_is_not_a_number_is_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="port that is not a number"):
        Assistant(Settings(home=tmp_path / "home", chroma_url="http://127.0.0.1:80a0"), show_progress=False)


def test_a_url_without_a_port_is_checked_where_the_client_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No port means chromadb's 8000 (443 for https): the bounded heartbeat checks that port, not 80."""
    import urllib.request

    asked: list[str] = []

    def refuse(url: str, timeout: float) -> object:
        asked.append(url)
        raise OSError("connection refused")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    for url in ("http://127.0.0.1", "https://chroma.example"):
        with pytest.raises(StoreError, match="cannot be reached"):
            Assistant(Settings(home=tmp_path / "home", chroma_url=url), show_progress=False)
    assert asked == ["http://127.0.0.1:8000/api/v2/heartbeat", "https://chroma.example:443/api/v2/heartbeat"]
