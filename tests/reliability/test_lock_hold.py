"""The store lock of an embedded knowledge base is held while a document is written, not while files
are read and embedded: ingesting several slow files never holds it for as long as one file takes.
A second writer is still refused at once (with the first one's pid), the read copy matches Chroma,
and pruning still removes the documents whose files are gone.

How long the lock is held is read from /proc/locks (the kernel's table of flocks), so watching it
never takes the lock itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import rag.ingest.build
from rag import Assistant, Settings
from rag.index.store import ChromaStore
from rag.schema import IngestReport
from tests.support import ROOT
from tests.support.crash import ingest_env

pytestmark = pytest.mark.reliability
SLOW = 1.0  # seconds added to each embedding call: a file (its chunks, then its sentences) takes 2 s
PER_FILE = 2 * SLOW
TOPICS = ["蓝鲸", "赤狐", "白鹭", "青松"]
EMBED = rag.ingest.build._embed

if not Path("/proc/locks").exists():
    pytest.skip("needs /proc/locks (Linux)", allow_module_level=True)


def _text(topic: str, version: int = 1) -> str:
    return (
        f"# {topic}\n\n{topic}公司第{version}版报告：该公司建成了一座数据中心，功率为{40 + version}兆瓦，"
        f"服务于{version + 2}个城市的用户，年均能效比达到1.{version}，并计划提高可再生能源的比例。\n"
    )


def _held(path: Path) -> bool:
    """Does any process hold a flock on `path` now (per /proc/locks)?"""
    try:
        info = path.stat()
    except FileNotFoundError:
        return False
    wanted = (os.major(info.st_dev), os.minor(info.st_dev), info.st_ino)
    with open("/proc/locks", encoding="ascii") as table:
        for line in table:
            fields = line.split()
            if "->" in fields:  # a waiter, not a holder
                continue
            if len(fields) > 5 and fields[1] == "FLOCK":
                major, minor, inode = fields[5].split(":")
                if (int(major, 16), int(minor, 16), int(inode)) == wanted:
                    return True
    return False


@contextmanager
def _watch(path: Path) -> Iterator[list[float]]:
    """The lengths of the spells (seconds) during which `path` was locked, watched every 2 ms."""
    spells: list[float] = []
    stop = threading.Event()

    def run() -> None:
        since: float | None = None
        while not stop.is_set():
            now, held = time.monotonic(), _held(path)
            if held and since is None:
                since = now
            elif not held and since is not None:
                spells.append(now - since)
                since = None
            time.sleep(0.002)
        if since is not None:
            spells.append(time.monotonic() - since)

    watcher = threading.Thread(target=run, daemon=True)
    watcher.start()
    try:
        yield spells
    finally:
        stop.set()
        watcher.join()


def _slowed(monkeypatch: pytest.MonkeyPatch, during: Callable[[int], None]) -> None:
    """Every embedding call of an ingestion takes SLOW seconds more; `during(n)` runs before the n-th."""
    calls = [0]

    def slow(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        during(calls[0])
        time.sleep(SLOW)
        return EMBED(*args, **kwargs)

    monkeypatch.setattr(rag.ingest.build, "_embed", slow)


def _timed(ingest: Callable[[], IngestReport], lock: Path) -> tuple[IngestReport, float, float]:
    """The report of `ingest`, the longest spell the lock was held, and how long the call took."""
    start = time.monotonic()
    with _watch(lock) as spells:
        report = ingest()
    took = time.monotonic() - start
    return report, max(spells, default=0.0), took


def _chunks(home: Path, model_id: str) -> list[tuple[str, str, str]]:
    store = ChromaStore(home, "default", model_id)
    return sorted((c.id, c.text, key) for c, key in store.chunks())


def test_the_store_lock_is_held_per_document_and_a_second_writer_is_still_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, record: Callable[..., Any]
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i, topic in enumerate(TOPICS):
        (folder / f"{i}_{topic}.md").write_text(_text(topic), encoding="utf-8")
    home = tmp_path / "home"
    assistant = Assistant(Settings(home=home), bundled=False, show_progress=False)
    lock = home / "rag-default.lock"
    seen: dict[str, Any] = {}

    def between_documents(call: int) -> None:
        if call != 3:  # the second file's embedding starts: the first one is stored
            return
        extra = tmp_path / "extra.md"
        extra.write_text(_text("金雕"), encoding="utf-8")
        seen["second writer"] = subprocess.run(
            [sys.executable, "-m", "rag", "ingest", str(extra)],
            env=ingest_env(home),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        reader = ChromaStore(home, "default", assistant.embedder.model_id)
        seen["copy between documents"] = (
            reader.snapshot is not None and reader.snapshot.current(),
            reader.count(),
        )

    _slowed(monkeypatch, between_documents)
    with record("store lock held per document") as counter:
        report, longest, took = _timed(lambda: assistant.ingest([folder]), lock)
        counter.outcomes["files"] = len(TOPICS)
        counter.outcomes["ingest s"] = round(took, 2)
        counter.outcomes["longest lock hold s"] = round(longest, 3)
        took_each = f"{len(TOPICS)} files of ~{PER_FILE:g} s in {took:.2f} s"
        print(f"\n{took_each}; store lock held {longest:.3f} s at most")
        assert sorted(report.added) == sorted(p.name for p in folder.iterdir())
        assert took > len(TOPICS) * PER_FILE
        assert 0 < longest < PER_FILE, f"the store lock was held {longest:.2f} s"

        second = seen["second writer"]
        assert second.returncode == 1 and "Traceback" not in second.stderr, second.stderr[-2000:]
        assert second.stderr.startswith("rag: ") and f"Another process (pid {os.getpid()})" in second.stderr
        assert seen["copy between documents"] == (True, 1)  # the read copy is current between documents
        # the read copy holds exactly what Chroma holds
        model = assistant.embedder.model_id
        from_copy = _chunks(home, model)
        monkeypatch.setenv("RAG_NO_SNAPSHOT", "1")
        assert from_copy == _chunks(home, model) and len(from_copy) == report.chunks
        monkeypatch.delenv("RAG_NO_SNAPSHOT")

    # pruning: one file gone, one changed; the others are read but not embedded again
    (folder / f"0_{TOPICS[0]}.md").unlink()
    (folder / f"1_{TOPICS[1]}.md").write_text(_text(TOPICS[1], version=2), encoding="utf-8")
    _slowed(monkeypatch, lambda call: None)
    with record("store lock held per document") as counter:
        report, longest, _ = _timed(lambda: assistant.ingest([folder], prune=True), lock)
        counter.outcomes["longest lock hold while pruning s"] = round(longest, 3)
        assert report.removed == [f"0_{TOPICS[0]}.md"] and report.updated == [f"1_{TOPICS[1]}.md"]
        assert len(report.unchanged) == 2 and 0 < longest < PER_FILE
        sources = sorted(d.source for d in assistant.documents())
        assert sources == sorted(p.name for p in folder.iterdir())
        assert all(d.sha256 for d in assistant.documents())
        from_copy = _chunks(home, model)
        monkeypatch.setenv("RAG_NO_SNAPSHOT", "1")
        assert from_copy == _chunks(home, model) and {k for *_, k in from_copy} == {
            str((folder / s).resolve()) for s in sources
        }
