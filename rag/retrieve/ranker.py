"""The passage ranker: the signals of hybrid search combined by fitted weights.

Each candidate chunk (the best of dense search, keyword search and their union's sentence vectors)
gets a row of features: its dense similarity, its keyword score, its best sentence's similarity, each
also as a rank and as a gap to the best of its script, and whether it is written in another script
than the question. A multilingual model ranks text in the question's language first and keyword
search cannot see text in another language, so ranks and gaps are taken within a script. A
logistic regression fitted by eval/tune.py (section "retrieval" of rag/model.json) scores the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from rag.schema import Chunk
from rag.text.tokens import is_chinese
from rag.weights import LinearModel, shipped_weights

RANKER_FEATURES: tuple[str, ...] = (
    "dense",
    "dense_gap",
    "dense_rank",
    "keyword",
    "keyword_rank",
    "sentence",
    "sentence_gap",
    "sentence_rank",
    "cross_language",
    "chinese_question",
)


# chunk texts whose script is kept: every search judges its ~120 candidate chunks' script twice
TEXTS_KEPT = 4096


@lru_cache(maxsize=TEXTS_KEPT)
def chinese_text(text: str) -> bool:
    """`is_chinese` of a chunk's (or a sentence's) text, kept: the same texts come back question
    after question, and counting their characters was a tenth of a search."""
    return is_chinese(text)


def ranker_features(
    question: str,
    chunks: Sequence[Chunk],
    dense: Mapping[str, float],
    keyword: Mapping[str, float],
    sentence: Mapping[str, float],
) -> np.ndarray:
    """One row of `RANKER_FEATURES` per chunk; a chunk missing from a search counts as its worst."""
    chinese = is_chinese(question)
    scripts = [chinese_text(c.text) for c in chunks]
    rows = np.zeros((len(chunks), len(RANKER_FEATURES)), np.float32)
    floor_dense = min(dense.values(), default=0.0)
    floor_sentence = min(sentence.values(), default=0.0)
    top_keyword = max(keyword.values(), default=0.0) or 1.0
    keyword_rank = {cid: r for r, cid in enumerate(sorted(keyword, key=lambda c: -keyword[c]))}
    columns = {}
    for name, scores, floor in (("dense", dense, floor_dense), ("sentence", sentence, floor_sentence)):
        value = [scores.get(c.id, floor) for c in chunks]
        best = {s: max((v for v, t in zip(value, scripts) if t == s), default=0.0) for s in (True, False)}
        order = sorted(range(len(chunks)), key=lambda i: -value[i])
        rank, seen = [0] * len(chunks), {True: 0, False: 0}
        for i in order:
            rank[i], seen[scripts[i]] = seen[scripts[i]], seen[scripts[i]] + 1
        columns[name] = value
        columns[f"{name}_gap"] = [v - best[s] for v, s in zip(value, scripts)]
        columns[f"{name}_rank"] = [1.0 / (1 + r) for r in rank]
    columns["keyword"] = [keyword.get(c.id, 0.0) / top_keyword for c in chunks]
    columns["keyword_rank"] = [1.0 / (1 + keyword_rank.get(c.id, len(chunks))) for c in chunks]
    columns["cross_language"] = [float(s != chinese) for s in scripts]
    columns["chinese_question"] = [float(chinese)] * len(chunks)
    for j, name in enumerate(RANKER_FEATURES):
        rows[:, j] = columns[name]
    return rows


@lru_cache(maxsize=1)
def shipped_ranker() -> LinearModel:
    """The passage ranker shipped in the package."""
    return LinearModel.from_dict(shipped_weights()["retrieval"], RANKER_FEATURES)
