"""Plain dataclasses passed between the stages of the pipeline."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Line:
    """One kept line of a document: its 1-based number in the file and its cleaned text."""

    number: int
    text: str


@dataclass(frozen=True)
class Document:
    """A loaded and cleaned document."""

    source: str
    path: str
    sha256: str
    lines: list[Line]


@dataclass(frozen=True)
class Chunk:
    """A run of paragraphs of one document, with its line span and a content-derived id."""

    id: str
    source: str
    text: str
    start_line: int
    end_line: int
    doc_sha256: str = ""
    line_numbers: tuple[int, ...] = ()
    title: str = ""  # the document's title (metadata, never embedded); "" when not known


@dataclass
class Passage:
    """A retrieved chunk with its relevance score."""

    id: str
    source: str
    text: str
    score: float
    start_line: int
    end_line: int
    line_numbers: tuple[int, ...] = ()
    dense: float = 0.0
    keyword: float = 0.0
    fused_rank: int = 0  # rank in the fused ranking, before reranking (0 is first)
    title: str = ""  # the document's title, for people ("" when not known: show `source`)


@dataclass
class Citation:
    """What a numbered marker `[n]` in an answer points to."""

    number: int
    source: str
    text: str
    quote: str
    start_line: int
    end_line: int
    quote_line: int = 0
    passage_id: str = ""
    verified: bool = True
    inferred: bool = False
    title: str = ""  # the document's title, for people ("" when not known: show `source`)


@dataclass
class Answer:
    """An answer with its citations; `abstained` when the documents do not answer."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    mode: Literal["extractive", "llm"] = "extractive"
    # sentences of a model's reply taken out of `text` because the passages do not support them; kept
    # for inspection through the API, never shown as part of the answer
    unsupported: list[str] = field(default_factory=list)
    notice: str = ""
    standalone: str = ""  # the follow-up question rewritten to stand alone (chat), else ""

    def to_dict(self) -> dict[str, Any]:
        """The answer as plain JSON-ready data."""
        return asdict(self)


@dataclass
class IngestReport:
    """What an ingestion run changed in the knowledge base."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    # of the skipped, the files whose text the knowledge base holds: path -> the stored document
    copies: dict[str, str] = field(default_factory=dict)
    chunks: int = 0

    def summary(self) -> str:
        """One line for people."""
        text = (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged; {self.chunks} chunks in the knowledge base"
        )
        if self.skipped:
            text += f"; {len(self.skipped)} skipped"
        return text
