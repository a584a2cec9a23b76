"""The offline answerer: quotes the sentences that answer the question and cites each one."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rag.answer.citations import is_instruction
from rag.answer.evidence import Name, Sentence, coverage, question_names, question_terms, split_passages
from rag.answer.expectation import Expectation, asking_sentences, expectation, split_question
from rag.crosslingual import Gloss
from rag.embed import Embedder
from rag.schema import Answer, Citation, Passage
from rag.sentences import SentenceIndex
from rag.tokens import is_chinese

# Extra evidence asked of a sentence whose passage only reranking brought into the passages read.
# Chosen on eval/dev.jsonl.
PULLED_IN_MARGIN = 0.02
# What a sentence that names something ("我们称之为…", "called …") gains when a name is asked for.
NAMING_BONUS = 0.1
# What a sentence that speaks of the noun the question asks about ("the theme", 思路) gains.
# Chosen on eval/dev.jsonl.
FOCUS_BONUS = 0.15
# How much less evidence a sentence needs when it states a number in the very unit asked for
# ("how heavy": 磅, "how many watts": 瓦): a far rarer match than any number. Chosen on eval/dev.jsonl.
UNIT_MARGIN = 0.04
# The weight of a later part's own question in the similarity of a part asked with the first part in
# front for context. Chosen on eval/dev.jsonl (0.5 and 1.0 score the same there).
LAST_PART_WEIGHT = 0.5
ABSTAIN_ZH = "文档中没有找到这个问题的答案。"
ABSTAIN_EN = "The documents do not answer this question."
_ANAPHOR = re.compile(r"^(它|这|這|其|该|該|此|他们|他們|that|this|it)")


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
    index: int = 0  # position among the candidate sentences, for finding neighbours
    kind: str = ""  # the kind of thing the question asks for (`Expectation.kind`)
    names: tuple[Name, ...] = ()  # the names the question gives
    dimension: str = ""  # the unit's dimension the question asks its number in (`Expectation.dimension`)


class ExtractiveAnswerer:
    """Picks and cites the best-supported sentences; abstains when the evidence is weak.

    Evidence is measured, not asked for: the dense similarity of each sentence of the top passages
    to the question (multilingual, so English questions work on Chinese text), the weighted share
    of the question's terms found in the sentence and its passage (with dictionary translations for
    other languages), and whether the sentence holds the kind of thing asked for (a number, a date,
    a duration, an amount of money, a count of the unit asked, a place). A sentence that speaks of
    the noun asked about ("the theme") gains. A question that asks two things is answered part by
    part.
    """

    mode = "extractive"

    def __init__(
        self,
        idf: Callable[[str], float],
        embedder: Embedder | None = None,
        sentence_index: SentenceIndex | None = None,
        min_evidence_zh: float = 0.88,
        min_evidence_other: float = 0.82,
        min_lexical: float = 0.55,
        passages_read: int = 5,
        translate: Callable[[str], list[Gloss]] | None = None,
        lexical_weight: float = 0.3,
        documents_with: Callable[[str], frozenset[str]] | None = None,
        english: Callable[[str], list[str]] | None = None,
    ) -> None:
        self.idf = idf
        self.embedder = embedder
        self.sentence_index = sentence_index or (SentenceIndex(embedder) if embedder else None)
        self.min_evidence_zh = min_evidence_zh
        self.min_evidence_other = min_evidence_other
        self.min_lexical = min_lexical
        self.passages_read = passages_read
        self.translate = translate
        self.lexical_weight = lexical_weight
        self.documents_with = documents_with
        self.english = english
        self._analysis = lru_cache(maxsize=256)(self._analyse)

    def _candidates(
        self, passages: Sequence[Passage], read: int | None = None
    ) -> tuple[list[Sentence], np.ndarray | None]:
        """Sentences of the top passages and their vectors (None without an embedder)."""
        top = list(passages[: read or self.passages_read])
        if self.sentence_index is None:
            return split_passages(top), None
        sents: list[Sentence] = []
        rows: list[np.ndarray] = []
        for rank, (passage, held) in enumerate(zip(top, self.sentence_index.of(top))):
            for s, vector in zip(held.sentences, held.vectors):
                sents.append(Sentence(passage, rank, s.line, s.text, s.folded))
                rows.append(vector)
        return sents, (np.stack(rows) if rows else np.zeros((0, 0), np.float32))

    def terms(self, question: str) -> dict[str, float]:
        """Weighted content terms of the question (with translations for non-Chinese questions)."""
        glosses = self.translate(question) if self.translate else []
        return question_terms(question, self.idf, glosses)

    def _analyse(self, question: str) -> tuple[dict[str, float], Expectation, tuple[Name, ...]]:
        """What scoring needs of a question: its terms, what it asks for and the names it gives.
        Kept for recent questions: one answer scores each question several times (reranking,
        then the answer itself)."""
        names = tuple(question_names(question, self.translate))
        return self.terms(question), expectation(question, self.translate), names

    def _score(
        self, question: str, sents: list[Sentence], vectors: np.ndarray | None, reranking: bool = False
    ) -> list[Scored]:
        terms, wanted, names = self._analysis(question)
        sims = (
            vectors @ self.embedder.embed_query(question)
            if vectors is not None and self.embedder is not None and len(sents)
            else np.zeros(len(sents))
        )
        asking = asking_sentences(question)
        if len(asking) > 1 and vectors is not None and self.embedder is not None and len(sents):
            # a short later part asked after the first one for context ("几次？其中最后一次谈的是
            # 什么？"): its own question counts as much as the two together
            last = vectors @ self.embedder.embed_query(asking[-1])
            sims = (1 - LAST_PART_WEIGHT) * sims + LAST_PART_WEIGHT * last
        folded_passages: dict[str, str] = {}
        for s in sents:  # the passages' folded text, from their already folded sentences
            folded_passages[s.passage.id] = folded_passages.get(s.passage.id, "") + s.folded
        context = {pid: coverage(terms, text) for pid, text in folded_passages.items()}
        # reranking judges a passage's sentences by what the question asks beyond its names: that
        # the passage speaks of them shows in its own coverage (chosen on eval/dev.jsonl)
        own = terms if not reranking else _without_names(terms, names)
        scored = []
        for index, (s, sim) in enumerate(zip(sents, sims)):
            lexical = 0.6 * coverage(own, s.folded) + 0.4 * context[s.passage.id]
            typed = wanted.met_by(s.folded) and not is_instruction(s.folded)  # planted text is never quoted
            value = float(sim) + self.lexical_weight * lexical + (0.0 if reranking else 0.05 / (s.rank + 1))
            value += (0.2 if wanted.kind else 0.0) if typed else -0.3
            if wanted.names(s.folded):
                value += NAMING_BONUS
            if wanted.focused(s.folded):
                value += FOCUS_BONUS
            if len(s.folded) < 8:
                value -= 0.5
            if not wanted.kind and s.folded.rstrip().endswith(("?", "？")):
                value -= 0.15  # a sentence that asks (a rhetorical heading) seldom answers an open question
            scored.append(
                Scored(s, value, float(sim), lexical, typed, index, wanted.kind, names, wanted.dimension)
            )
        return sorted(scored, key=lambda x: -x.score)

    def score(self, question: str, passages: Sequence[Passage]) -> list[Scored]:
        """Every sentence of the top passages, best first."""
        sents, vectors = self._candidates(passages)
        return self._score(question, sents, vectors)

    def passage_support(self, question: str, passages: Sequence[Passage]) -> dict[str, float]:
        """For each passage (all of them read), the score of its best sentence for the question,
        whatever its rank: how well the passage could answer. A question that asks two things
        counts the part its passage answers best."""
        sents, vectors = self._candidates(passages, read=len(passages))
        best: dict[str, float] = {}
        for part in split_question(question):
            for r in self._score(part, sents, vectors, reranking=True):
                pid = r.sentence.passage.id
                best[pid] = max(best.get(pid, r.score), r.score)
        return best

    def supported(self, question: str, best: Scored) -> bool:
        """Is the best sentence supported well enough to answer from it."""
        if not best.typed or not self.speaks_of(best):
            return False
        if best.kind == "author":
            return True  # a byline answers who wrote it; its likeness to the question says nothing
        if self.embedder is None:
            return best.lexical >= self.min_lexical
        evidence = best.similarity + 0.1 * best.lexical
        floor = self.min_evidence_zh if is_chinese(question) else self.min_evidence_other
        if best.dimension:
            floor -= UNIT_MARGIN
        if best.sentence.passage.fused_rank >= self.passages_read:
            floor += PULLED_IN_MARGIN  # retrieval alone ranked its passage low: it must show more
        return evidence >= floor

    def speaks_of(self, best: Scored) -> bool:
        """Does the document of the best sentence speak of every name the question gives.

        An answer about the Blackwell GPU does not answer a question about Vera Rubin, however
        alike the sentences. A Chinese name that no document holds is one they never mention. A
        Chinese name may be written in English (西门子: "Siemens"), looked for only when the
        document lacks it as written (the dictionary is read once, on the first such name)."""
        if self.documents_with is None:
            return True
        source = best.sentence.passage.source
        for name in best.names:
            holding = frozenset().union(*(self.documents_with(form) for form in name.forms))
            if source not in holding and name.as_written and self.english is not None:
                english = [w for form in name.forms for w in self.english(form)]
                holding = holding.union(*(self.documents_with(w) for w in english))
            if source not in holding and (holding or name.as_written):
                return False
        return True

    def assess(self, question: str, passages: Sequence[Passage]) -> tuple[list[Scored], bool]:
        """The scored sentences, best first, and whether the evidence is strong enough to answer.

        The same test `answer` applies before quoting: other answerers use it to abstain early.
        """
        sents, vectors = self._candidates(passages)
        parts = split_question(question)
        ranked = self._score(question, sents, vectors)
        ok = any((r := self._score(part, sents, vectors)) and self.supported(part, r[0]) for part in parts)
        return ranked, ok

    def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        search: Callable[[str], Sequence[Passage]] | None = None,
    ) -> Answer:
        """An answer quoting and citing the passages, or an abstention.

        `search` finds passages for one part of a question that asks two things: the passages
        that best fit the whole question often hold only one of the answers. A part then reads
        its own passages after those of the whole question."""
        parts = split_question(question)
        chosen: list[tuple[Scored, str]] = []
        for part in parts:
            read = list(passages[: self.passages_read])
            if search is not None and len(parts) > 1:
                held = {p.id for p in read}
                read += [p for p in search(part)[: self.passages_read] if p.id not in held]
            sents, vectors = self._candidates(read, read=len(read))
            taken = {_key(c) for c, _ in chosen}
            ranked = [r for r in self._score(part, sents, vectors) if _key(r) not in taken]
            if ranked and self.supported(part, ranked[0]):
                chosen.append((ranked[0], _quote(ranked[0], sents)))
        if not chosen:
            return Answer(question, abstain_text(question), abstained=True)
        return self._compose(question, [quote for _, quote in chosen], [c for c, _ in chosen])

    def _compose(self, question: str, quotes: list[str], chosen: list[Scored]) -> Answer:
        citations, parts = [], []
        for number, (quote, item) in enumerate(zip(quotes, chosen), start=1):
            s = item.sentence
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
                )
            )
            parts.append(f"{quote}[{number}]" if is_chinese(question) else f"“{quote}”[{number}]")
        if is_chinese(question):
            text = "".join(parts)
        else:
            text = "The documents say (quoted in their original language): " + " ".join(parts)
        return Answer(question, text, citations=citations, mode="extractive")


def _without_names(terms: dict[str, float], names: Sequence[Name]) -> dict[str, float]:
    """The question's terms but those of its names."""
    forms = {form for name in names for form in name.forms}
    return {term: weight for term, weight in terms.items() if not forms.intersection(term.split("|"))}


def _key(item: Scored) -> tuple[str, int, str]:
    """What tells a candidate sentence apart, whichever passages were read."""
    return item.sentence.passage.id, item.sentence.line, item.sentence.text


def _quote(item: Scored, sents: list[Sentence]) -> str:
    """The chosen sentence, with its neighbour when one refers to the other or it ends in a colon."""
    s = item.sentence
    text = s.text
    before = sents[item.index - 1] if item.index > 0 else None
    after = sents[item.index + 1] if item.index + 1 < len(sents) else None
    before = before if before and not is_instruction(before.folded) else None
    after = after if after and not is_instruction(after.folded) else None
    if before and before.passage.id == s.passage.id and _ANAPHOR.match(s.folded) and len(s.folded) < 40:
        text = before.text + text
    if (
        after
        and after.passage.id == s.passage.id
        and (_ANAPHOR.match(after.folded) or s.text.rstrip().endswith((":", "：")))
    ):
        text = text + after.text
    return text
