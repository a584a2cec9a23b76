"""Paragraph chunks: token budget, whole sentences, line spans, stable ids."""

from pathlib import Path

from rag.ingest.bundled import bundled_files
from rag.ingest.chunk import MAX_TOKENS, chunk_document, count_tokens
from rag.ingest.load import read_document
from rag.schema import Document, Line
from rag.text.tokens import sentences


def _doc(lines: list[tuple[int, str]]) -> Document:
    return Document("t.txt", "/t.txt", "sha", [Line(n, t) for n, t in lines])


def test_short_paragraphs_merge_and_record_their_lines() -> None:
    chunks = chunk_document(_doc([(1, "第一段。"), (3, "第二段。"), (5, "第三段。")]))
    assert len(chunks) == 1
    assert (chunks[0].start_line, chunks[0].end_line) == (1, 5)
    assert chunks[0].line_numbers == (1, 3, 5)
    assert chunks[0].text == "第一段。\n第二段。\n第三段。"


def test_long_paragraph_is_split_between_sentences_only() -> None:
    sentence = "英伟达与软银合作在日本建设人工智能工厂并提供大量算力资源。"
    long_line = sentence * 40
    chunks = chunk_document(_doc([(7, long_line)]), max_tokens=120)
    assert len(chunks) > 1
    assert "".join(c.text for c in chunks) == long_line
    for chunk in chunks:
        assert count_tokens(chunk.text) <= 120
        assert chunk.text.endswith("。") and chunk.start_line == chunk.end_line == 7


def test_ids_are_stable_and_distinct() -> None:
    doc = _doc([(1, "相同的段落。" * 30), (2, "另一段。"), (4, "相同的段落。" * 30)])
    first, second = chunk_document(doc), chunk_document(doc)
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)


def test_bundled_chunks_cover_the_cleaned_text_in_order_within_budget() -> None:
    for path in bundled_files():
        doc = read_document(Path(path))
        chunks = chunk_document(doc)
        assert "\n".join(c.text for c in chunks).replace("\n", "") == "".join(line.text for line in doc.lines)
        starts = [c.start_line for c in chunks]
        assert starts == sorted(starts)
        for c in chunks:
            assert c.start_line <= c.end_line
            # a chunk over budget is one long sentence, or a soft-wrapped sentence kept whole
            if count_tokens(c.text) > MAX_TOKENS:
                assert len(sentences(c.text.replace("\n", ""))) <= 3 or count_tokens(c.text) <= 2 * MAX_TOKENS


def test_soft_wrapped_sentence_stays_in_one_chunk() -> None:
    first = (
        "黄仁勋宣布与SoftBank合作，在日本建设一个拥有大量算力的AI工厂，并利用网络基础设施构建一个覆盖全国的"
    )
    lines = [(1, "前文。" * 70), (2, first), (3, "AI网络。")]
    chunks = chunk_document(_doc(lines), max_tokens=150)
    holder = [c for c in chunks if first in c.text]
    assert holder and "AI网络。" in holder[0].text


def test_a_line_with_an_open_bracket_continues_on_the_next() -> None:
    from rag.ingest.chunk import continues

    assert continues("孙正义（Masayoshi", 10, 11)
    assert not continues("孙正义（Masayoshi", 10, 12)
    assert not continues("短标题", 10, 11)
    assert continues("这是一个很长的句子，" * 5, 3, 4)
