"""Source-cited question answering over a collection of documents."""

from rag.assistant import Assistant
from rag.config import EmbeddingSettings, LLMSettings, Settings
from rag.errors import InputError, LLMError, RagError, StoreBusyError, StoreError
from rag.schema import Answer, Chunk, Citation, IngestReport, Passage

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
]
