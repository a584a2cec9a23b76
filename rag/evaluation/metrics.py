"""Evaluation metrics, deterministic and without a language model: retrieval ranks, facts, citations.

Text is compared in its folded form (`rag.text.clean.fold`: NFKC, no pinyin, simplified script,
lowercase), so a traditional-script passage matches a gold quote or fact regex in either script.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from rag.schema import Answer
from rag.text.clean import clean_line, fold
from rag.verification.markers import MARKER, parse_markers, strip_markers

DEPTH = 10
"""Retrieval is scored on the first DEPTH passages."""
LANGS = ("zh", "en")

Patterns = Sequence[Sequence[re.Pattern[str]]]
"""Fact regexes: one group per fact; a group matches when any of its regexes does."""

# An answer sentence: up to end punctuation (with closing quotes) and the markers right after it,
# or up to a run of markers (an LLM may cite mid-sentence: "A[1]，B[2]。").
_SEGMENT = re.compile(
    rf".+?(?:[。！？!?]+[”’」』\"')）]*(?:\s*{MARKER.pattern})*|(?:{MARKER.pattern})+|$)", re.S
)


# --- relevance and retrieval -------------------------------------------------------------------


def quote_keys(quotes: Iterable[str]) -> list[str]:
    """Gold quotes in the form compared with passages: display-cleaned, then folded."""
    keys = [fold(clean_line(q)) for q in quotes]
    return [k for k in keys if k]


def holds_quote(passage_text: str, keys: Sequence[str]) -> bool:
    """The passage contains one of the (already folded) gold quotes."""
    folded = fold(passage_text)
    return any(k in folded for k in keys)


def relevant_ranks(texts: Sequence[str], keys: Sequence[str], depth: int = 10) -> list[int]:
    """1-based ranks, within the first `depth`, of the passages that hold a gold quote."""
    return [i + 1 for i, text in enumerate(texts[:depth]) if holds_quote(text, keys)]


def hit_at(ranks: Sequence[int], k: int) -> float:
    """1.0 when a relevant passage is among the first k."""
    return 1.0 if any(r <= k for r in ranks) else 0.0


def reciprocal_rank(ranks: Sequence[int], depth: int = 10) -> float:
    """1 / rank of the first relevant passage within `depth`, else 0."""
    first = min((r for r in ranks if r <= depth), default=0)
    return 1.0 / first if first else 0.0


def novel_gains(texts: Sequence[str], keys: Sequence[str], depth: int = 10) -> list[int]:
    """Binary gains: 1 for a passage holding a gold quote that no higher-ranked passage holds.

    Overlapping or duplicated passages (the same quote twice) earn once, so nDCG stays within 1.
    """
    seen: set[str] = set()
    gains = []
    for text in texts[:depth]:
        folded = fold(text)
        new = {k for k in keys if k in folded} - seen
        gains.append(1 if new else 0)
        seen |= new
    return gains


def ideal_count(folded_collection: Sequence[str], keys: Sequence[str], cap: int = 10) -> int:
    """How many distinct relevant passages a perfect ranking can show, at most `cap`.

    A maximum matching of the findable quotes to the passages (folded texts) that hold them: two
    quotes found only in one passage count once; a quote found nowhere does not count.
    """
    holders = [[i for i, text in enumerate(folded_collection) if key in text] for key in dict.fromkeys(keys)]
    holders = [h for h in holders if h]
    owner: dict[int, int] = {}

    def assign(q: int, visited: set[int]) -> bool:
        for p in holders[q]:
            if p in visited:
                continue
            visited.add(p)
            if p not in owner or assign(owner[p], visited):
                owner[p] = q
                return True
        return False

    matched = sum(1 for q in range(len(holders)) if assign(q, set()))
    return min(matched, cap)


def ndcg(gains: Sequence[int], n_ideal: int, k: int = 10) -> float:
    """nDCG@k with binary gains; the ideal ranking puts `n_ideal` relevant passages first."""
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(n_ideal, k)))
    if ideal == 0:
        return 0.0
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))
    return dcg / ideal


# --- facts in answers ----------------------------------------------------------------------------


def group_matches(folded: str, group: Sequence[re.Pattern[str]]) -> bool:
    """One fact is present in already folded text."""
    return any(p.search(folded) for p in group)


def matches_facts(text: str, facts: Patterns) -> bool:
    """Every fact group matches the folded text (markers removed); no facts means no match."""
    folded = fold(strip_markers(text, " "))  # a space: "1[1]0%" is no 10%
    return bool(facts) and all(group_matches(folded, g) for g in facts)


def answer_sentences(text: str) -> list[tuple[str, set[int]]]:
    """The answer split at 。！？!? and at citation markers: (sentence without markers, cited numbers)."""
    out = []
    for match in _SEGMENT.finditer(text):
        segment = match.group(0)
        if not segment.strip():
            continue
        numbers = {n for marker in parse_markers(segment) for n in marker}
        out.append((strip_markers(segment, " ").strip(), numbers))
    return out


def citation_precision_counts(answer: Answer, keys: Sequence[str], facts: Patterns) -> tuple[int, int]:
    """(citations whose passage holds a gold quote or a fact, citations); (0, 0) for an abstention."""
    if answer.abstained:
        return 0, 0
    good = 0
    for citation in answer.citations:
        folded = fold(citation.text)
        if any(k in folded for k in keys) or any(group_matches(folded, g) for g in facts):
            good += 1
    return good, len(answer.citations)


def citation_recall_counts(answer: Answer, facts: Patterns) -> tuple[int, int]:
    """(fact-carrying sentences citing a passage that holds each of their facts, fact-carrying sentences)."""
    if answer.abstained:
        return 0, 0
    passages = {c.number: fold(c.text) for c in answer.citations}
    supported = carrying = 0
    for sentence, numbers in answer_sentences(answer.text):
        folded = fold(sentence)
        carried = [g for g in facts if group_matches(folded, g)]
        if not carried:
            continue
        carrying += 1
        cited = [passages[n] for n in numbers if n in passages]
        if all(any(group_matches(p, g) for p in cited) for g in carried):
            supported += 1
    return supported, carrying


# --- aggregation ---------------------------------------------------------------------------------


def mean(values: Sequence[float]) -> float | None:
    """The average, or None when there is nothing to average."""
    return float(sum(values) / len(values)) if values else None


def ratio(numerator: int, denominator: int) -> float | None:
    """numerator / denominator, or None when the denominator is 0."""
    return numerator / denominator if denominator else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (linear interpolation), or None for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


def bootstrap_interval(values: Sequence[float], level: float = 0.95, draws: int = 2000) -> list[float] | None:
    """The percentile bootstrap interval of a mean over questions: how far the score could move
    with another draw of questions like these (fixed seed, so the same rows give the same interval)."""
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(0)
    means = np.concatenate(  # 200 draws at a time: a large eval set needs no draws × items array
        [data[rng.integers(0, len(data), size=(200, len(data)))].mean(axis=1) for _ in range(draws // 200)]
    )
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return [round(float(low), 4), round(float(high), 4)]


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test: the chance of a split at least this uneven between two
    configurations that are in truth alike (questions both get right or both miss are left out)."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1)) / 2**n
    return round(min(1.0, 2 * tail), 4)


def paired(base: Sequence[dict[str, Any]], other: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Question by question over the answerable items, what `base` gets right that `other` does not
    (wins) and the reverse (losses), for fact accuracy and hit@5, with the sign test's p-value."""
    theirs = {r["id"]: r for r in other if r["answerable"]}
    pairs = [(r, theirs[r["id"]]) for r in base if r["answerable"] and r["id"] in theirs]
    tests: dict[str, Any] = {
        "fact_acc": lambda r: bool(r["fact_ok"]),
        "hit@5": lambda r: bool(hit_at(r["relevant_ranks"], 5)),
    }
    out = {}
    for name, right in tests.items():
        wins = sum(1 for a, b in pairs if right(a) and not right(b))
        losses = sum(1 for a, b in pairs if right(b) and not right(a))
        out[name] = {"wins": wins, "losses": losses, "p": sign_test(wins, losses)}
    return out


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The metrics of one configuration from its per-item rows (as `rag.evaluation.harness` makes them).

    Retrieval and answer metrics are over answerable items; `abstain_ok` over unanswerable ones;
    citation precision and recall are micro-averages over all citations / fact-carrying sentences;
    latency is over every item. A metric with nothing to average is None.
    """
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    ranks = [r["relevant_ranks"] for r in answerable]
    cp = [sum(r["cite_precision"][i] for r in answerable) for i in (0, 1)]
    cr = [sum(r["cite_recall"][i] for r in answerable) for i in (0, 1)]
    latencies = [r["latency_ms"] for r in rows]
    metrics: dict[str, Any] = {
        "hit@1": mean([hit_at(x, 1) for x in ranks]),
        "hit@5": mean([hit_at(x, 5) for x in ranks]),
        "hit@10": mean([hit_at(x, 10) for x in ranks]),
        "mrr": mean([reciprocal_rank(x, DEPTH) for x in ranks]),
        "ndcg@10": mean([ndcg(r["gains"], r["findable"], DEPTH) for r in answerable]),
        "fact_acc": mean([float(r["fact_ok"]) for r in answerable]),
    }
    for lang in LANGS:
        metrics[f"fact_acc_{lang}"] = mean([float(r["fact_ok"]) for r in answerable if r["lang"] == lang])
    metrics.update(
        {
            "cite_p": ratio(cp[0], cp[1]),
            "cite_r": ratio(cr[0], cr[1]),
            "abstain_ok": mean([float(r["abstained"]) for r in unanswerable]),
            "wrong_abstain": mean([float(r["abstained"]) for r in answerable]),
            "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "unfindable": sum(1 for r in answerable if not r["findable"]),
            "citations": cp[1],
            "fact_sentences": cr[1],
            # 95% intervals over the questions: at these set sizes a few points are noise
            "hit@5_ci": bootstrap_interval([hit_at(x, 5) for x in ranks]),
            "mrr_ci": bootstrap_interval([reciprocal_rank(x, DEPTH) for x in ranks]),
            "fact_acc_ci": bootstrap_interval([float(r["fact_ok"]) for r in answerable]),
        }
    )
    return {key: round(v, 4) if isinstance(v, float) else v for key, v in metrics.items()}
