"""Sentences of passages with the file lines they stand on, and the soft wrap that joins lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.schema import Passage
from rag.text.clean import fold, is_table_row
from rag.text.tokens import sentences

END_PUNCT = ("。", "！", "？", ".", "!", "?", "；", ";", "…", "”", "」", '"', "）", ")")


def continues(text: str, number: int, next_number: int) -> bool:
    """A line soft-wrapped in the file: long, no end punctuation, and the next line follows directly.

    Short lines without end punctuation are headings, which stand alone, unless a bracket or quote
    opened on the line is still open. A table row stands alone.
    """
    if next_number != number + 1 or text.rstrip().endswith(END_PUNCT) or is_table_row(text):
        return False
    unclosed = any(text.count(a) > text.count(b) for a, b in ("（）", "()", "“”", "「」", "《》"))
    return len(text) > 40 or unclosed


@dataclass
class Sentence:
    """A sentence of a retrieved passage, with the file line it stands on."""

    passage: Passage
    rank: int
    line: int
    text: str
    folded: str
    # a table row's header row, as written and folded: read with the row when it is embedded and
    # matched, not quoted
    header: str = ""
    header_folded: str = ""

    @property
    def read(self) -> str:
        """The text its meaning is judged on: a table row under its header row."""
        return f"{self.header}\n{self.text}" if self.header else self.text


def split_passages(passages: Sequence[Passage]) -> list[Sentence]:
    """Every sentence of every passage, in rank order, with its line number."""
    out = []
    for rank, passage in enumerate(passages):
        lines = passage.text.split("\n")
        numbers = list(passage.line_numbers) or [passage.start_line] * len(lines)
        paragraphs: list[tuple[int, str]] = []
        previous = -1
        for line_text, number in zip(lines, numbers):
            if paragraphs and continues(paragraphs[-1][1], previous, number):
                glue = " " if paragraphs[-1][1][-1:].isascii() and line_text[:1].isascii() else ""
                paragraphs[-1] = (paragraphs[-1][0], paragraphs[-1][1] + glue + line_text)
            else:
                paragraphs.append((number, line_text))
            previous = number
        header = ("", "")  # the first row of the table being read, as written and folded
        for number, text in paragraphs:
            row = is_table_row(text)
            over = header if row else ("", "")
            header = (header if header[0] else (text, fold(text))) if row else ("", "")
            for sentence in sentences(text):
                out.append(Sentence(passage, rank, number, sentence, fold(sentence), *over))
    return out
