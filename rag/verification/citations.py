"""Citation checks after generation: markers, sentences, and each sentence against the passages.

Pure functions, no I/O but the shipped model file. For every sentence of an answer and every passage,
a fitted logistic regression (rag.verification.claims) gives the probability that the passage supports the
sentence, from what the sentence claims: its figures with their units and what they count (unit-aware
and in words: 1 吉瓦 = 1 GW = 1,000 MW, 600亿美元 = $60 billion, 六十), its names, its content words
in the passage's script or through the dictionary. A sentence is kept when some passage supports it;
its citations are repaired to the passages that do. Passage sentences that read as instructions to
the model (rag.verification.instructions) are never evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from rag.schema import Citation, Passage
from rag.text.clean import fold
from rag.text.han import HAN
from rag.text.quantities import found_quantity
from rag.text.tokens import sentences
from rag.verification.claims import ClaimFacts, PassageFacts, features, model
from rag.verification.instructions import is_instruction
from rag.verification.markers import (
    LIST_NUMBER,
    MARKER,
    marker_numbers,
    parse_markers,
    split_sentences,
    strip_markers,
)

EVIDENCE_CACHE = 1024  # passages whose evidence is kept between answers

# -- passages as evidence --------------------------------------------------------------------------

_SENTENCE_END = tuple('。！？!?.;；:：”"』」)）')


@dataclass
class Sentence:
    """A sentence of a passage with the file line it starts on."""

    text: str
    folded: str
    line: int


def passage_sentences(passage: Passage) -> list[Sentence]:
    """The passage's sentences; a line that does not end a sentence runs on into the next one."""
    lines = passage.text.split("\n")
    numbers = list(passage.line_numbers) if len(passage.line_numbers) == len(lines) else []
    paragraphs: list[tuple[int, str]] = []
    for k, line in enumerate(lines):
        number = numbers[k] if numbers else passage.start_line + k
        if (
            paragraphs
            and paragraphs[-1][1]
            and not paragraphs[-1][1].rstrip().endswith(_SENTENCE_END)
            and line
        ):
            glue = " " if paragraphs[-1][1][-1:].isascii() and line[:1].isascii() else ""
            paragraphs[-1] = (paragraphs[-1][0], paragraphs[-1][1] + glue + line)
        else:
            paragraphs.append((number, line))
    out: list[Sentence] = []
    for n, text in paragraphs:
        raw = _sentences(text)
        folded = _sentences(fold(text))  # one fold per paragraph, split as the text is
        if len(folded) != len(raw):
            folded = [fold(s) for s in raw]
        out += [Sentence(s, f, n) for s, f in zip(raw, folded, strict=True)]
    return out


_LATIN_END = re.compile(rf"(?<=[A-Za-z0-9)\"”’{HAN}]{{2}}[.!?])\s+(?=[A-Za-z0-9\"“(])")


def _sentences(text: str) -> list[str]:
    """Sentences of a paragraph: at Chinese and Western end marks (a full stop before a space and a
    capital or a digit, as English text writes it)."""
    return [part.strip() for s in sentences(text) for part in _LATIN_END.split(s) if part.strip()]


@dataclass
class Evidence:
    """What a passage can support: its sentences that are not instructions, and their facts."""

    passage: Passage
    sentences: list[Sentence]
    facts: PassageFacts
    _each: list[PassageFacts] | None = None
    planted: list[str] = field(default_factory=list)  # folded sentences addressed to the model

    @classmethod
    def of(cls, passage: Passage) -> Evidence:
        key = (passage.text, passage.start_line, tuple(passage.line_numbers))
        found = _evidence(key)
        return cls(passage, found.sentences, found.facts, found._each, found.planted)

    def each(self) -> list[PassageFacts]:
        """The facts of each sentence on its own (to pick the quote)."""
        if self._each is None:
            self._each = [PassageFacts.of([s.folded], [s.text]) for s in self.sentences]
        return self._each


@lru_cache(maxsize=EVIDENCE_CACHE)
def _evidence(key: tuple[str, int, tuple[int, ...]]) -> Evidence:
    """Evidence by passage text and lines: the same passages come back question after question."""
    text, start, lines = key
    passage = Passage("", "", text, 0.0, start, start, lines)
    every = passage_sentences(passage)
    kept = [s for s in every if not is_instruction(s.folded)]
    planted = [s.folded for s in every if s not in kept]
    return Evidence(
        passage, kept, PassageFacts.of([s.folded for s in kept], [s.text for s in kept]), planted=planted
    )


@dataclass
class Claim:
    """An answer sentence with what it asserts (None from `of` when it has nothing to check)."""

    text: str
    facts: ClaimFacts

    @classmethod
    def of(cls, text: str) -> Claim | None:
        stripped = text.strip()
        if not re.search(rf"[\w{HAN}]", stripped) or LIST_NUMBER.match(stripped):
            return None
        facts = ClaimFacts.of(stripped)
        if not (facts.figures or facts.han_terms or facts.latin_terms or facts.names):
            return None  # "是的。", "OK.": nothing to check
        return cls(stripped, facts)


@dataclass
class Check:
    """How likely each passage supports a claim (index → probability), and which ones do."""

    scores: dict[int, float]
    values: dict[int, dict[str, float]]
    threshold: float

    def supports(self, i: int) -> bool:
        return self.scores.get(i, 0.0) >= self.threshold

    @property
    def supporting(self) -> list[int]:
        """The passages that support the claim, most likely first."""
        return sorted((i for i in self.scores if self.supports(i)), key=lambda i: -self.scores[i])


def check(claim: Claim, evidence: dict[int, Evidence]) -> Check:
    """The fitted model's probability that each passage (index → evidence) supports the claim."""
    fitted = model()
    values = {i: features(claim.facts, e.facts) for i, e in evidence.items()}
    return Check({i: fitted.probability(v) for i, v in values.items()}, values, fitted.threshold)


def why_not(claim: Claim, evidence: dict[int, Evidence], cited: list[int]) -> str:
    """Why the passages (the cited ones, else all) do not support the claim, in plain words."""
    pool = [evidence[i] for i in cited] or list(evidence.values())
    where = "the cited passages" if cited else "the passages"
    figures = [
        q
        for q, _ in claim.facts.figures
        if not any(found_quantity(q, [f for f, _, _ in e.facts.figures]) for e in pool)
    ]
    if figures:
        shown = ", ".join(f"{q.raw:g}" for q in figures[:3])
        plural = len(figures) > 1
        return f"the figure{'s' if plural else ''} {shown} {'are' if plural else 'is'} not in {where}"
    names = [
        n for n in claim.facts.names if not any(e.facts.has(n) or e.facts.has_translation(n) for e in pool)
    ]
    if names:
        return f"{', '.join(names[:3])} {'are' if len(names) > 1 else 'is'} not named in {where}"
    if not claim.facts.han_terms and not claim.facts.latin_terms and not claim.facts.figures:
        return "it states nothing that can be checked"
    return f"{where} do not say this"


def best_quote(claim: Claim | None, evidence: Evidence) -> Sentence | None:
    """The passage sentence that best supports the claim (the first one when none does)."""
    if claim is None or not evidence.sentences:
        return evidence.sentences[0] if evidence.sentences else None
    fitted = model()
    scores = [fitted.probability(features(claim.facts, facts)) for facts in evidence.each()]
    return evidence.sentences[scores.index(max(scores))]  # the first of equals


# -- the whole answer ------------------------------------------------------------------------------


@dataclass
class _Use:
    """How the answer used one passage."""

    explicit: bool = False  # cited by the model (not only inferred)
    failed: bool = False  # cited by a sentence that did not check out
    contributed: bool = False  # supports a sentence that did
    quote: Sentence | None = None
    quote_score: float = -1.0


@dataclass
class SentenceCheck:
    """One sentence of an answer after the check.

    `cited`: the passage numbers it cites as written; `supporting`: the passages (numbered as given)
    that support it, most likely first; `citations`: those it carries in the checked text (by their
    given numbers); `supported` is None for a sentence with nothing to check (a list number, a lone
    mark); `reason` says why an unsupported sentence is not supported.
    """

    text: str
    cited: list[int]
    supported: bool | None
    supporting: list[int] = field(default_factory=list)
    citations: list[int] = field(default_factory=list)
    reason: str = ""
    repaired: bool = False  # the citation was added or replaced
    score: float = 0.0  # the best passage's probability of supporting it
    start: int = 0
    end: int = 0


@dataclass
class Verified:
    """An answer after the check: renumbered text, citations, unsupported sentences, dropped markers."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    claims: int = 0
    supported: int = 0
    sentences: list[SentenceCheck] = field(default_factory=list)


def passage_evidence(passages: Sequence[Passage]) -> dict[int, Evidence]:
    """What each passage can support, by index: built once and reused for every check of one answer."""
    return dict(enumerate(Evidence.of(p) for p in passages))


def verify(
    answer: str,
    passages: Sequence[Passage],
    drop_unsupported: bool = False,
    evidence: dict[int, Evidence] | None = None,
) -> Verified:
    """Check every sentence of an answer against the passages ([1] is passages[0]).

    A sentence is supported when a passage supports it by the fitted model (`rag.verification.claims`).
    Its citations are repaired: a cited passage that does not support it is taken off, and when
    none of the cited ones does, the passage that supports it best is attached (as inferred).
    Out-of-range markers are dropped. With `drop_unsupported`, sentences no passage supports are
    removed from the text (still listed in `unsupported`); otherwise they stay, with their
    citations marked unverified. `evidence` is `passage_evidence(passages)`, when the caller
    already has it.
    """
    evidence = passage_evidence(passages) if evidence is None else evidence
    uses: dict[int, _Use] = {}
    plan: list[tuple[int, int, list[int], list[int]]] = []  # span, passages kept, passages added
    removed: set[int] = set()  # starts of the sentences taken out
    result = Verified(answer)
    claims: list[Claim] = []
    for start, end in split_sentences(answer):
        piece = answer[start:end]
        numbers = [n for marker in parse_markers(piece) for n in marker]
        result.dropped += [n for n in dict.fromkeys(numbers) if n > len(passages) or n < 1]
        cited = [n - 1 for n in dict.fromkeys(numbers) if 1 <= n <= len(passages)]
        claim = Claim.of(strip_markers(piece))
        record = SentenceCheck(piece.strip(), [i + 1 for i in cited], None, start=start, end=end)
        result.sentences.append(record)
        if claim is None or not evidence:
            for i in cited:  # a marker on nothing checkable: kept as written, not verified
                uses.setdefault(i, _Use()).explicit = True
            plan.append((start, end, cited, []))
            continue
        outcome = check(claim, evidence)
        kept = [i for i in cited if outcome.supports(i)]
        added = [] if kept or not outcome.supporting else outcome.supporting[:1]
        record.supported = bool(kept or added)
        record.supporting = [i + 1 for i in outcome.supporting]
        record.score = max(outcome.scores.values(), default=0.0)
        result.supported += record.supported
        if not record.supported:
            record.reason = why_not(claim, evidence, cited)
            result.unsupported.append(strip_markers(claim.text).strip())
            if drop_unsupported:
                removed.add(start)
                plan.append((start, end, [], []))
                continue
            kept = cited
        record.citations = [i + 1 for i in kept + added]
        record.repaired = bool(added) or len(kept) < len(cited)
        claims.append(claim)
        for i in kept + added:
            use = uses.setdefault(i, _Use())
            use.explicit |= i in kept
            use.failed |= not record.supported
            use.contributed |= record.supported
            if record.supported and outcome.scores[i] > use.quote_score:
                use.quote, use.quote_score = best_quote(claim, evidence[i]), outcome.scores[i]
        plan.append((start, end, kept, added))
    result.dropped = list(dict.fromkeys(result.dropped))
    result.claims = len(claims) + (len(result.unsupported) if drop_unsupported else 0)
    if not uses and evidence and claims:
        # Nothing checked out and nothing was cited: still point at the most likely passage.
        totals = {i: sum(check(c, {i: e}).scores[i] for c in claims) for i, e in evidence.items()}
        best = max(totals, key=lambda i: totals[i])
        uses[best] = _Use(failed=True)
        last = max(
            k
            for k, (s, _, _, _) in enumerate(plan)
            if s not in removed and result.sentences[k].supported is not None
        )
        plan[last] = (plan[last][0], plan[last][1], [], [best])
    order = list(dict.fromkeys(i for _, _, kept, added in plan for i in kept + added))
    number = {i: n for n, i in enumerate(order, start=1)}
    result.text = _rewrite(answer, plan, number, removed)
    for i in order:
        use, p = uses[i], passages[i]
        quote = use.quote or best_quote(None, evidence[i])
        result.citations.append(
            Citation(
                number[i], p.source, p.text, quote.text if quote else p.text.split("\n")[0], p.start_line,
                p.end_line, quote.line if quote else p.start_line, p.id,
                verified=use.contributed and not use.failed, inferred=not use.explicit, title=p.title,
            )
        )  # fmt: skip
    return result


def _rewrite(
    answer: str,
    plan: list[tuple[int, int, list[int], list[int]]],
    number: dict[int, int],
    removed: set[int],
) -> str:
    """The answer with each sentence's markers renumbered to its kept citations (others removed),
    added ones appended to their sentences, and the `removed` sentences (by start) left out."""
    parts: list[str] = []
    last = 0
    for start, end, kept, added in plan:
        if start in removed:
            parts.append(answer[last:start].rstrip(" \t") if parts else "")
            last = end
            continue

        moved = [False]  # a repaired citation takes the place of the first marker it replaces

        def renumber(
            m: re.Match[str], kept: list[int] = kept, added: list[int] = added, moved: list[bool] = moved
        ) -> str:
            shown = [number[k - 1] for k in marker_numbers(m) if k - 1 in kept]
            if not shown and added and not moved[0]:
                shown, moved[0] = [number[i] for i in added], True
            lead = m.group(0)[: len(m.group(0)) - len(m.group(0).lstrip(" \t"))]
            return lead + "".join(f"[{k}]" for k in dict.fromkeys(shown)) if shown else ""

        piece = MARKER.sub(renumber, answer[start:end])
        if added and not moved[0]:
            body = piece.rstrip()
            piece = body + "".join(f"[{number[i]}]" for i in added) + piece[len(body) :]
        parts += [answer[last:start], piece]
        last = end
    return ("".join(parts) + answer[last:]).strip()
