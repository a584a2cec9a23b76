"""Property: any file content gives a Document or SkippedFile, with valid, increasing line numbers."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rag.ingest.formats import decode, decode_html
from rag.ingest.load import SkippedFile, read_document
from rag.schema import Document

pytestmark = pytest.mark.reliability

TEXT = "黃仁勛在CES上發表了演講。英偉達的AI工廠需要1吉瓦電力。\n第二段文字在這裡，說明算力。\n"
SUFFIXES = st.sampled_from([".txt", ".md", ".html"])
CJK_TEXT = st.text(st.characters(categories=["Lo", "Nd", "Po", "Zs"]) | st.just("\n"), max_size=300)


def _utf8_prefix(text: str) -> st.SearchStrategy[bytes]:
    data = text.encode("utf-8")
    return st.integers(1, len(data)).map(lambda n: data[:n])


def _foreign(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="ignore")


def _html(body: str, charset: str, encoding: str) -> bytes:
    page = f'<html><head><meta charset="{charset}"><title>t</title></head><body><article>'
    page += "".join(f"<p>{p}</p>\n" for p in body.split("\n") if p)
    return (page + "</article></body></html>").encode(encoding, errors="ignore")


CONTENTS = st.one_of(
    st.binary(max_size=2000),
    CJK_TEXT.flatmap(lambda t: _utf8_prefix(t + TEXT)),
    st.tuples(CJK_TEXT, st.sampled_from(["gb18030", "big5"])).map(lambda x: _foreign(x[0] + TEXT, x[1])),
    st.tuples(
        CJK_TEXT,
        st.sampled_from(["utf-8", "gbk", "big5", "latin-1", "shift_jis", "nonsense-9"]),
        st.sampled_from(["gb18030", "big5", "utf-8"]),
    ).map(lambda x: _html(x[0] + TEXT * 4, x[1], x[2])),
)


def _check(path: Path, data: bytes) -> str:
    try:
        doc = read_document(path)
    except SkippedFile:
        return "skipped"
    assert isinstance(doc, Document)
    assert doc.lines
    text = (decode_html if path.suffix == ".html" else decode)(data)
    count = max(len(text.splitlines()), text.count("\n") + 1)
    numbers = [line.number for line in doc.lines]
    assert all(1 <= n <= count for n in numbers), (numbers, count)
    if path.suffix == ".html":
        assert numbers == sorted(numbers), numbers  # several extracted lines can start on one source line
    else:
        assert all(a < b for a, b in itertools.pairwise(numbers)), numbers
    return "document"


@given(data=CONTENTS, suffix=SUFFIXES)
@example(data=TEXT.encode("gb18030"), suffix=".txt")
@example(data=TEXT.encode("big5"), suffix=".txt")
@example(data=TEXT.encode("utf-8")[:-2], suffix=".txt")
# bug: a UTF-8 file cut inside its last character was skipped
@example(data=(TEXT * 2000).encode("utf-8")[:-2], suffix=".txt")
@example(data=_html(TEXT * 4, "utf-8", "gb18030"), suffix=".html")
def test_any_file_content_is_a_document_or_skipped(
    record: Callable[..., object], outcome: Callable[..., None], data: bytes, suffix: str
) -> None:
    with record("file contents -> read_document") as counter, tempfile.TemporaryDirectory() as tmp:  # type: ignore[attr-defined]
        path = Path(tmp) / f"doc{suffix}"
        path.write_bytes(data)
        outcome(counter, _check(path, data))


def test_one_megabyte_single_line(
    tmp_path: Path, record: Callable[..., object], outcome: Callable[..., None]
) -> None:
    data = ("英伟达的AI工厂需要1吉瓦电力，" * 50_000).encode("utf-8")[: 2**20]
    assert len(data) == 2**20  # ends mid-character: truncated UTF-8 too
    with record("1 MB single line -> read_document") as counter:  # type: ignore[attr-defined]
        path = tmp_path / "long.txt"
        path.write_bytes(data)
        outcome(counter, _check(path, data))
