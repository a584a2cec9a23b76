"""Query analysis, made once per question: its language, parts, weighted terms (with translations),
names, the kind of answer it asks for, and its vectors. Retrieval's reranking and both answerers read
the same object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from rag.index.embed import Embedder
from rag.question.expectation import Expectation, asking_sentences, expectation, split_question
from rag.question.terms import Name, question_names, question_terms
from rag.text.crosslingual import Gloss
from rag.text.tokens import is_chinese


@dataclass(frozen=True)
class Query:
    """What is known of one question (or one part of a question that asks two things)."""

    text: str
    chinese: bool
    terms: dict[str, float]  # content terms with their weights; translations joined by "|"
    names: tuple[Name, ...]  # the names it gives: an answer's document should speak of them
    wanted: Expectation  # the kind of answer it asks for (a feature of each candidate, not a gate)
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)
    # the vector of its last asking sentence, when a context sentence comes first
    last_vector: np.ndarray | None = field(default=None, repr=False, compare=False)
    # what scoring has worked out for this question (coverage of a text, …): reranking and the answer
    # read many of the same sentences
    memo: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False, compare=False)

    def coverage(self, text: str, content: bool = False) -> float:
        """The weighted share of the question's terms (or of its content terms) the folded text holds."""
        key = ("content" if content else "terms", text)
        found: float | None = self.memo.get(key)
        if found is None:
            terms = self._prepared(content)
            total = sum(w for _, w in terms)
            held = sum(w for alternatives, w in terms if any(a in text for a in alternatives))
            found = held / total if total else 0.0
            self.memo[key] = found
        return found

    def _prepared(self, content: bool) -> list[tuple[tuple[str, ...], float]]:
        attribute = "_content_terms" if content else "_terms"
        cached = self.__dict__.get(attribute)
        if cached is None:
            terms = self.content_terms if content else self.terms
            cached = [(tuple(t.split("|")), w) for t, w in terms.items()]
            object.__setattr__(self, attribute, cached)
        return cached

    @property
    def content_terms(self) -> dict[str, float]:
        """The terms but those of the names: what is asked beyond who or what it is about."""
        forms = {form for name in self.names for form in name.forms}
        return {t: w for t, w in self.terms.items() if not forms.intersection(t.split("|"))}


class QueryAnalyzer:
    """Makes `Query` objects, keeping recent ones: one answer reads a question several times."""

    def __init__(
        self,
        idf: Callable[[str], float],
        embedder: Embedder | None = None,
        translate: Callable[[str], list[Gloss]] | None = None,
    ) -> None:
        self.idf = idf
        self.embedder = embedder
        self.translate = translate
        self.analyse = lru_cache(maxsize=256)(self._analyse)

    def _analyse(self, question: str) -> Query:
        glosses = self.translate(question) if self.translate else []
        vector = last = None
        if self.embedder is not None:
            vector = self.embedder.embed_query(question)
            asking = asking_sentences(question)
            if len(asking) > 1:
                last = self.embedder.embed_query(asking[-1])
        return Query(
            text=question,
            chinese=is_chinese(question),
            terms=question_terms(question, self.idf, glosses),
            names=tuple(question_names(question, self.translate)),
            wanted=expectation(question, self.translate),
            vector=vector,
            last_vector=last,
        )

    def parts(self, question: str) -> list[Query]:
        """The question's parts (one when it asks one thing), analysed."""
        return [self.analyse(part) for part in split_question(question)]
