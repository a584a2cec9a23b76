"""The crash tests' corpus and the `rag ingest` runs they interrupt (RAG_TEST_CRASH_AFTER=N: SIGKILL
right after the N-th store write, see rag/ingest/build.py)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from rag import Assistant, Settings

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


def ingest_env(home: Path, crash_after: int | None = None) -> dict[str, str]:
    """The environment of a `rag ingest` run into `home`, killed after `crash_after` store writes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_HOME=str(home), RAG_NO_BUNDLED_VECTORS="1")
    if crash_after is not None:
        env["RAG_TEST_CRASH_AFTER"] = str(crash_after)
    return env


def ingest_cmd(folder: Path) -> list[str]:
    return [sys.executable, "-m", "rag", "ingest", str(folder)]


def home_with_cache(tmp_path: Path, clean_home: Path) -> Path:
    """A fresh home whose embedding cache already holds the corpus' vectors (no embedding to wait for)."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(clean_home / "embeddings.sqlite", home / "embeddings.sqlite")
    return home


def store_state(home: Path) -> tuple[list[str], dict[str, tuple[str, int]]]:
    """Chunk ids (with repeats, if any) and each document's (hash, chunks); '' hash = incomplete."""
    assistant = Assistant(Settings(home=home), bundled=False, show_progress=False)
    ids = [c.id for c, _ in assistant.store.chunks()]
    docs = {d.source: (d.sha256, d.chunks) for d in assistant.documents()}
    return ids, docs
