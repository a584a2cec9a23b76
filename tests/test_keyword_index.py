"""The BM25 index is saved per set of chunk ids and reopened memory-mapped, not rebuilt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rag.retrieve.hybrid import KeywordIndex

TEXTS = {"c1": "英伟达的AI工厂需要大量电力。", "c2": "软银在日本建设数据中心。", "c3": "芯片的产量翻了一番。"}


def test_saved_index_is_reused_and_updated(tmp_path: Path) -> None:
    calls: list[list[str]] = []
    stored = dict(TEXTS)  # this test adds a chunk: the module's texts stay as they are

    def texts(ids: list[str]) -> list[str]:
        calls.append(list(ids))
        return [stored[i] for i in ids]

    cache = tmp_path / "rag-x.tokens.json"
    first = KeywordIndex.load_or_build(["c3", "c1", "c2"], texts, cache)
    assert calls == [["c1", "c2", "c3"]]
    second = KeywordIndex.load_or_build(["c2", "c3", "c1"], texts, cache)
    assert len(calls) == 1  # same chunks: loaded from disk, nothing read or tokenized
    hits = second.search("软银 日本", 2)
    assert hits == first.search("软银 日本", 2) and second.ids[hits[0][0]] == "c2"
    assert second.idf("苹果") > second.idf("软银") == first.idf("软银")  # unseen terms weigh most
    assert second.known("数据中心") and not second.known("苹果")

    stored["c4"] = "台积电负责制造这些芯片。"
    third = KeywordIndex.load_or_build(["c1", "c2", "c3", "c4"], texts, cache)
    assert calls[-1] == ["c4"]  # only the new chunk is tokenized
    assert third.ids[third.search("台积电", 1)[0][0]] == "c4"
    assert len(list(cache.with_suffix(".bm25").iterdir())) == 1  # the old version is dropped
    assert KeywordIndex.load_or_build([], texts, cache).search("芯片", 3) == []


def test_a_save_cut_off_by_a_killed_process_is_cleaned_up(tmp_path: Path) -> None:
    texts = {i: TEXTS[i] for i in ("c1", "c2")}
    cache = tmp_path / "rag-x.tokens.json"
    folder = cache.with_suffix(".bm25")
    folder.mkdir()
    code = "import os; print(os.getpid())"
    dead = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    abandoned = folder / f"v1.{int(dead.stdout)}.tmp"  # its writer has exited
    in_progress = folder / f"v1.{os.getpid()}.tmp"  # a live writer's: left alone
    for tmp in (abandoned, in_progress):
        tmp.mkdir()
        (tmp / "data.npy").write_bytes(b"half")
    KeywordIndex.load_or_build(["c1", "c2"], lambda ids: [texts[i] for i in ids], cache)
    left = {p.name for p in folder.iterdir()}
    assert abandoned.name not in left and in_progress.name in left and len(left) == 2
