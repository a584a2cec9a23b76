"""Injected faults: kill -9 at random points, a read-only store, a full disk, a Chroma server that stops.

Each fault is followed by the check that matters to the user: a clear error (no traceback), questions
still answered, and after recovery the same chunks as a clean build, none lost and none duplicated.
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import numpy as np
import pytest

from rag import Assistant, Settings, StoreError
from rag.index.store import ChromaStore
from rag.schema import Chunk
from tests.support import ROOT
from tests.support.crash import home_with_cache, ingest_cmd, ingest_env, store_state, write_corpus
from tests.support.figures import Counter
from tests.support.net import chroma_run, free_port

pytestmark = pytest.mark.reliability

Built = tuple[Path, list[str], dict[str, tuple[str, int]], int]
Record = Callable[[str], AbstractContextManager[Counter]]
Outcome = Callable[[Counter, str], None]
QUESTION = "赤狐公司的第2座数据中心功率是多少？"


@pytest.fixture(scope="module")
def built(crash_corpus: Built) -> Built:
    """The corpus (docs/), its clean build (clean/): chunk ids, documents, and the store writes it took."""
    return crash_corpus


def _assistant(home: Path, url: str | None = None) -> Assistant:
    return Assistant(Settings(home=home, chroma_url=url), bundled=False, show_progress=False)


def _compare(counter: Counter, assistant: Assistant, ids: list[str]) -> tuple[int, int]:
    """Chunks of the clean build missing from the store, and chunks there beyond it (repeated ids or
    strays), added to the counter's figures."""
    got = [c.id for c, _ in assistant.store.chunks()]
    lost, duplicated = len(set(ids) - set(got)), len(got) - len(set(got)) + len(set(got) - set(ids))
    counter.lost += lost
    counter.duplicated += duplicated
    return lost, duplicated


def _intact(path: Path) -> bool:
    db = sqlite3.connect(path)
    try:
        return bool(db.execute("PRAGMA integrity_check").fetchone() == ("ok",))
    finally:
        db.close()


def _clean_message(stderr: str, *words: str) -> None:
    """A one-line `rag: ...` message with the given words, and no traceback."""
    assert "Traceback" not in stderr, stderr[-3000:]
    assert stderr.startswith("rag: "), stderr[-3000:]
    for word in words:
        assert word in stderr, stderr


def test_kill_9_at_ten_random_points_then_rerun_loses_nothing(
    built: Built, tmp_path: Path, record: Record, outcome: Outcome
) -> None:
    folder, ids, docs, writes = built
    clean_home = folder.parent / "clean"
    (tmp_path / "timed").mkdir()
    timed = home_with_cache(tmp_path / "timed", clean_home)
    start = time.monotonic()
    subprocess.run(ingest_cmd(folder), env=ingest_env(timed), cwd=ROOT, check=True, capture_output=True)
    duration = time.monotonic() - start  # an uninterrupted run: the clock kills fall inside it
    rng = random.Random(20250917)
    kinds = ["write"] * 5 + ["clock"] * 5
    rng.shuffle(kinds)
    for round_, kind in enumerate(kinds):
        with record("kill -9 during ingestion") as counter:
            (tmp_path / str(round_)).mkdir()
            home = home_with_cache(tmp_path / str(round_), clean_home)
            if kind == "write":
                after = rng.randint(1, writes)
                run = subprocess.run(
                    ingest_cmd(folder),
                    env=ingest_env(home, after),
                    cwd=ROOT,
                    capture_output=True,
                    timeout=120,
                )
                assert run.returncode == -signal.SIGKILL, run.stderr.decode()[-2000:]
                outcome(counter, "killed after a store write")
            else:
                delay = rng.uniform(0.4, 0.95) * duration
                while True:  # a run that finished before its kill is redone with an earlier one
                    proc = subprocess.Popen(
                        ingest_cmd(folder),
                        env=ingest_env(home),
                        cwd=ROOT,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    time.sleep(delay)
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    if proc.returncode == -signal.SIGKILL:
                        break
                    outcome(counter, "finished before the kill, redone earlier")
                    shutil.rmtree(home / "chroma", ignore_errors=True)
                    delay *= 0.6
                outcome(counter, "killed by the clock")
            counter.faults += 1
            partial, _ = store_state(home)
            assert len(partial) <= len(ids)
            state = "empty" if not partial else "partial" if len(partial) < len(ids) else "full"
            outcome(counter, f"store {state} when killed")
            again = _assistant(home)
            again.ingest([folder])
            assert _compare(counter, again, ids) == (0, 0), f"round {round_} ({kind})"
            assert store_state(home)[1] == docs  # every document complete, with its hash and chunk count
            assert _intact(home / "embeddings.sqlite") and _intact(home / "chroma" / "chroma.sqlite3")


@contextmanager
def _read_only(target: Path) -> Iterator[str]:
    """`target` and everything in it made unwritable for this process (and its children).

    chmod does not stop root, so as root the files are made immutable with `chattr +i` instead.
    """
    paths = [target, *sorted(target.rglob("*"))]
    if os.geteuid() != 0:
        modes = {p: stat.S_IMODE(p.stat().st_mode) for p in paths}
        for p, mode in modes.items():
            p.chmod(mode & ~0o222)
        try:
            yield "chmod a-w"
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    chattr = shutil.which("chattr")
    try:
        if chattr is None or subprocess.run([chattr, "-R", "+i", target], capture_output=True).returncode:
            pytest.skip("running as root (chmod does not stop root) and chattr +i does not work here")
        yield "chattr +i"
    finally:
        if chattr is not None:
            subprocess.run([chattr, "-R", "-i", target], capture_output=True)


@pytest.mark.parametrize("part", ["chroma", "home"])
def test_a_read_only_store_refuses_ingestion_clearly_and_still_answers(
    built: Built, tmp_path: Path, record: Record, outcome: Outcome, part: str
) -> None:
    folder, ids, docs, _ = built
    home = tmp_path / "home"
    shutil.copytree(folder.parent / "clean", home)
    assistant = _assistant(home)
    before = assistant.ask(QUESTION)
    assert before.citations and before.citations[0].source == "01_赤狐.md"
    more = write_corpus(tmp_path / "more", version=3, changed=("赤狐",))
    target = home / "chroma" if part == "chroma" else home
    with record("read-only store") as counter:
        with _read_only(target) as how:
            counter.faults += 1
            outcome(counter, how)
            with pytest.raises(StoreError) as caught:
                assistant.ingest([more])
            message = str(caught.value)
            assert f"{target} is not writable" in message and "RAG_HOME" in message
            run = subprocess.run(
                ingest_cmd(more), env=ingest_env(home), cwd=ROOT, capture_output=True, text=True, timeout=120
            )
            assert run.returncode == 1
            _clean_message(run.stderr, str(target), "not writable")
            outcome(counter, "clear error")
            for reader in (assistant, _assistant(home)):  # the open assistant and a new one
                again = reader.ask(QUESTION)
                assert again.text == before.text and again.citations == before.citations
            outcome(counter, "answered")
        assert _compare(counter, assistant, ids) == (0, 0)  # nothing stored was lost
        assert store_state(home)[1] == docs
        assert assistant.ingest([more]).added  # writable again: the same call now works


def test_connections_chroma_opened_while_read_only_do_not_block_writes_afterwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, record: Record, outcome: Outcome
) -> None:
    """Reads from many threads while the folder is read-only make Chroma open new database
    connections, which stay read-only; once the folder is writable the next write still succeeds."""
    monkeypatch.setenv("RAG_NO_SNAPSHOT", "1")  # reads go to Chroma itself
    store = ChromaStore(tmp_path / "home", "faults", "model")
    first = Chunk(id="c1", source="a.md", text="甲", start_line=1, end_line=1, doc_sha256="a")
    store.add([first], np.array([[0.1, 0.2, 0.3]], dtype=np.float32), "a.md", total=1)

    def read() -> None:
        for _ in range(20):
            with contextlib.suppress(StoreError):  # Chroma may fail to read too while read-only
                store.get(["c1"])
                store.count()

    with record("writes after a read-only spell") as counter:
        with _read_only(tmp_path / "home") as how:
            counter.faults += 1
            outcome(counter, how)
            readers = [threading.Thread(target=read) for _ in range(12)]
            for thread in readers:
                thread.start()
            for thread in readers:
                thread.join()
        second = Chunk(id="c2", source="b.md", text="乙", start_line=1, end_line=1, doc_sha256="b")
        store.add([second], np.array([[0.3, 0.2, 0.1]], dtype=np.float32), "b.md", total=1)
        store.delete(["c1"])
        assert [c.id for c in store.get(["c1", "c2"])] == ["c2"]
        outcome(counter, "written")


def _limited(limit: int) -> Callable[[], None]:
    """A preexec_fn: files may not grow past `limit` bytes, and a write that would fails with EFBIG
    (SIGXFSZ ignored) as on a full disk."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("room", [0, 2])
def test_a_full_disk_is_a_clear_error_and_a_rerun_completes(
    built: Built, tmp_path: Path, record: Record, outcome: Outcome, room: int
) -> None:
    folder, ids, docs, _ = built
    clean_home = folder.parent / "clean"
    home = home_with_cache(tmp_path, clean_home)
    first = sorted(folder.iterdir())[:4]
    _assistant(home).ingest(first)
    kept = {c.id: (c.text, c.doc_sha256) for c, _ in _assistant(home).store.chunks()}
    size = (home / "chroma" / "chroma.sqlite3").stat().st_size
    full = (clean_home / "chroma" / "chroma.sqlite3").stat().st_size
    limit = size + (full - size) * room // 4  # no room to grow at all, or room for about half the rest
    with record("disk full during ingestion") as counter:
        run = subprocess.run(
            ingest_cmd(folder),
            env=ingest_env(home),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=_limited(limit),
        )
        counter.faults += 1
        assert run.returncode == 1, run.stdout + run.stderr
        _clean_message(run.stderr, "no space left", str(home / "chroma"), "ingest again")
        outcome(counter, "clear error")
        stored = {c.id: (c.text, c.doc_sha256) for c, _ in _assistant(home).store.chunks()}
        assert {i: stored.get(i) for i in kept} == kept  # what was stored before is untouched
        outcome(counter, f"{len(stored) - len(kept)} chunks written before the failure")
        rerun = _assistant(home)
        rerun.ingest([folder])  # the space is back
        assert _compare(counter, rerun, ids) == (0, 0)
        assert store_state(home)[1] == docs
        assert _intact(home / "chroma" / "chroma.sqlite3") and _intact(home / "embeddings.sqlite")
        outcome(counter, "rerun complete")


@pytest.mark.server
def test_a_stopped_chroma_server_is_a_clear_error_and_the_session_recovers(
    built: Built, tmp_path: Path, record: Record, outcome: Outcome
) -> None:
    folder, ids, docs, _ = built
    home = home_with_cache(tmp_path, folder.parent / "clean")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = chroma_run(tmp_path / "db", port)
    try:
        with record("chroma server stopped") as counter:
            assistant = _assistant(home, url)
            assistant.ingest([folder])
            before = assistant.ask(QUESTION)
            assert before.citations and before.citations[0].source == "01_赤狐.md"
            server.kill()
            server.wait()
            counter.faults += 1
            for call in (lambda: assistant.ask(QUESTION), assistant.documents):
                start = time.monotonic()
                with pytest.raises(StoreError) as caught:
                    call()
                waited = time.monotonic() - start
                assert waited < 15
                assert url in str(caught.value) and "chroma run" in str(caught.value)
                counter.outcomes["slowest error s"] = round(
                    max(waited, float(counter.outcomes.get("slowest error s", 0))), 3
                )
            outcome(counter, "clear error")
            server = chroma_run(tmp_path / "db", port)  # the same port and data
            again = assistant.ask(QUESTION)  # the same object, no restart
            assert again.text == before.text and again.citations == before.citations
            outcome(counter, "recovered")
            assert _compare(counter, assistant, ids) == (0, 0)
            assert {d.source: (d.sha256, d.chunks) for d in assistant.documents()} == docs
    finally:
        server.kill()
        server.wait()
