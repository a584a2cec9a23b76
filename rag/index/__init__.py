"""Embedding chunks and keeping them: the Chroma store, its read copy, sentence vectors, and building
the index from ingested documents."""
