"""The citation verifier's benchmark: labelled model replies (`eval/replies/`), scored sentence by sentence.

A reply set is a folder with `items.json` (questions with the numbered passages the model was given)
and `replies.jsonl` (replies whose sentences are labelled `claim`, `supported`, `cited`,
`supporting`). Over the claim sentences it reports keep precision (kept ones that are supported),
keep recall (supported ones kept), unsupported removed, and citation repair accuracy (kept sentences
whose final citation is one that supports them), overall and per reply style, for the verifier and
two baselines: keeping everything as cited, and keeping a sentence when its most similar passage
sentence (multilingual embeddings) is above a cosine threshold, citing that passage (post-hoc
citation insertion; the threshold is the best one on the tuning sets).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.schema import Passage
from rag.verification.citations import Claim, Evidence, passage_evidence, verify
from rag.verification.claims import features
from rag.verification.markers import strip_markers

UNSEEN = "unseen"  # a reply set whose folder name holds this word is never used for tuning
METRICS = ("keep_precision", "keep_recall", "unsupported_removed", "citation_repair")


@dataclass
class Labelled:
    """One labelled sentence of a reply."""

    text: str
    claim: bool
    supported: bool
    cited: list[int]
    supporting: list[int]


@dataclass
class Reply:
    """A labelled reply with its question's passages."""

    item: str
    style: str
    text: str
    question: str
    passages: list[Passage]
    sentences: list[Labelled]
    group: str = ""  # the reply set and item, for grouped cross-validation


@dataclass
class Outcome:
    """What a verifier did with one labelled claim sentence."""

    kept: bool
    citations: list[int] = field(default_factory=list)


def passage_of(item: str, number: int, header: str, text: str) -> Passage:
    """A Passage from an item's `header` ("file, lines a-b") and text."""
    source = header.split(",")[0].strip() or f"passage {number}"
    lines = [int(n) for n in re.findall(r"\d+", header.split(",", 1)[1])] if "," in header else []
    start = lines[0] if lines else 1
    return Passage(f"{item}:{number}", source, text, 0.0, start, lines[-1] if lines else start)


def load_replies(folder: Path) -> list[Reply]:
    """The labelled replies of one reply set."""
    items = {i["id"]: i for i in json.loads((folder / "items.json").read_text(encoding="utf-8"))}
    out = []
    for line in (folder / "replies.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        item = items[r["item"]]
        passages = [passage_of(item["id"], p["n"], p.get("header", ""), p["text"]) for p in item["passages"]]
        labelled = [
            Labelled(s["text"], s["claim"], s["supported"], s.get("cited", []), s.get("supporting", []))
            for s in r["sentences"]
        ]
        out.append(
            Reply(
                r["item"],
                r["style"],
                r["reply"],
                item["question"],
                passages,
                labelled,
                f"{folder.name}/{r['item']}",
            )
        )
    return out


def reply_sets(root: Path) -> dict[str, list[Reply]]:
    """Every reply set under `root` (the folder itself and its subfolders), by name."""
    sets = {}
    for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        if (folder / "items.json").exists() and (folder / "replies.jsonl").exists():
            sets[folder.name if folder != root else "shared"] = load_replies(folder)
    return sets


def _locate(reply: Reply) -> list[tuple[int, int]]:
    """Where each labelled sentence sits in the reply text (−1 when it cannot be found)."""
    spans, pos = [], 0
    for s in reply.sentences:
        at = reply.text.find(s.text.strip(), pos)
        if at < 0:
            at = reply.text.find(s.text.strip()[:20], pos)
        spans.append((at, at + len(s.text.strip())) if at >= 0 else (-1, -1))
        pos = max(pos, at + 1) if at >= 0 else pos
    return spans


def verifier_outcomes(reply: Reply) -> list[Outcome | None]:
    """`rag.verify`'s decision on each labelled sentence (None for sentences that are not claims)."""
    checked = verify(reply.text, reply.passages)
    out: list[Outcome | None] = []
    for labelled, (start, end) in zip(reply.sentences, _locate(reply), strict=True):
        if not labelled.claim:
            out.append(None)
            continue
        best, overlap = None, 0
        for s in checked.sentences:
            common = min(end, s.end) - max(start, s.start)
            if common > overlap:
                best, overlap = s, common
        if best is None or best.supported is None:
            out.append(Outcome(True, [n for n in labelled.cited]))
        else:
            out.append(Outcome(bool(best.supported), best.citations))
    return out


def keep_all(reply: Reply) -> list[Outcome | None]:
    """Baseline: every sentence kept with the citations it was written with."""
    return [Outcome(True, list(s.cited)) if s.claim else None for s in reply.sentences]


class Similarity:
    """Baseline: a sentence is kept when its most similar passage sentence reaches `threshold`
    (cosine of multilingual embeddings), and cites that passage."""

    def __init__(self, embed: Callable[[Sequence[str]], np.ndarray]) -> None:
        self.embed = embed
        self.threshold = 0.0

    def best(self, reply: Reply) -> list[tuple[float, int] | None]:
        evidence = passage_evidence(reply.passages)
        texts = [(i, s.text) for i, e in evidence.items() for s in e.sentences]
        vectors = self.embed([t for _, t in texts]) if texts else np.zeros((0, 1))
        claims = [strip_markers(s.text) for s in reply.sentences]
        queries = self.embed(claims)
        out: list[tuple[float, int] | None] = []
        for labelled, q in zip(reply.sentences, queries, strict=True):
            if not labelled.claim or not texts:
                out.append(None)
                continue
            sims = vectors @ q
            k = int(np.argmax(sims))
            out.append((float(sims[k]), texts[k][0] + 1))
        return out

    def fit(self, replies: Sequence[Reply]) -> float:
        """The threshold that decides the most claim sentences of `replies` right."""
        pairs = [
            (b[0], s.supported)
            for r in replies
            for s, b in zip(r.sentences, self.best(r), strict=True)
            if b is not None
        ]
        candidates = sorted({round(v, 3) for v, _ in pairs})
        self.threshold = max(candidates, key=lambda t: sum((v >= t) == ok for v, ok in pairs))
        return self.threshold

    def __call__(self, reply: Reply) -> list[Outcome | None]:
        return [None if b is None else Outcome(b[0] >= self.threshold, [b[1]]) for b in self.best(reply)]


def score(replies: Sequence[Reply], decide: Callable[[Reply], list[Outcome | None]]) -> dict[str, Any]:
    """The four measures over the claim sentences of `replies`, overall and per style."""
    rows: list[tuple[str, Labelled, Outcome]] = []
    for r in replies:
        for labelled, outcome in zip(r.sentences, decide(r), strict=True):
            if labelled.claim and outcome is not None:
                rows.append((r.style, labelled, outcome))

    def measures(sel: list[tuple[str, Labelled, Outcome]]) -> dict[str, Any]:
        kept = [(s, o) for _, s, o in sel if o.kept]
        good = [s for _, s, _ in sel if s.supported]
        bad = [s for _, s, _ in sel if not s.supported]
        kept_good = [s for s, _ in kept if s.supported]
        repaired = [s for s, o in kept if set(o.citations) & set(s.supporting)]
        ratio = lambda a, b: round(len(a) / len(b), 3) if b else None  # noqa: E731
        return {
            "sentences": len(sel),
            "keep_precision": ratio(kept_good, kept),
            "keep_recall": ratio(kept_good, good),
            "unsupported_removed": ratio([s for s in bad if not any(s is k for k, _ in kept)], bad),
            "citation_repair": ratio(repaired, kept),
        }

    styles = sorted({style for style, _, _ in rows})
    return {
        "all": measures(rows),
        **{style: measures([r for r in rows if r[0] == style]) for style in styles},
    }


def pair_rows(
    replies: Sequence[Reply],
) -> tuple[list[dict[str, float]], list[int], list[str], list[tuple[int, int]]]:
    """Training rows for the verifier: every claim sentence against the passages it cites, those
    that support it and the closest other one (label 1 when the passage supports it); also each
    row's group and (sentence id, supported)."""
    rows: list[dict[str, float]] = []
    labels: list[int] = []
    groups: list[str] = []
    sentence_ids: list[tuple[int, int]] = []
    sid = 0
    for r in replies:
        evidence: dict[int, Evidence] = passage_evidence(r.passages)
        for s in r.sentences:
            if not s.claim:
                continue
            claim = Claim.of(strip_markers(s.text))
            if claim is None:
                continue
            values = {i: features(claim.facts, e.facts) for i, e in evidence.items()}
            # the passages it cites or that support it, and the closest other one: the hard cases
            others = [i for i in values if i + 1 not in s.supporting and i + 1 not in s.cited]
            closest = max(others, key=lambda i: values[i]["local_share"], default=None)
            for i, v in values.items():
                if i + 1 in s.cited or i + 1 in s.supporting or i == closest:
                    rows.append(v)
                    labels.append(int(s.supported and (i + 1) in s.supporting))
                    groups.append(r.group)
                    sentence_ids.append((sid, int(s.supported)))
            sid += 1
    return rows, labels, groups, sentence_ids


def run(root: Path, embed: Callable[[Sequence[str]], np.ndarray] | None = None) -> dict[str, Any]:
    """Scores of the verifier and the baselines on every reply set under `root`, tuning sets first."""
    sets = reply_sets(root)
    tuning = [r for name, rs in sets.items() if UNSEEN not in name for r in rs]
    deciders: dict[str, Callable[[Reply], list[Outcome | None]]] = {
        "verifier": verifier_outcomes,
        "keep all": keep_all,
    }
    result: dict[str, Any] = {"sets": {name: len(rs) for name, rs in sets.items()}}
    if embed is not None and tuning:  # its threshold is fitted on the tuning sets
        similarity = Similarity(embed)
        result["similarity_threshold"] = similarity.fit(tuning)
        deciders["similarity"] = similarity
    groups = {
        "tuning": tuning,
        "unseen": [r for name, rs in sets.items() if UNSEEN in name for r in rs],
        **{f"set {name}": rs for name, rs in sets.items()},
    }
    result["scores"] = {
        group: {name: score(replies, decide) for name, decide in deciders.items()}
        for group, replies in groups.items()
        if replies
    }
    return result


def table(result: dict[str, Any]) -> str:
    """The scores as a markdown table: one row per reply group, style and method."""
    lines = [
        "| replies | style | method | sentences | keep P | keep R | unsupported removed | citation repair |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for group, methods in result["scores"].items():
        for method, by_style in methods.items():
            for style, m in by_style.items():
                cells = ["–" if m[k] is None else f"{m[k]:.3f}" for k in METRICS]
                lines.append(
                    f"| {group} | {style} | {method} | {m['sentences']} | " + " | ".join(cells) + " |"
                )
    if "similarity_threshold" in result:
        threshold = result["similarity_threshold"]
        lines.append(f"\nSimilarity baseline threshold (fitted on the tuning sets): {threshold:.3f}")
    return "\n".join(lines)
