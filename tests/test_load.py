"""Reading files: encodings, formats, and the files that must be skipped with a reason."""

from pathlib import Path

import pytest

from rag.errors import InputError
from rag.ingest.load import SkippedFile, decode, find_files, read_document

TEXT = "黃仁勛在CES上發表了演講。英偉達的AI工廠需要1吉瓦電力。\n第二段文字在這裡。\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "big5"])
def test_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    text = TEXT if encoding != "gb18030" else TEXT.replace("黃仁勛", "黄仁勋")
    path = tmp_path / f"doc-{encoding}.txt"
    path.write_bytes((text * 3).encode(encoding))
    doc = read_document(path)
    assert doc.lines[0].text.startswith(text.split("\n")[0][:6])
    assert doc.lines[0].number == 1
    assert "\ufeff" not in doc.lines[0].text


def test_binary_empty_and_unsupported_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    binary = tmp_path / "a.txt"
    binary.write_bytes(b"\x00\x01\x02binary\x00" * 50)
    empty = tmp_path / "b.md"
    empty.write_text("  \n\n", encoding="utf-8")
    image = tmp_path / "c.png"
    image.write_bytes(b"\x89PNG....")
    with pytest.raises(SkippedFile, match="binary"):
        read_document(binary)
    with pytest.raises(SkippedFile, match="empty"):
        read_document(empty)
    with pytest.raises(SkippedFile, match="unsupported"):
        read_document(image)


def test_decode_rejects_nul_bytes() -> None:
    with pytest.raises(SkippedFile):
        decode(b"abc\x00def")


def test_find_files_expands_folders_and_names_missing_paths(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.md").write_text("内容。", encoding="utf-8")
    (tmp_path / "y.txt").write_text("内容。", encoding="utf-8")
    (tmp_path / "z.bin").write_bytes(b"\x00")
    assert [p.name for p in find_files([tmp_path])] == ["x.md", "y.txt"]
    with pytest.raises(InputError, match=r"nope\.txt"):
        find_files([tmp_path / "nope.txt"])
