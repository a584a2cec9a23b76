"""Source-cited question answering over a collection of documents.

The names below are imported when first used, so that `rag` itself (and the command line, which
lives in it) starts without loading the pipeline.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.assistant import Assistant
    from rag.config import EmbeddingSettings, LLMSettings, Settings
    from rag.errors import InputError, LLMError, RagError, StoreBusyError, StoreError
    from rag.schema import Answer, Chunk, Citation, IngestReport, Passage
    from rag.verification.reply import Verification, verify

_WHERE = {
    "Answer": "rag.schema",
    "Assistant": "rag.assistant",
    "Chunk": "rag.schema",
    "Citation": "rag.schema",
    "EmbeddingSettings": "rag.config",
    "IngestReport": "rag.schema",
    "InputError": "rag.errors",
    "LLMError": "rag.errors",
    "LLMSettings": "rag.config",
    "Passage": "rag.schema",
    "RagError": "rag.errors",
    "Settings": "rag.config",
    "StoreBusyError": "rag.errors",
    "StoreError": "rag.errors",
    "Verification": "rag.verification.reply",
    "verify": "rag.verification.reply",
}
__all__ = [
    "Answer",
    "Assistant",
    "Chunk",
    "Citation",
    "EmbeddingSettings",
    "IngestReport",
    "InputError",
    "LLMError",
    "LLMSettings",
    "Passage",
    "RagError",
    "Settings",
    "StoreBusyError",
    "StoreError",
    "Verification",
    "verify",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
