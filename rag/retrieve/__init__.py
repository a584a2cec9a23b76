"""Finding the passages for a question: dense and keyword search merged by a fitted ranker, the named
document scope, and reranking."""
