"""Shortcuts of the warm question path give what the plain computation gives: query vectors embedded
ahead on a background thread, the texts a question embeds started in the order they are asked for,
place names read back from the cache folder."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.assistant import embedded_texts
from rag.question import places
from rag.question.query import QueryAnalyzer
from rag.question.vectors import AheadEmbedder, ahead
from rag.retrieve.scope import scoped_rest
from rag.text.tokens import tagged


class CountingEmbedder:
    """A deterministic fake embedder that counts what it embeds and on which thread."""

    model_id = "counting"

    def __init__(self, fail: str = "") -> None:
        self.calls: Counter[str] = Counter()
        self.threads: set[str] = set()
        self.fail = fail

    def embed_query(self, text: str) -> np.ndarray:
        self.calls[text] += 1
        self.threads.add(threading.current_thread().name)
        if text == self.fail:
            raise RuntimeError("the endpoint is down")
        vector = np.random.default_rng(sum(map(ord, text))).standard_normal(8).astype(np.float32)
        return vector / np.linalg.norm(vector)

    def embed_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        return np.stack([self.embed_query(t) for t in texts])


def test_started_vectors_are_the_embedders_own_and_embedded_once() -> None:
    plain, counted = CountingEmbedder(), CountingEmbedder()
    vectors = AheadEmbedder(counted)
    texts = ["Which port does the ferry leave from?", "何时开通？", "And how long is the crossing?"]
    vectors.start(texts)
    vectors.start(texts[1:])  # started again: not embedded again
    for text in [*texts, *texts]:
        assert np.array_equal(vectors.embed_query(text), plain.embed_query(text))
    assert all(counted.calls[t] == 1 for t in texts)
    assert all(name.startswith("rag-query-vectors") for name in counted.threads)
    assert vectors.model_id == "counting" and ahead(vectors) is vectors and ahead(None) is None


def test_a_text_not_started_is_embedded_by_the_caller() -> None:
    counted = CountingEmbedder()
    AheadEmbedder(counted).embed_query("How wide is the river?")
    assert counted.threads == {threading.current_thread().name}


def test_a_failed_vector_is_raised_and_not_kept() -> None:
    counted = CountingEmbedder(fail="How deep is the lake?")
    vectors = AheadEmbedder(counted)
    vectors.start(["How deep is the lake?"])
    with pytest.raises(RuntimeError):
        vectors.embed_query("How deep is the lake?")
    with pytest.raises(RuntimeError):
        vectors.embed_query("How deep is the lake?")
    assert counted.calls["How deep is the lake?"] == 2  # asked of the embedder again


def test_old_finished_vectors_are_let_go() -> None:
    counted = CountingEmbedder()
    vectors = AheadEmbedder(counted)
    for n in range(200):
        vectors.start([f"question {n}?"])
        vectors.embed_query(f"question {n}?")
    assert len(vectors._jobs) <= 64 + 1


def test_embedded_texts_follow_the_question_parts_and_its_document_clause() -> None:
    one = "How many hectares does the cooperative farm?"
    assert embedded_texts(one) == [one]
    named = "In the report on the harbour expansion, how many berths were added?"
    rest = scoped_rest(named)
    assert rest and "harbour" not in rest
    assert embedded_texts(named) == [named, rest]
    two = "How many cold stores does Bluewhale run in Ningbo, and how many in Zhoushan?"
    analyzer = QueryAnalyzer(lambda t: 1.0)
    parts = analyzer.split(two)
    assert len(parts) == 2
    expected = [two, *(t for part in parts for t in QueryAnalyzer.embedded(part))]
    assert embedded_texts(two) == list(dict.fromkeys(expected))


def test_a_clause_without_a_telling_word_names_no_document() -> None:
    assert scoped_rest("按那篇文章的说法，渡轮几点开？") is None
    assert scoped_rest("What does the post say about opening hours?") is None


def test_place_names_are_read_back_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tagged("")  # jieba loaded with its usual dictionary file, before the cache folder moves
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    places.place_words.cache_clear()
    try:
        made = places.place_words()
        assert list(tmp_path.glob("rag/places-*.json"))
        places.place_words.cache_clear()
        assert places.place_words() == made
        assert {"东京", "拉斯维加斯"} <= made and "城市" not in made
    finally:
        places.place_words.cache_clear()
