"""Settings, read from the environment with defaults that work offline."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import InputError

MAX_QUESTION_CHARS = 2000


def default_home() -> Path:
    """RAG_HOME, else the user's data folder (XDG_DATA_HOME or ~/.local/share) + /rag."""
    if os.environ.get("RAG_HOME"):
        return Path(os.environ["RAG_HOME"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "rag"


@dataclass
class Settings:
    """Where the knowledge base lives and how questions are answered.

    Example:
        >>> Settings(top_k=8).top_k
        8
    """

    home: Path = field(default_factory=default_home)
    collection: str = field(default_factory=lambda: os.environ.get("RAG_COLLECTION", "default"))
    chroma_url: str | None = field(default_factory=lambda: os.environ.get("RAG_CHROMA_URL") or None)
    top_k: int = 5
    mode: str = "hybrid"
    max_question_chars: int = MAX_QUESTION_CHARS

    def __post_init__(self) -> None:
        self.home = Path(self.home).expanduser()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,60}", self.collection):
            raise InputError(
                f"Collection name {self.collection!r} is not valid: use letters, digits, '-' and '_' "
                "(at most 61 characters, starting with a letter or digit)"
            )
        if self.top_k < 1:
            raise InputError(f"top_k must be at least 1, not {self.top_k}")
