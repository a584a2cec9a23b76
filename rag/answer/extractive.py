"""The offline answerer: quotes the candidates the answer model scores best and cites each one.

Every candidate (a sentence of the passages read, or a sentence with the next one) gets a row of
general features (rag.answer.features); the fitted answer model (rag.answer.model) turns the row
into the probability that the candidate holds the answer. A question is answered part by part: the
best candidate of each part is quoted when its probability reaches the model's threshold, and the
question is declined when no part's does. No rule overrides the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from rag.answer.features import Candidate, candidates, features
from rag.answer.model import AnswerModel, shipped_model
from rag.index.embed import Embedder
from rag.index.sentence_index import SentenceIndex
from rag.question.query import Query, QueryAnalyzer
from rag.question.terms import Name
from rag.schema import Answer, Citation, Passage
from rag.text.crosslingual import Gloss
from rag.text.sentences import Sentence, split_passages
from rag.text.tokens import is_chinese

# the passages an answer reads: the first of the ranked pool, before reranking (as the model is fitted)
PASSAGES_READ = 8
ABSTAIN_ZH = "文档中没有找到这个问题的答案。"
ABSTAIN_EN = "The documents do not answer this question."


def abstain_text(question: str) -> str:
    """The plain 'not in the documents' reply, in the question's language."""
    return ABSTAIN_ZH if is_chinese(question) else ABSTAIN_EN


@dataclass
class Scored:
    """A candidate with the answer model's probability that it holds the answer."""

    candidate: Candidate
    probability: float

    @property
    def sentence(self) -> Sentence:
        return self.candidate.first


@dataclass
class PartEvidence:
    """One part of a question with its candidates and their feature rows."""

    query: Query
    candidates: list[Candidate]
    rows: np.ndarray


class ExtractiveAnswerer:
    """Picks and cites the candidates the answer model finds most likely to answer; declines when
    the best is below the model's threshold."""

    mode = "extractive"

    def __init__(
        self,
        idf: Callable[[str], float],
        embedder: Embedder | None = None,
        sentence_index: SentenceIndex | None = None,
        passages_read: int = PASSAGES_READ,
        translate: Callable[[str], list[Gloss]] | None = None,
        documents_with: Callable[[str], frozenset[str]] | None = None,
        english: Callable[[str], list[str]] | None = None,
        model: AnswerModel | None = None,
        aliases: Callable[[str], frozenset[str]] | None = None,
    ) -> None:
        self.embedder = embedder
        self.sentence_index = sentence_index or (SentenceIndex(embedder) if embedder else None)
        self.passages_read = passages_read
        self.documents_with = documents_with
        self.english = english
        self.model = model or shipped_model()
        self.queries = QueryAnalyzer(idf, embedder, translate, aliases)

    # -- candidates and their evidence ---------------------------------------------------------

    def _sentences(self, passages: Sequence[Passage]) -> tuple[list[Sentence], np.ndarray | None]:
        """Sentences of the passages and their vectors (None without an embedder)."""
        if self.sentence_index is None:
            return split_passages(passages), None
        sents: list[Sentence] = []
        rows: list[np.ndarray] = []
        for rank, (passage, held) in enumerate(zip(passages, self.sentence_index.of(passages))):
            for s, vector in zip(held.sentences, held.vectors):
                sents.append(replace(s, passage=passage, rank=rank))
                rows.append(vector)
        return sents, (np.stack(rows) if rows else None)

    def _features(self, query: Query, found: Sequence[Candidate]) -> np.ndarray:
        """The answer model's features of the candidates, looked up in the whole documents too."""
        return features(query, found, self.speaks_of, self.documents_with)

    def speaks_of(self, name: Name, source: str) -> bool:
        """Does the document speak of the name. A Chinese name may be written in English there
        (西门子: "Siemens"), looked for only when the document lacks it as written."""
        if self.documents_with is None:
            return True
        holding = frozenset().union(*(self.documents_with(form) for form in name.forms))
        if source not in holding and name.as_written and self.english is not None:
            english = [w for form in name.forms for w in self.english(form)]
            holding = holding.union(*(self.documents_with(w) for w in english))
        return source in holding or not (holding or name.as_written)

    def evidence(
        self,
        question: str,
        passages: Sequence[Passage],
        search: Callable[[str], Sequence[Passage]] | None = None,
    ) -> list[PartEvidence]:
        """Each part of the question with the candidates of the passages it reads and their features.

        `search` finds passages for one part of a question that asks two things: the passages that
        best fit the whole question often hold only one of the answers. A part then reads its own
        passages after those of the whole question.

        Each part is analysed just before its passages are read (not all parts first): the later
        parts' vectors are then embedded in the background while the earlier ones are scored."""
        parts = self.queries.split(question)
        out = []
        for query in map(self.queries.analyse, parts):
            read = list(passages[: self.passages_read])
            if search is not None and len(parts) > 1:
                held = {p.id for p in read}
                read += [p for p in search(query.text)[: self.passages_read] if p.id not in held]
            sents, vectors = self._sentences(read)
            found = candidates(sents, vectors)
            out.append(PartEvidence(query, found, self._features(query, found)))
        return out

    def ranked(self, part: PartEvidence) -> list[Scored]:
        """The part's candidates, most likely answer first."""
        probabilities = self.model.probability(part.rows)
        order = np.argsort(-probabilities, kind="stable")
        return [Scored(part.candidates[i], float(probabilities[i])) for i in order]

    # -- what other stages ask -----------------------------------------------------------------

    def passage_support(self, question: str, passages: Sequence[Passage]) -> dict[str, float]:
        """For each passage, the probability of its best candidate for the question (for the part
        of a two-part question it answers best), weighted for reranking."""
        sents, vectors = self._sentences(passages)
        found = candidates(sents, vectors)
        best: dict[str, float] = {}
        for query in self.queries.parts(question):
            probabilities = self.model.probability(self._features(query, found))
            for c, p in zip(found, probabilities):
                pid = c.first.passage.id
                best[pid] = max(best.get(pid, 0.0), float(p))
        return {pid: self.model.rerank_weight * p for pid, p in best.items()}

    def assess(self, question: str, passages: Sequence[Passage]) -> tuple[list[Scored], bool]:
        """The whole question's candidates, best first, and whether some part reaches the threshold."""
        parts = self.evidence(question, passages)
        ranked = [self.ranked(part) for part in parts]
        ok = any(r and r[0].probability >= self.model.threshold for r in ranked)
        return ranked[0], ok

    # -- the answer ----------------------------------------------------------------------------

    def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        search: Callable[[str], Sequence[Passage]] | None = None,
    ) -> Answer:
        """An answer quoting and citing the passages, or a plain decline."""
        chosen: list[Scored] = []
        for part in self.evidence(question, passages, search):
            taken = {s.text for c in chosen for s in c.candidate.sentences}
            for scored in self.ranked(part):
                if scored.probability < self.model.threshold:
                    break
                if not taken.intersection(s.text for s in scored.candidate.sentences):
                    chosen.append(scored)
                    break
        if not chosen:
            return Answer(question, abstain_text(question), abstained=True)
        return _compose(question, chosen)


def _compose(question: str, chosen: list[Scored]) -> Answer:
    citations, parts = [], []
    chinese = is_chinese(question)
    for number, item in enumerate(chosen, start=1):
        s = item.sentence
        quote = item.candidate.text
        citations.append(
            Citation(
                number=number,
                source=s.passage.source,
                text=s.passage.text,
                quote=quote,
                start_line=s.passage.start_line,
                end_line=s.passage.end_line,
                quote_line=s.line,
                passage_id=s.passage.id,
                title=s.passage.title,
            )
        )
        parts.append(f"{quote}[{number}]" if chinese else f"“{quote}”[{number}]")
    if chinese:
        text = "".join(parts)
    else:
        text = "The documents say (quoted in their original language): " + " ".join(parts)
    return Answer(question, text, citations=citations, mode="extractive")
