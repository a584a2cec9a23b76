"""Crash safety: `kill -9` in the middle of ingesting, then ingesting again, loses and duplicates nothing.

The ingesting process is killed at exact points by the test hook RAG_TEST_CRASH_AFTER=N (rag/ingest/build.py:
SIGKILL right after the N-th store write), and once at a moment picked by the clock.
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from rag import Assistant, Settings
from rag.schema import Chunk
from tests.support import ROOT
from tests.support.crash import home_with_cache, ingest_cmd, ingest_env, store_state, write_corpus

pytestmark = pytest.mark.slow  # each test runs and kills `rag ingest` processes


def _chunks(home: Path) -> list[tuple[Chunk, str]]:
    return Assistant(Settings(home=home), bundled=False, show_progress=False).store.chunks()


@pytest.fixture(scope="module")
def clean(
    crash_corpus: tuple[Path, list[str], dict[str, tuple[str, int]], int],
) -> tuple[Path, list[str], dict[str, tuple[str, int]]]:
    """A corpus (in docs/), and the ids and documents of its uninterrupted build (in clean/)."""
    folder, ids, docs, _ = crash_corpus
    return folder, ids, docs


def _check_recovered(home: Path, ids: list[str], docs: dict[str, tuple[str, int]]) -> None:
    got_ids, got_docs = store_state(home)
    assert len(got_ids) == len(set(got_ids)), "duplicate chunk ids"
    assert sorted(got_ids) == sorted(ids)
    assert got_docs == docs  # every document complete, with its hash and chunk count
    db = sqlite3.connect(home / "embeddings.sqlite")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()


# 1: after the first document; 5: mid-corpus; 8: after the last write, before the run ends
@pytest.mark.parametrize("crash_after", [1, 5, 8])
def test_kill_during_first_build_then_rerun_is_complete(
    clean: tuple[Path, list[str], dict[str, tuple[str, int]]], tmp_path: Path, crash_after: int
) -> None:
    folder, ids, docs = clean
    home = home_with_cache(tmp_path, folder.parent / "clean")
    run = subprocess.run(
        ingest_cmd(folder), env=ingest_env(home, crash_after), cwd=ROOT, capture_output=True, timeout=120
    )
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()[-2000:]
    lock = home / "rag-default.lock"
    assert lock.read_text().strip().isdigit()  # the dead writer's pid is still in the lock file…
    partial, _ = store_state(home)
    assert 0 < len(partial) <= len(ids)
    report = Assistant(Settings(home=home), bundled=False, show_progress=False).ingest([folder])
    assert report.added or report.updated or crash_after == 8  # …and does not block the next writer
    _check_recovered(home, ids, docs)


def test_kill_between_new_chunks_and_stale_removal_of_an_update(
    clean: tuple[Path, list[str], dict[str, tuple[str, int]]], tmp_path: Path
) -> None:
    folder = write_corpus(tmp_path / "docs")
    home = home_with_cache(tmp_path, clean[0].parent / "clean")
    Assistant(Settings(home=home), bundled=False, show_progress=False).ingest([folder])
    # 03_青松.md: 4 paragraphs, the second edited and a heading added: some chunks
    # stay (with new line numbers), others are replaced
    write_corpus(folder, version=2, changed=("青松",))
    text = (folder / "03_青松.md").read_text("utf-8")
    (folder / "03_青松.md").write_text("# 青松（修订）\n\n" + text, "utf-8")
    (tmp_path / "target").mkdir()
    shutil.copy(home / "embeddings.sqlite", tmp_path / "target" / "embeddings.sqlite")
    Assistant(Settings(home=tmp_path / "target"), bundled=False, show_progress=False).ingest([folder])
    ids, docs = store_state(tmp_path / "target")
    # killed right after the new version's chunks are written, before the old ones are removed
    run = subprocess.run(
        ingest_cmd(folder), env=ingest_env(home, 1), cwd=ROOT, capture_output=True, timeout=120
    )
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()[-2000:]
    _, half = store_state(home)
    sha, count = half["03_青松.md"]
    assert sha == "" and count > 4  # old and new chunks side by side: seen as incomplete
    assistant = Assistant(Settings(home=home), bundled=False, show_progress=False)
    report = assistant.ingest([folder])
    assert report.updated == ["03_青松.md"] and len(report.unchanged) == 7
    _check_recovered(home, ids, docs)
    # kept chunks carry the new version's hash and line numbers, so the next run changes nothing
    assert len(assistant.ingest([folder]).unchanged) == 8
    target = {c.id: (c.start_line, c.end_line, c.doc_sha256) for c, _ in _chunks(tmp_path / "target")}
    assert {c.id: (c.start_line, c.end_line, c.doc_sha256) for c, _ in _chunks(home)} == target


def _cached_vectors(path: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1)
        try:
            return int(db.execute("SELECT count(*) FROM vectors").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_kill_while_vectors_are_being_cached(
    clean: tuple[Path, list[str], dict[str, tuple[str, int]]], tmp_path: Path
) -> None:
    folder, ids, docs = clean
    home = tmp_path / "home"  # an empty embedding cache: the writer embeds and caches as it goes
    proc = subprocess.Popen(ingest_cmd(folder), env=ingest_env(home), cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _cached_vectors(home / "embeddings.sqlite") < 16 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)  # the first 16 vectors are in; more are being computed
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert 16 <= _cached_vectors(home / "embeddings.sqlite") < len(ids) * 3
    Assistant(Settings(home=home), bundled=False, show_progress=False).ingest([folder])
    _check_recovered(home, ids, docs)
