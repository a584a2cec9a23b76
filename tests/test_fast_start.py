"""A quick start: what a question in a new process loads, the store's read copy, jieba's dictionary
read word by word, and paths with `~` and environment variables. (Timings: eval/bench.py.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag import Assistant, Settings, StoreError
from rag.index.store import ChromaStore
from rag.ingest.formats import SUFFIXES

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "软银和英伟达在日本建设的AI工厂有多少算力？"
TEXTS = [
    "软银和英伟达在日本建设的AI工厂有多少算力？",
    "黄仁勋在东京和孙正义对话，谈到了主权AI与AI工厂的电力需求。",
    "How much power does the AI factory NVIDIA is building need?",
    "英伟达已成功将自己从一家图形芯片公司转型为AI基础设施的提供者。",
]
LOADED = """
import json, sys
import rag.app.cli
code = rag.app.cli.main(sys.argv[1:])
import jieba
print(json.dumps({
    "code": code,
    "modules": sorted(m for m in ("chromadb", "bm25s", "scipy", "gradio", "llama_index.core")
                      if m in sys.modules),
    "dictionary": type(jieba.dt.FREQ).__name__,
}))
"""


def _env(home: Path, cache: Path) -> dict[str, str]:
    return {**os.environ, "RAG_HOME": str(home), "XDG_CACHE_HOME": str(cache)}


def _wait_for_dictionary(cache: Path) -> None:
    """The dictionary files are written by a process of their own: wait for them."""
    deadline = time.monotonic() + 120
    while not (list(cache.glob("rag/jieba-*.sqlite")) and list(cache.glob("rag/jieba-*.marshal"))):
        assert time.monotonic() < deadline, "jieba's dictionary files were not written"
        time.sleep(0.2)
    time.sleep(0.5)  # the marshal file is renamed into place last


def _run(home: Path, cache: Path, *args: str) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-c", LOADED, *args], env=_env(home, cache), cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.slow
def test_a_question_in_a_new_process_starts_neither_chroma_nor_bm25s(
    rag_home: Path, assistant: Assistant, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = _run(rag_home, cache, "ask", QUESTION)  # the first use has the dictionary files written
    assert first["dictionary"] == "dict"  # meanwhile it loads the dictionary as jieba does
    _wait_for_dictionary(cache)
    second = _run(rag_home, cache, "ask", QUESTION)
    assert second == {"code": 0, "modules": [], "dictionary": "Lookup"}
    assert _run(rag_home, cache, "docs")["modules"] == []


@pytest.mark.slow
def test_jieba_cuts_and_tags_the_same_with_the_dictionary_read_word_by_word(
    rag_home: Path, tmp_path: Path
) -> None:
    code = (
        "import json, sys\n"
        "import rag.text.jieba_dict\n"
        "from rag.text.tokens import _jieba\n"
        "if sys.argv[1] == 'busy':\n"
        "    rag.text.jieba_dict.UPGRADE_AFTER = 30  # a long job: the whole dictionary loads on the way\n"
        "if sys.argv[1] != 'whole':\n"
        "    _jieba()\n"
        "import jieba, jieba.posseg\n"
        "texts = json.loads(sys.argv[2])\n"
        "cuts = [[jieba.lcut_for_search(t), jieba.lcut(t), [list(p) for p in jieba.posseg.lcut(t)]]\n"
        "        for t in texts]\n"
        "print(json.dumps([cuts, type(jieba.dt.FREQ).__name__], ensure_ascii=False))\n"
    )
    cache = tmp_path / "cache"
    env = _env(rag_home, cache)
    subprocess.run(
        [sys.executable, "-c", "from rag.text.tokens import words; words('建')"], env=env, check=True
    )
    _wait_for_dictionary(cache)
    runs = {}
    for how in ("file", "busy", "whole"):
        out = subprocess.run(
            [sys.executable, "-c", code, how, json.dumps(TEXTS)], env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        runs[how] = json.loads(out.stdout)
    assert runs["file"][1] == "Lookup" and runs["busy"][1] == "dict" and runs["whole"][1] == "dict"
    assert runs["file"][0] == runs["whole"][0] == runs["busy"][0]


def test_the_read_copy_answers_as_chroma_does(rag_home: Path, assistant: Assistant) -> None:
    model = assistant.embedder.model_id
    copy = ChromaStore(rag_home, "default", model)
    assert copy._reading_copy
    os.environ["RAG_NO_SNAPSHOT"] = "1"
    try:
        chroma = ChromaStore(rag_home, "default", model)
    finally:
        del os.environ["RAG_NO_SNAPSHOT"]
    assert not chroma._reading_copy and chroma.count() == copy.count() > 0
    assert sorted(copy.ids()) == sorted(chroma.ids())
    assert copy.documents() == chroma.documents() and copy.openings() == chroma.openings()
    for text in TEXTS:
        vector = assistant.embedder.embed_query(text)
        mine, theirs = copy.query(vector, 10), chroma.query(vector, 10)
        assert [c.id for c, _ in mine] == [c.id for c, _ in theirs]
        assert np.allclose([s for _, s in mine], [s for _, s in theirs], atol=1e-4)
        assert [c for c, _ in mine] == [c for c, _ in theirs]  # text, lines and title too


def test_a_stale_or_foreign_copy_is_never_read(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "fox.md").write_text("# 红狐\n\n红狐在清晨出来觅食。\n", encoding="utf-8")
    home = tmp_path / "home"
    made = Assistant(Settings(home=home), bundled=False, show_progress=False)
    made.ingest([folder])
    model = made.embedder.model_id
    assert made.store.snapshot is not None and made.store.snapshot.current()  # kept in step by the writes
    assert ChromaStore(home, "default", model)._reading_copy

    made.store.snapshot.mark_stale()  # as a writer killed between its two writes leaves it
    reopened = ChromaStore(home, "default", model)
    assert not reopened._reading_copy and reopened.count() == made.store.count()
    assert ChromaStore(home, "default", model)._reading_copy  # copied again by the first reader

    moved = tmp_path / "moved"
    shutil.copytree(home, moved)  # other Chroma files: the copy beside them is not theirs
    assert not ChromaStore(moved, "default", model)._reading_copy
    with pytest.raises(StoreError, match="another/model"):  # the copy never hides a change of model
        ChromaStore(home, "default", "another/model")


def test_removing_a_document_updates_the_copy(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text(f"{name} 的内容是关于红狐的一段话。\n", encoding="utf-8")
    home = tmp_path / "home"
    Assistant(Settings(home=home), bundled=False, show_progress=False).ingest([folder])
    (folder / "b.txt").unlink()
    Assistant(Settings(home=home), bundled=False, show_progress=False).ingest([folder], prune=True)
    reader = Assistant(Settings(home=home), bundled=False, show_progress=False)
    assert reader.store._reading_copy
    assert [d.source for d in reader.documents()] == ["a.txt"]
    assert {p.source for p in reader.retrieve("红狐", k=5)} == {"a.txt"}


def test_home_and_ingested_paths_expand_the_home_folder_and_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DOCS", str(tmp_path / "reports"))
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "fox.md").write_text("红狐在清晨出来觅食。\n", encoding="utf-8")
    settings = Settings(home="~/kb")  # type: ignore[arg-type]
    assert settings.home == tmp_path / "kb"
    monkeypatch.setenv("RAG_HOME", "$HOME/other")
    assert Settings().home == tmp_path / "other"
    made = Assistant(settings, bundled=False, show_progress=False)
    assert made.ingest(["~/reports"]).added == ["fox.md"]
    assert made.ingest(["$DOCS/fox.md"]).unchanged == ["fox.md"]
    assert made.ingest(["${DOCS}"]).unchanged == ["fox.md"]


def test_rag_ingest_help_lists_every_format_read() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "rag", "ingest", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    text = " ".join(run.stdout.split())
    assert all(suffix in text for suffix in SUFFIXES), text
