"""The shortcuts of the warm question path give what the plain computation gives: coverage from one
look per text, query vectors embedded ahead on a background thread, translations kept per text."""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np

from rag.question.query import QueryAnalyzer
from rag.retrieve.ranker import chinese_text
from rag.text.tokens import is_chinese


class CountingEmbedder:
    """A deterministic fake embedder that counts what it embeds and on which thread."""

    model_id = "counting"

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.threads: set[str] = set()

    def embed_query(self, text: str) -> np.ndarray:
        self.calls[text] += 1
        self.threads.add(threading.current_thread().name)
        seed = sum(map(ord, text))
        vector = np.random.default_rng(seed).standard_normal(8).astype(np.float32)
        return vector / np.linalg.norm(vector)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.embed_query(t) for t in texts])


def _naive_coverage(terms: dict[str, float], text: str) -> float:
    total = sum(terms.values())
    held = sum(w for t, w in terms.items() if any(a in text for a in t.split("|")))
    return held / total if total else 0.0


def test_coverage_is_the_plain_weighted_share() -> None:
    query = QueryAnalyzer(lambda t: 1.0 + len(t) / 7).analyse("黄仁勋说英伟达在日本的AI工厂有多少算力？")
    for text in ("黄仁勋在东京说", "英伟达的ai工厂算力", "", "日本 算力 黄仁勋 英伟达"):
        assert query.coverage(text) == _naive_coverage(query.terms, text)
        assert query.coverage(text, content=True) == _naive_coverage(query.content_terms, text)


def test_parts_are_embedded_ahead_once_with_the_same_vectors() -> None:
    question = "How many cold stores does Bluewhale run in Ningbo, and how many in Zhoushan?"
    ahead = CountingEmbedder()
    analyzer = QueryAnalyzer(lambda t: 1.0, ahead)
    parts = analyzer.split(question)
    assert len(parts) == 2
    queries = [analyzer.analyse(part) for part in parts]
    plain = QueryAnalyzer(lambda t: 1.0, CountingEmbedder())
    for query, part in zip(queries, parts):
        expected = plain.analyse(part)
        assert query.vector is not None and expected.vector is not None
        assert np.array_equal(query.vector, expected.vector)
        assert (query.last_vector is None) == (expected.last_vector is None)
    assert all(n == 1 for n in ahead.calls.values())
    assert any(name.startswith("rag-query-vectors") for name in ahead.threads)


def test_one_part_is_embedded_in_the_caller() -> None:
    embedder = CountingEmbedder()
    analyzer = QueryAnalyzer(lambda t: 1.0, embedder)
    assert analyzer.split("AI工厂需要多少电力？") == ["AI工厂需要多少电力？"]
    analyzer.analyse("AI工厂需要多少电力？")
    assert embedder.threads == {threading.current_thread().name}


def test_kept_script_is_is_chinese() -> None:
    for text in ("黄仁勋在CES上说", "Huang said at CES", "", "GPU 的带宽", "NVLink Switch 交换机 connects"):
        assert chinese_text(text) == is_chinese(text)
