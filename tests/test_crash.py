"""Crash safety: `kill -9` in the middle of ingesting, then ingesting again, loses and duplicates nothing.

The ingesting process is killed at exact points by the test hook RAG_TEST_CRASH_AFTER=N (rag/ingest/build.py:
SIGKILL right after the N-th store write), and once at a moment picked by the clock.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import Assistant, Settings
from rag.schema import Chunk

ROOT = Path(__file__).resolve().parent.parent
TOPICS = ["蓝鲸", "赤狐", "白鹭", "青松", "金雕", "银杏", "紫藤", "黑曜"]


def _paragraph(topic: str, n: int, version: int) -> str:
    return (
        f"{topic}公司第{n}号报告（第{version}版）：该公司在{2020 + n}年建成了第{n}座数据中心，功率为"
        f"{10 * n + version}兆瓦，服务于{n * 3}个城市的{n * 7}万名用户，团队在第{n}阶段测试了{n + 4}种"
        f"冷却方案，最终选择了液冷与自然风冷结合的设计，年均能效比达到{1 + n / 10:.2f}，比行业平均水平"
        f"低{n * 2}个百分点，并计划在{2030 + n}年前把第{n}座数据中心的可再生能源比例提高到百分之{50 + n}。"
    )


def write_corpus(folder: Path, version: int = 1, changed: tuple[str, ...] = ()) -> Path:
    """Eight small documents of one to four chunks (one a paragraph); in `changed` topics the second
    paragraph is at `version`."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, topic in enumerate(TOPICS):
        paragraphs = [
            _paragraph(topic, n, version if topic in changed and n == 2 else 1) for n in range(1, 2 + i % 4)
        ]
        text = f"# {topic}\n\n" + "\n\n".join(paragraphs) + "\n"
        (folder / f"{i:02d}_{topic}.md").write_text(text, "utf-8")
    return folder


def _env(home: Path, crash_after: int | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_HOME=str(home), RAG_NO_BUNDLED_VECTORS="1")
    if crash_after is not None:
        env["RAG_TEST_CRASH_AFTER"] = str(crash_after)
    return env


def _ingest_cmd(folder: Path) -> list[str]:
    return [sys.executable, "-m", "rag", "ingest", str(folder)]


def _home_with_cache(tmp_path: Path, clean_home: Path) -> Path:
    """A fresh home whose embedding cache already holds the corpus' vectors (no embedding to wait for)."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(clean_home / "embeddings.sqlite", home / "embeddings.sqlite")
    return home


def _chunks(home: Path) -> list[tuple[Chunk, str]]:
    return Assistant(Settings(home=home), bundled=False, show_progress=False).store.chunks()


def _state(home: Path) -> tuple[list[str], dict[str, tuple[str, int]]]:
    """Chunk ids (with repeats, if any) and each document's (hash, chunks); '' hash = incomplete."""
    assistant = Assistant(Settings(home=home), bundled=False, show_progress=False)
    ids = [c.id for c, _ in assistant.store.chunks()]
    docs = {d.source: (d.sha256, d.chunks) for d in assistant.documents()}
    return ids, docs


@pytest.fixture(scope="module")
def clean(
    crash_corpus: tuple[Path, list[str], dict[str, tuple[str, int]], int],
) -> tuple[Path, list[str], dict[str, tuple[str, int]]]:
    """A corpus (in docs/), and the ids and documents of its uninterrupted build (in clean/)."""
    folder, ids, docs, _ = crash_corpus
    return folder, ids, docs


def _check_recovered(home: Path, ids: list[str], docs: dict[str, tuple[str, int]]) -> None:
    got_ids, got_docs = _state(home)
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
    home = _home_with_cache(tmp_path, folder.parent / "clean")
    run = subprocess.run(
        _ingest_cmd(folder), env=_env(home, crash_after), cwd=ROOT, capture_output=True, timeout=120
    )
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()[-2000:]
    lock = home / "rag-default.lock"
    assert lock.read_text().strip().isdigit()  # the dead writer's pid is still in the lock file…
    partial, _ = _state(home)
    assert 0 < len(partial) <= len(ids)
    report = Assistant(Settings(home=home), bundled=False, show_progress=False).ingest([folder])
    assert report.added or report.updated or crash_after == 8  # …and does not block the next writer
    _check_recovered(home, ids, docs)


def test_kill_between_new_chunks_and_stale_removal_of_an_update(
    clean: tuple[Path, list[str], dict[str, tuple[str, int]]], tmp_path: Path
) -> None:
    folder = write_corpus(tmp_path / "docs")
    home = _home_with_cache(tmp_path, clean[0].parent / "clean")
    Assistant(Settings(home=home), bundled=False, show_progress=False).ingest([folder])
    # 03_青松.md: 4 paragraphs, the second edited and a heading added: some chunks
    # stay (with new line numbers), others are replaced
    write_corpus(folder, version=2, changed=("青松",))
    text = (folder / "03_青松.md").read_text("utf-8")
    (folder / "03_青松.md").write_text("# 青松（修订）\n\n" + text, "utf-8")
    (tmp_path / "target").mkdir()
    shutil.copy(home / "embeddings.sqlite", tmp_path / "target" / "embeddings.sqlite")
    Assistant(Settings(home=tmp_path / "target"), bundled=False, show_progress=False).ingest([folder])
    ids, docs = _state(tmp_path / "target")
    # killed right after the new version's chunks are written, before the old ones are removed
    run = subprocess.run(_ingest_cmd(folder), env=_env(home, 1), cwd=ROOT, capture_output=True, timeout=120)
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()[-2000:]
    _, half = _state(home)
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
    proc = subprocess.Popen(_ingest_cmd(folder), env=_env(home), cwd=ROOT, stderr=subprocess.DEVNULL)
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
