"""The bundled articles ship unchanged, with vectors that match what the embedder computes."""

import filecmp
from pathlib import Path

import numpy as np

from rag.index.embed import E5Embedder, EmbeddingCache, load_vectors
from rag.ingest.bundled import bundled_files, bundled_texts

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


def test_five_articles_are_bundled_unchanged() -> None:
    names = [p.name for p in bundled_files()]
    assert len(names) == 5 and names[0].startswith("000_")
    if SHARED.exists():
        for path in bundled_files():
            assert filecmp.cmp(path, SHARED / path.name, shallow=False), path.name


def test_shipped_vectors_cover_every_chunk_and_sentence() -> None:
    shipped = load_vectors()
    model = E5Embedder().model_id
    chunks, sentences = bundled_texts()
    missing = [t for t in chunks + sentences if EmbeddingCache.key(model, "passage", t) not in shipped]
    assert not missing, (
        f"{len(missing)} texts lack shipped vectors: rebuild with rag.ingest.bundled.export_vectors()"
    )


def test_shipped_vectors_equal_fresh_ones() -> None:
    shipped = load_vectors()
    embedder = E5Embedder()
    chunks, sentences = bundled_texts()
    sample = [chunks[0], chunks[len(chunks) // 2], sentences[7]]
    fresh = embedder.embed_passages(sample)
    for text, vector in zip(sample, fresh):
        stored = shipped[EmbeddingCache.key(embedder.model_id, "passage", text)]
        # the model's 4-bit kernels differ by processor (AVX-512 or not) in the fourth decimal; a
        # vector of another model, or of a text three characters shorter, is far further off (< .997)
        cosine = float(stored @ vector / np.linalg.norm(stored) / np.linalg.norm(vector))
        assert cosine > 0.9999, f"shipped vector off (cosine {cosine:.5f}): rebuild with export_vectors()"
