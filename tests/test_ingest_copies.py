"""A text is kept once: a copy of a stored file is skipped, and a moved file takes its old place."""

from __future__ import annotations

import shutil
from pathlib import Path

from rag import Assistant

TEXT = "# 报告\n\n蓝鲸公司在2030年建成了一座海底数据中心，功率为42兆瓦。\n\n白鹭公司的研发投入为9亿元。\n"


def _folder(path: Path) -> Path:
    path.mkdir()
    (path / "report.md").write_text(TEXT, encoding="utf-8")
    (path / "other.md").write_text("# 另一份\n\n青松公司有350名员工。\n", encoding="utf-8")
    return path


def test_a_copy_of_a_stored_file_is_skipped_and_named(fresh_settings: object, tmp_path: Path) -> None:
    first = _folder(tmp_path / "a")
    assistant = Assistant(fresh_settings, bundled=False, show_progress=False)  # type: ignore[arg-type]
    assert sorted(assistant.ingest([first]).added) == ["other.md", "report.md"]
    chunks = assistant.store.count()
    copy = tmp_path / "b"
    shutil.copytree(first, copy)
    (copy / "new.md").write_text("# 新文件\n\n红杉公司成立于2011年。\n", encoding="utf-8")
    report = assistant.ingest([copy])
    assert report.added == ["new.md"]
    assert set(report.skipped) == {str(copy / "report.md"), str(copy / "other.md")}
    assert str(first / "report.md") in report.skipped[str(copy / "report.md")]
    assert len(assistant.documents()) == 3 and assistant.store.count() > chunks
    # the passage is retrieved once, not once per copy
    passages = assistant.retrieve("蓝鲸公司的海底数据中心功率是多少？", k=5)
    assert sum("42兆瓦" in p.text for p in passages) == 1


def test_two_files_with_one_text_in_one_run_are_kept_once(fresh_settings: object, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "docs")
    (folder / "report copy.md").write_text(TEXT, encoding="utf-8")
    assistant = Assistant(fresh_settings, bundled=False, show_progress=False)  # type: ignore[arg-type]
    report = assistant.ingest([folder])
    assert len(report.added) == 2 and len(report.skipped) == 1
    assert len(assistant.documents()) == 2


def test_a_moved_folder_takes_the_place_of_its_old_copy(fresh_settings: object, tmp_path: Path) -> None:
    old = _folder(tmp_path / "old")
    assistant = Assistant(fresh_settings, bundled=False, show_progress=False)  # type: ignore[arg-type]
    assistant.ingest([old])
    new = tmp_path / "new"
    old.rename(new)
    report = assistant.ingest([new])
    assert sorted(report.added) == sorted(report.removed) == ["other.md", "report.md"]
    assert not report.skipped
    assert {d.key for d in assistant.documents()} == {str(new / "report.md"), str(new / "other.md")}
    answer = assistant.ask("蓝鲸公司的海底数据中心功率是多少？")
    assert not answer.abstained and answer.citations[0].source == "report.md"
