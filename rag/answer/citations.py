"""Citation checks after generation: markers, sentences, numbers and key terms against the cited passages.

Pure functions, no model and no I/O. An answer sentence is supported when every quantity it states
occurs in a passage it cites (unit-aware: 1 吉瓦 = 1 GW = 1,000 MW, 25 艾 = 25 exa, 600 亿 = 60
billion) and at least half of its key terms (Chinese words of the folded text, Latin words and names)
occur there too. A term written in a script the passage does not use (an English word against a
Chinese passage) counts only when found, so translated answers are checked on their numbers, names
and the original terms the prompt asks the model to keep. Passage sentences that read as
instructions to the model ("忽略你之前的指令", "ignore your instructions") are never evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rag.answer.evidence import Sentence, split_passages
from rag.answer.quantities import UNIT_WORD, Quantity, found_quantity, quantities
from rag.clean import fold
from rag.schema import Citation, Passage
from rag.tokens import is_chinese, words

SUPPORT = 0.5  # share of a sentence's checkable key terms that must occur in its cited passages

_MARKER = re.compile(
    r"[ \t]*[\[【［]\s*(?:(?:passages?|sources?|资料|段落|来源)\s*)?"
    r"(\d{1,3}(?:\s*(?:[,，、;；]|[-–~～])\s*(?:(?:passages?|sources?|资料|段落)\s*)?\d{1,3})*)\s*[\]】］]",
    re.IGNORECASE,
)
_BOUNDARY = re.compile(
    r"(?:[。！？!?；;]+|…+|\.(?=\s|$|[\[【［\u4e00-\u9fff]))[”’」』\"')）]*|\n"
)
_LIST_NUMBER = re.compile(r"^\s*(?:\d{1,2}|[a-z])[.)]\s*$", re.IGNORECASE)

# -- key terms and passage evidence ----------------------------------------------------------------

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_IGNORED = frozenset(
    {"资料", "段落", "文档", "来源", "提及", "表示", "指出", "passage", "passages", "document", "documents"}
    | {"source", "sources", "according", "mentioned", "mentions", "states", "stated", "says", "said", "also"}
)
_INSTRUCTION = re.compile(
    r"(忽略|无视|不要理会|忘记|忘掉)(你|您|之前|以上|上面|前面|所有|全部|一切|系统)*.{0,6}(指令|指示|规则|要求|提示|设定)"
    r"|(只|仅)(需|要)?(回复|回答|输出)(\s*[:：“\"「]|\s*[a-z0-9])|你现在是|系统提示词?[:：]|(泄露|输出)(你的)?(系统)?提示词"
    r"|\b(ignore|disregard|forget)\b.{0,40}\b(instructions?|rules|prompts?|directions)\b"
    r"|\b(reply|respond|answer|output|print|say)\b( only)? with\b"
    r"|\b(reply|respond|answer|output|print|say) only\b"
    r"|\byou are now\b|\bsystem prompt\b|\bnew instructions\b",
    re.IGNORECASE,
)


def is_instruction(folded: str) -> bool:
    """The passage sentence addresses the model (a planted instruction), so it is data, not evidence."""
    return bool(_INSTRUCTION.search(folded))


def key_terms(folded: str) -> list[str]:
    """Content words of a folded sentence: Chinese words of two or more characters, Latin words;
    numbers and units are left to `quantities`."""
    out: list[str] = []
    for w in words(folded):
        if w in _IGNORED or w in out or w[0].isdigit() or UNIT_WORD.match(w):
            continue
        if (len(w) == 1 and not w.isascii()) or (w.isascii() and len(w) < 2):
            continue
        out.append(w)
    return out


def _latin_in(term: str, folded: str) -> bool:
    stem = term if len(term) <= 4 else term[: max(4, len(term) - 3)]
    return re.search(rf"(?<![a-z0-9]){re.escape(stem)}", folded) is not None


@dataclass
class Evidence:
    """What a passage can support: its non-instruction sentences, folded text and quantities."""

    passage: Passage
    sentences: list[Sentence]
    folded: str
    quantities: list[Quantity]
    han: bool
    latin: bool

    @classmethod
    def of(cls, passage: Passage) -> Evidence:
        sents = [s for s in split_passages([passage]) if not is_instruction(s.folded)]
        folded = "\n".join(s.folded for s in sents)
        qs = [q for s in sents for q in quantities(s.folded)]
        return cls(passage, sents, folded, qs, bool(_HAN.search(folded)), not is_chinese(folded))

    def has(self, term: str, folded: str | None = None) -> bool:
        text = self.folded if folded is None else folded
        return term in text if _HAN.search(term) else _latin_in(term, text)

    def checks(self, term: str) -> bool:
        """A missing term counts against the sentence only when the passage writes in its script."""
        return self.han if _HAN.search(term) else self.latin


@dataclass
class Claim:
    """An answer sentence with the quantities and terms it asserts (None from `of` when it has none)."""

    text: str
    quantities: list[Quantity]
    terms: list[str]

    @classmethod
    def of(cls, text: str) -> Claim | None:
        folded = fold(text)
        claim = cls(text.strip(), quantities(folded), key_terms(folded))
        return claim if claim.quantities or claim.terms else None


@dataclass
class Check:
    """Whether a claim holds in a set of passages, and the evidence each passage contributed."""

    supported: bool
    scores: dict[int, float]


def check(claim: Claim, evidence: dict[int, Evidence]) -> Check:
    """Does the claim hold in these passages (index → evidence)?"""
    pool = [q for e in evidence.values() for q in e.quantities]
    missing = [q for q in claim.quantities if not found_quantity(q, pool)]
    found = [t for t in claim.terms if any(e.has(t) for e in evidence.values())]
    checkable = [t for t in claim.terms if any(e.checks(t) for e in evidence.values())]
    denominator = len(set(checkable) | set(found))
    enough = len(found) >= SUPPORT * denominator if denominator else bool(claim.quantities)
    scores = {
        i: 2.0 * sum(found_quantity(q, e.quantities) for q in claim.quantities) + sum(map(e.has, claim.terms))
        for i, e in evidence.items()
    }
    return Check(not missing and enough and bool(found or claim.quantities), scores)


def best_quote(claim: Claim | None, evidence: Evidence) -> Sentence | None:
    """The passage sentence that best supports the claim (the first one when none does)."""

    def score(s: Sentence) -> float:
        if claim is None:
            return 0.0
        qs = quantities(s.folded)
        found = sum(found_quantity(q, qs) for q in claim.quantities)
        return 2.0 * found + sum(evidence.has(t, s.folded) for t in claim.terms)

    return max(evidence.sentences, key=score, default=None)  # max keeps the first of equals


# -- markers and sentences -------------------------------------------------------------------------


def parse_markers(text: str) -> list[tuple[int, ...]]:
    """The passage numbers named by each citation marker (`[n]`, `[n, m]`, `[n-m]`, `【n】`), in order."""
    out = []
    for m in _MARKER.finditer(text):
        numbers: list[int] = []
        for part in re.finditer(r"(\d+)(?:\s*[-–~～]\s*(?:\D*?)(\d+))?", m.group(1)):
            first = int(part.group(1))
            last = int(part.group(2)) if part.group(2) else first
            span = range(first, last + 1) if first <= last <= first + 20 else [first, last]
            numbers.extend(n for n in span if n not in numbers)
        out.append(tuple(numbers))
    return out


def strip_markers(text: str) -> str:
    """The text without its citation markers."""
    return _MARKER.sub("", text)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) of an answer; markers right after a sentence end belong to it."""
    spans: list[tuple[int, int]] = []
    start = pos = 0
    while pos < len(text):
        m = _BOUNDARY.search(text, pos)
        end = m.end() if m else len(text)
        while (marker := _MARKER.match(text, end)) is not None:
            end = marker.end()
        pos = max(end, pos + 1)
        if _LIST_NUMBER.match(text[start:end]) and end < len(text):
            continue  # "1." opening a list item stays with its sentence
        if text[start:end].strip():
            spans.append((start, end))
        start = end
    return spans


# -- the whole answer ------------------------------------------------------------------------------


@dataclass
class _Use:
    """How the answer used one passage."""

    explicit: bool = False  # cited by the model (not only inferred)
    failed: bool = False  # cited by a sentence that did not check out
    contributed: bool = False  # held evidence for a sentence that did
    quote: Sentence | None = None
    quote_score: float = -1.0


@dataclass
class Verified:
    """An answer after the check: renumbered text, citations, unsupported sentences, dropped markers."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    claims: int = 0
    supported: int = 0


def passage_evidence(passages: Sequence[Passage]) -> dict[int, Evidence]:
    """What each passage can support, by index: built once and reused for every check of one answer."""
    return dict(enumerate(Evidence.of(p) for p in passages))


def verify(
    answer: str,
    passages: Sequence[Passage],
    drop_unsupported: bool = False,
    evidence: dict[int, Evidence] | None = None,
) -> Verified:
    """Check every sentence of an answer against the passages it cites ([1] is passages[0]).

    Out-of-range markers are dropped; a sentence that cites nothing is checked against its
    best-matching passage, attached as an inferred citation when it holds some of the sentence's
    evidence (and, when the model cited nothing at all and nothing matched, the best passage anyway).
    With `drop_unsupported`, sentences that do not check out are removed from the text (still listed
    in `unsupported`) and their citations do not count. `evidence` is `passage_evidence(passages)`,
    when the caller already has it.
    """
    evidence = passage_evidence(passages) if evidence is None else evidence
    uses: dict[int, _Use] = {}
    plan: list[tuple[int, int, list[int], bool]] = []  # sentence span, passage indexes, inferred
    removed: set[int] = set()  # starts of the sentences taken out
    result = Verified(answer)
    claims: list[Claim] = []
    for start, end in split_sentences(answer):
        piece = answer[start:end]
        numbers = [n for marker in parse_markers(piece) for n in marker]
        result.dropped += [n for n in dict.fromkeys(numbers) if n > len(passages) or n < 1]
        cited = [n - 1 for n in dict.fromkeys(numbers) if 1 <= n <= len(passages)]
        claim = Claim.of(strip_markers(piece))
        inferred = False
        if claim is not None and not cited and evidence:
            scores = check(claim, evidence).scores
            best = max(scores, key=lambda i: scores[i])
            cited, inferred = ([best], True) if scores[best] > 0 else ([], False)
        if claim is not None:
            outcome = check(claim, {i: evidence[i] for i in cited})
            result.supported += outcome.supported
            result.unsupported += [] if outcome.supported else [claim.text]
            if drop_unsupported and not outcome.supported:
                removed.add(start)
                plan.append((start, end, [], False))
                continue
            claims.append(claim)
        for i in cited:
            use = uses.setdefault(i, _Use())
            use.explicit |= not inferred
            if claim is not None:
                use.failed |= not outcome.supported
                use.contributed |= outcome.supported and outcome.scores[i] > 0
                if outcome.scores[i] > use.quote_score:
                    use.quote, use.quote_score = best_quote(claim, evidence[i]), outcome.scores[i]
        plan.append((start, end, cited, inferred))
    result.dropped = list(dict.fromkeys(result.dropped))
    result.claims = len(claims) + (len(result.unsupported) if drop_unsupported else 0)
    if not uses and evidence and claims:
        # The model cited nothing and no sentence matched: still point at the best passage.
        totals = {i: sum(check(c, {i: e}).scores[i] for c in claims) for i, e in evidence.items()}
        best = max(totals, key=lambda i: totals[i])
        uses[best] = _Use(quote=best_quote(claims[0], evidence[best]))
        kept = [k for k, (s, e, _, _) in enumerate(plan) if s not in removed]
        last = max(k for k in kept if Claim.of(strip_markers(answer[plan[k][0] : plan[k][1]])))
        plan[last] = (plan[last][0], plan[last][1], [best], True)
    order = list(dict.fromkeys(i for _, _, cited, _ in plan for i in cited))
    number = {i: n for n, i in enumerate(order, start=1)}
    result.text = _rewrite(answer, plan, number, len(passages), removed)
    for i in order:
        use, p = uses[i], passages[i]
        quote = use.quote or best_quote(None, evidence[i])
        result.citations.append(
            Citation(
                number[i], p.source, p.text, quote.text if quote else p.text.split("\n")[0], p.start_line,
                p.end_line, quote.line if quote else p.start_line, p.id,
                verified=use.contributed and not use.failed, inferred=not use.explicit,
            )
        )  # fmt: skip
    return result


def _rewrite(
    answer: str,
    plan: list[tuple[int, int, list[int], bool]],
    number: dict[int, int],
    n: int,
    removed: set[int],
) -> str:
    """The answer with markers renumbered to the citations, out-of-range ones removed, inferred
    ones appended to their sentences, and the `removed` sentences (by start) left out."""

    def renumber(m: re.Match[str]) -> str:
        kept = [number[k - 1] for k in parse_markers(m.group(0))[0] if 1 <= k <= n and k - 1 in number]
        lead = m.group(0)[: len(m.group(0)) - len(m.group(0).lstrip(" \t"))]
        return lead + "".join(f"[{k}]" for k in dict.fromkeys(kept)) if kept else ""

    parts: list[str] = []
    last = 0
    for start, end, cited, inferred in plan:
        if start in removed:
            parts.append(answer[last:start].rstrip(" \t") if parts else "")
            last = end
            continue
        piece = _MARKER.sub(renumber, answer[start:end])
        if inferred:
            body = piece.rstrip()
            piece = body + "".join(f"[{number[i]}]" for i in cited) + piece[len(body) :]
        parts += [answer[last:start], piece]
        last = end
    return ("".join(parts) + answer[last:]).strip()
