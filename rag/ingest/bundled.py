"""The bundled knowledge base: the articles shipped in the package and their precomputed vectors.

The vectors of every chunk and sentence of the bundled articles ship in `corpus/vectors.npz`, so
the first run indexes them in seconds instead of embedding for half a minute. They are the same
numbers the embedder computes (it is deterministic);
`python -c 'import rag.ingest.bundled as b; b.export_vectors()'` rebuilds the file.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from rag.index.embed import VECTORS_FILE
from rag.ingest.chunk import chunk_document
from rag.ingest.load import read_document
from rag.schema import Passage
from rag.text.sentences import split_passages


def corpus_dir() -> Path:
    """The folder of the bundled articles inside the installed package."""
    return Path(str(resources.files("rag") / "corpus"))


def bundled_files() -> list[Path]:
    """The documents shipped inside the package (the default knowledge base)."""
    return sorted(p for p in corpus_dir().iterdir() if p.suffix == ".txt")


def bundled_texts() -> tuple[list[str], list[str]]:
    """The chunk texts and the sentence texts of the bundled articles, as the pipeline makes them."""
    chunks: list[str] = []
    sentences: list[str] = []
    for path in bundled_files():
        for chunk in chunk_document(read_document(path)):
            chunks.append(chunk.text)
            passage = Passage(
                chunk.id, chunk.source, chunk.text, 0.0, chunk.start_line, chunk.end_line, chunk.line_numbers
            )
            sentences.extend(s.text for s in split_passages([passage]))
    return chunks, sentences


def export_vectors(path: Path | None = None) -> Path:
    """Embed every bundled chunk and sentence and write them next to the articles."""
    from rag.index.embed import E5Embedder, EmbeddingCache

    embedder = E5Embedder()
    chunks, sentences = bundled_texts()
    texts = sorted(set(chunks) | set(sentences))
    vectors = embedder.embed_passages(texts)
    keys = [EmbeddingCache.key(embedder.model_id, "passage", t) for t in texts]
    target = path or corpus_dir() / VECTORS_FILE
    np.savez_compressed(target, keys=np.array(keys), vectors=vectors.astype(np.float32))
    return target
