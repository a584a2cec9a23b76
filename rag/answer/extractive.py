"""The offline answerer: quotes the sentences that answer the question and cites each one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.answer.evidence import (
    Sentence,
    asked_unit,
    asks_date,
    asks_number,
    coverage,
    has_date,
    has_number,
    present,
    question_terms,
    split_passages,
)
from rag.clean import fold
from rag.embed import Embedder
from rag.sentences import SentenceIndex
from rag.schema import Answer, Citation, Passage
from rag.tokens import is_chinese

ABSTAIN_ZH = "文档中没有找到这个问题的答案。"
ABSTAIN_EN = "The documents do not answer this question."


def abstain_text(question: str) -> str:
    """The plain 'not in the documents' reply, in the question's language."""
    return ABSTAIN_ZH if is_chinese(question) else ABSTAIN_EN


@dataclass
class Scored:
    """A candidate sentence with its score and the evidence behind it."""

    sentence: Sentence
    score: float
    similarity: float
    lexical: float
    typed: bool


class ExtractiveAnswerer:
    """Picks and cites the best-supported sentences; abstains when the evidence is weak.

    Evidence is measured, not asked for: the dense similarity of each sentence of the top passages
    to the question (multilingual, so English questions work on Chinese text), the weighted share
    of the question's terms found in the sentence and its passage, and whether the sentence holds
    the kind of thing asked for (a number, a date, a count of the unit asked for).
    """

    mode = "extractive"

    def __init__(
        self,
        idf: Callable[[str], float],
        embedder: Embedder | None = None,
        sentence_index: SentenceIndex | None = None,
        min_evidence_zh: float = 0.86,
        min_evidence_other: float = 0.81,
        min_lexical: float = 0.55,
        max_sentences: int = 2,
        passages_read: int = 4,
        translate: Callable[[str], list[list[str]]] | None = None,
    ) -> None:
        self.idf = idf
        self.embedder = embedder
        self.sentence_index = sentence_index or (SentenceIndex(embedder) if embedder else None)
        self.min_evidence_zh = min_evidence_zh
        self.min_evidence_other = min_evidence_other
        self.min_lexical = min_lexical
        self.max_sentences = max_sentences
        self.passages_read = passages_read
        self.translate = translate

    def _sentences(self, question: str, passages: Sequence[Passage]) -> list[tuple[Sentence, float]]:
        """Sentences of the top passages, each with its dense similarity to the question."""
        top = list(passages[: self.passages_read])
        if self.sentence_index is None or self.embedder is None:
            return [(s, 0.0) for s in split_passages(top)]
        query = self.embedder.embed_query(question)
        out = []
        for rank, (passage, held) in enumerate(zip(top, self.sentence_index.of(top))):
            sims = held.vectors @ query if len(held.sentences) else []
            for s, sim in zip(held.sentences, sims):
                out.append((Sentence(passage, rank, s.line, s.text, s.folded), float(sim)))
        return out

    def score(self, question: str, passages: Sequence[Passage]) -> list[Scored]:
        """Every sentence of the top passages, best first."""
        terms = self.terms(question)
        want_number, want_date = asks_number(question), asks_date(question)
        unit = asked_unit(question)
        context = {p.id: coverage(terms, fold(p.text)) for p in passages}
        scored = []
        for s, sim in self._sentences(question, passages):
            lexical = 0.6 * coverage(terms, s.folded) + 0.4 * context[s.passage.id]
            typed = (not want_number or has_number(s.folded, unit)) and (not want_date or has_date(s.folded))
            value = sim + 0.3 * lexical + 0.05 / (s.rank + 1)
            value += 0.2 if typed and (want_number or want_date) else (-0.3 if not typed else 0.0)
            if len(s.folded) < 8:
                value -= 0.5
            scored.append(Scored(s, value, sim, lexical, typed))
        return sorted(scored, key=lambda x: -x.score)

    def supported(self, question: str, best: Scored) -> bool:
        """Is the best sentence supported well enough to answer from it."""
        if self.embedder is None:
            return best.lexical >= self.min_lexical
        evidence = best.similarity + 0.1 * best.lexical
        floor = self.min_evidence_zh if is_chinese(question) else self.min_evidence_other
        return evidence >= floor

    def terms(self, question: str) -> dict[str, float]:
        """Weighted content terms of the question (with translations for non-Chinese questions)."""
        groups = self.translate(question) if self.translate else []
        return question_terms(question, self.idf, groups)

    def assess(self, question: str, passages: Sequence[Passage]) -> tuple[list[Scored], bool]:
        """The ranked sentences and whether the best is supported well enough to answer from."""
        ranked = self.score(question, passages)
        return ranked, bool(ranked) and ranked[0].typed and self.supported(question, ranked[0])

    def terms(self, question: str) -> dict[str, float]:
        """Weighted content terms of the question (with translations for non-Chinese questions)."""
        groups = self.translate(question) if self.translate else []
        return question_terms(question, self.idf, groups)

    def assess(self, question: str, passages: Sequence[Passage]) -> tuple[list[Scored], bool]:
        """The scored sentences, best first, and whether the evidence is strong enough to answer.

        The same test `answer` applies before quoting: other answerers use it to abstain early.
        """
        ranked = self.score(question, passages)
        return ranked, bool(ranked) and ranked[0].typed and self.supported(question, ranked[0])

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        """An answer quoting and citing the passages, or an abstention."""
        ranked = self.score(question, passages)
        if not ranked:
            return Answer(question, abstain_text(question), abstained=True)
        best = ranked[0]
        if not best.typed or not self.supported(question, best):
            return Answer(question, abstain_text(question), abstained=True)
        chosen = [best]
        terms = self.terms(question)
        covered = {t for t in terms if present(t, best.sentence.folded)}
        for cand in ranked[1:]:
            if len(chosen) >= self.max_sentences or cand.score < 0.9 * best.score:
                break
            new = {t for t in terms if present(t, cand.sentence.folded)} - covered
            if sum(terms[t] for t in new) >= 0.15 * sum(terms.values()) and cand.typed:
                chosen.append(cand)
                covered |= new
        return self._compose(question, chosen)

    def _compose(self, question: str, chosen: list[Scored]) -> Answer:
        citations, parts = [], []
        for number, item in enumerate(chosen, start=1):
            s = item.sentence
            citations.append(
                Citation(
                    number=number,
                    source=s.passage.source,
                    text=s.passage.text,
                    quote=s.text,
                    start_line=s.passage.start_line,
                    end_line=s.passage.end_line,
                    quote_line=s.line,
                    passage_id=s.passage.id,
                )
            )
            parts.append(f"{s.text}[{number}]" if is_chinese(question) else f"“{s.text}”[{number}]")
        if is_chinese(question):
            text = "".join(parts)
        else:
            text = "The documents say (quoted in their original language): " + " ".join(parts)
        return Answer(question, text, citations=citations, mode="extractive")
