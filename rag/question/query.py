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
from rag.question.aliases import with_alias_terms, with_aliases
from rag.question.expectation import Expectation, asking_sentences, expectation, split_question
from rag.question.terms import Name, question_names, question_terms
from rag.question.vectors import ahead
from rag.text.clean import fold
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
            held = self._held(text)
            terms = self._prepared(content)
            total = sum(w for _, w, _ in terms)
            found = sum(w for _, w, i in terms if held[i]) / total if total else 0.0
            self.memo[key] = found
        return found

    def _held(self, text: str) -> tuple[bool, ...]:
        """Whether the folded text holds each term (or one of its translations), in `terms` order:
        looked for once per text, for the coverage of all terms and of the content terms alike."""
        key = ("held", text)
        held: tuple[bool, ...] | None = self.memo.get(key)
        if held is None:
            held = tuple(any(a in text for a in alternatives) for alternatives, _, _ in self._prepared(False))
            self.memo[key] = held
        return held

    def _prepared(self, content: bool) -> list[tuple[tuple[str, ...], float, int]]:
        """The terms (or content terms) as (alternatives, weight, position among all terms)."""
        attribute = "_content_terms" if content else "_terms"
        cached = self.__dict__.get(attribute)
        if cached is None:
            kept = self.content_terms if content else self.terms
            cached = [(tuple(t.split("|")), w, i) for i, (t, w) in enumerate(self.terms.items()) if t in kept]
            object.__setattr__(self, attribute, cached)
        return cached

    @property
    def content_terms(self) -> dict[str, float]:
        """The terms but those of the names: what is asked beyond who or what it is about."""
        forms = {form for name in self.names for form in name.forms}
        return {t: w for t, w in self.terms.items() if not forms.intersection(t.split("|"))}


class QueryAnalyzer:
    """Makes `Query` objects, keeping recent ones: one answer reads a question several times.

    A question that asks two things needs a vector per part (and per part's last asking sentence),
    each a 40–80 ms embedding. `split` starts them ahead (`rag.question.vectors`), so that the later
    parts are embedded while the first part's passages are searched and scored."""

    def __init__(
        self,
        idf: Callable[[str], float],
        embedder: Embedder | None = None,
        translate: Callable[[str], list[Gloss]] | None = None,
        aliases: Callable[[str], frozenset[str]] | None = None,
    ) -> None:
        self.idf = idf
        self.embedder = ahead(embedder)
        self.translate = translate
        # a folded name's forms in the other script, as the documents give them (`rag.question.aliases`)
        self.aliases = aliases
        self.analyse = lru_cache(maxsize=256)(self._analyse)

    @staticmethod
    def embedded(question: str) -> list[str]:
        """The texts `analyse` embeds: the question, and its last asking sentence when it has several."""
        asking = asking_sentences(question)
        return [question, asking[-1]] if len(asking) > 1 else [question]

    def _analyse(self, question: str) -> Query:
        glosses = self.translate(question) if self.translate else []
        vector = last = None
        if self.embedder is not None:
            texts = self.embedded(question)
            vector = self.embedder.embed_query(texts[0])
            if len(texts) > 1:
                last = self.embedder.embed_query(texts[-1])
        names = question_names(question, self.translate)
        terms = question_terms(question, self.idf, glosses)
        if self.aliases is not None:
            names = [with_aliases(name, fold(question), self.aliases) for name in names]
            terms = with_alias_terms(terms, names)
        return Query(
            text=question,
            chinese=is_chinese(question),
            terms=terms,
            names=tuple(names),
            wanted=expectation(question, self.translate),
            vector=vector,
            last_vector=last,
        )

    def parts(self, question: str) -> list[Query]:
        """The question's parts (one when it asks one thing), analysed."""
        return [self.analyse(part) for part in self.split(question)]

    def split(self, question: str) -> list[str]:
        """The question's parts (`split_question`); for several, their vectors are started ahead, in
        the order `analyse` will ask for them, one part after the other."""
        parts = split_question(question)
        if len(parts) > 1 and self.embedder is not None:
            self.embedder.start(t for part in parts for t in self.embedded(part))
        return parts
