"""Feature tables for fitting and checking the answer model (used by eval/tune.py).

For each question of a set, the question goes through retrieval as in the product (hybrid search,
the document a question names, a part's own search for a question that asks two things), but the
passages read are the first `READ` of the ranked pool, before reranking, as the product's offline
answer reads them, so the table does not depend on the answer model being fitted. (Reading the
reranked passages instead scored lower in `rag eval` on the held-out sets.) Each candidate's feature
row is stored with the fact groups its text matches; each question keeps its pool's passages with
their scores and relevance, for fitting the reranking weight.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.answer.extractive import PASSAGES_READ
from rag.answer.features import BASE_FEATURES, with_relative
from rag.assistant import Assistant
from rag.config import Settings
from rag.evaluation.harness import EvalItem, load_eval
from rag.evaluation.metrics import group_matches, holds_quote
from rag.retrieve.hybrid import CANDIDATES
from rag.retrieve.ranker import ranker_features
from rag.retrieve.rerank import POOL, fuse_pools
from rag.retrieve.scope import find_scope
from rag.text.clean import fold

READ = PASSAGES_READ  # passages of the ranked pool whose candidates are read, as in the product
HERE = Path(__file__).resolve().parent
TABLES = HERE / "features"


@dataclass
class Table:
    """Candidates of one question set: rows, labels, and the question and part each belongs to."""

    rows: np.ndarray  # float32, one row per candidate: BASE_FEATURES as stored, FEATURES once loaded
    facts: np.ndarray  # int32 bit mask of the question's fact groups the candidate's text matches
    gold: np.ndarray  # bool: from a gold source (or holding a gold quote)
    question: np.ndarray  # int32 index into `meta`
    part: np.ndarray  # int32 part of the question
    meta: list[dict]  # per question: id, answerable, groups (count), group (CV group), pool

    @property
    def labels(self) -> np.ndarray:
        """A candidate holds (one of) the answer(s): a fact of its question, from a gold source."""
        return (self.facts > 0) & self.gold

    @cached_property
    def parts(self) -> np.ndarray:
        """Each candidate's question part, numbered across the table."""
        key = self.question.astype(np.int64) * (int(self.part.max(initial=0)) + 1) + self.part
        return np.unique(key, return_inverse=True)[1].reshape(-1)

    @cached_property
    def part_counts(self) -> np.ndarray:
        """How many parts each question has (at least 1)."""
        firsts = np.unique(self.parts, return_index=True)[1]
        return np.maximum(np.bincount(self.question[firsts], minlength=len(self.meta)), 1)

    def question_weights(self, kind: str) -> np.ndarray:
        """Each question's weight: alike (`question`), or what it weighs in the objective
        (`objective`: answerable and unanswerable questions weigh alike in total, whatever the mix)."""
        weights = np.ones(len(self.meta))
        if kind == "objective":
            answerable = np.array([info["answerable"] for info in self.meta], bool)
            weights[answerable] /= max(int(answerable.sum()), 1)
            weights[~answerable] /= max(int((~answerable).sum()), 1)
        return weights

    def weights(self, kind: str) -> np.ndarray:
        """Sample weights of the candidates (mean 1). `none`: alike; `classes`: the candidates holding
        an answer weigh as much in total as the others; `question`: every question alike however many
        candidates it has, its parts sharing its weight and, in a part with both, its candidates that
        hold an answer weighing as much as the others; `objective`: as `question`, with each question
        weighing what it weighs in the objective; `sources`: the bundled articles' sets together weigh
        as much in total as each corpus of invented documents."""
        labels = self.labels
        if kind == "none":
            weights = np.ones(len(labels))
        elif kind == "classes":
            weights = np.where(labels, 1 / max(int(labels.sum()), 1), 1 / max(int((~labels).sum()), 1))
        elif kind == "sources":
            source = np.array([info.get("source", "") for info in self.meta])[self.question]
            _, inverse = np.unique(source, return_inverse=True)
            weights = 1 / np.bincount(inverse)[inverse]
        elif kind in ("question", "objective"):
            parts = self.parts
            held = np.bincount(parts, weights=labels)[parts]
            others = np.bincount(parts)[parts] - held
            share = np.where((held > 0) & (others > 0), 0.5, 1.0)
            within = share / np.where(labels, held, others)
            weights = within * (self.question_weights(kind) / self.part_counts)[self.question]
        else:
            raise ValueError(f"unknown weighting {kind!r}")
        return weights * len(weights) / weights.sum()

    def pairs(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (candidate holding an answer, candidate not) pair of the same part among `rows`."""
        parts, labels = self.parts[rows], self.labels[rows]
        better, worse = [], []
        for part in np.unique(parts[labels]):
            held, others = rows[(parts == part) & labels], rows[(parts == part) & ~labels]
            better.append(np.repeat(held, len(others)))
            worse.append(np.tile(others, len(held)))
        return np.concatenate(better or [np.zeros(0, int)]), np.concatenate(worse or [np.zeros(0, int)])

    def margins(self, score: np.ndarray) -> np.ndarray:
        """Each candidate's score minus the best other of its part (0 for a part's only one)."""
        parts = self.parts
        order = np.lexsort((-score, parts))
        starts = np.flatnonzero(np.r_[True, parts[order][1:] != parts[order][:-1]])
        counts = np.diff(np.r_[starts, len(order)])
        best = score[order[starts]]
        second = np.where(counts > 1, score[order[np.minimum(starts + 1, len(order) - 1)]], best)
        top = np.zeros(len(order), bool)
        top[starts] = True
        of = np.repeat(np.arange(len(starts)), counts)
        out = np.empty(len(score))
        out[order] = score[order] - np.where(top, second[of], best[of])
        return out

    def tops(self, score: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The best candidate by `score` of each part among `rows`."""
        order = rows[np.lexsort((-score[rows], self.parts[rows]))]
        return order[np.r_[True, self.parts[order][1:] != self.parts[order][:-1]]]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            rows=self.rows[:, : len(BASE_FEATURES)].astype(np.float32),
            facts=self.facts,
            gold=self.gold,
            question=self.question,
            part=self.part,
            meta=np.array(json.dumps(self.meta, ensure_ascii=False)),
        )

    @classmethod
    def load(cls, path: Path) -> Table:
        """A stored table, its rows completed with the relative features of each part's candidates."""
        data = np.load(path)
        table = cls(
            data["rows"],
            data["facts"],
            data["gold"],
            data["question"],
            data["part"],
            json.loads(str(data["meta"])),
        )
        key = table.question.astype(np.int64) * 100 + table.part
        full = np.zeros((len(table.rows), 2 * table.rows.shape[1]), np.float32)
        for k in np.unique(key):
            rows = np.flatnonzero(key == k)
            full[rows] = with_relative(table.rows[rows])
        table.rows = full
        return table


def _question(assistant: Assistant, item: EvalItem, prefix: str) -> tuple[list, dict]:
    retriever, answerer = assistant.retriever, assistant.extractive
    question = item.question
    pool = fuse_pools(retriever.retrieve(question, k=POOL))
    scope = find_scope(question, retriever.keyword_sources, retriever.title_sources)
    if scope is not None:
        pool = fuse_pools(pool, retriever.retrieve(scope.rest, k=POOL))
    read = pool[:READ]
    named = [p for p in read if scope is not None and p.source == scope.named]

    def search(part: str) -> list:
        return fuse_pools(retriever.retrieve(part, k=POOL))[:READ]

    answerer = assistant.extractive
    parts = answerer.evidence(scope.rest if scope is not None else question, named or read, search)
    sources = set(item.sources)
    out = []
    for index, part in enumerate(parts):
        for candidate, row in zip(part.candidates, part.rows[:, : len(BASE_FEATURES)]):
            folded = fold(candidate.text)
            mask = sum(1 << g for g, group in enumerate(item.patterns) if group_matches(folded, group))
            gold = candidate.first.passage.source in sources or any(k in folded for k in item.keys)
            out.append((row, mask, gold, index))
    top = pool[0].source if pool else ""
    group = f"{prefix}:{item.sources[0] if item.sources else top}"
    meta = {
        "id": item.id,
        "lang": item.lang,
        "answerable": item.answerable,
        "groups": len(item.facts),
        "group": group,
        "pool": [
            [round(p.score, 6), bool(item.answerable and holds_quote(p.text, item.keys))] for p in pool[:POOL]
        ],
    }
    return out, meta


def build(assistant: Assistant, items: list[EvalItem], prefix: str) -> Table:
    """The feature table of a question set over the assistant's knowledge base."""
    rows, facts, gold, question, part, meta = [], [], [], [], [], []
    for q, item in enumerate(items):
        found, info = _question(assistant, item, prefix)
        meta.append(info)
        for row, mask, is_gold, index in found:
            rows.append(row)
            facts.append(mask)
            gold.append(is_gold)
            question.append(q)
            part.append(index)
    width = len(rows[0]) if rows else 0
    return Table(
        np.asarray(rows, np.float32).reshape(-1, width),
        np.asarray(facts, np.int32),
        np.asarray(gold, bool),
        np.asarray(question, np.int32),
        np.asarray(part, np.int32),
        meta,
    )


@dataclass
class PassageTable:
    """Candidate chunks of the answerable questions of a set: ranker rows and relevance."""

    rows: np.ndarray  # float32, one row of rag.retrieve.ranker.RANKER_FEATURES per candidate chunk
    relevant: np.ndarray  # bool: the chunk holds a gold quote
    question: np.ndarray  # int32 index into `groups`
    groups: list[str]  # per question: its CV group (the document of its answer)

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            rows=self.rows,
            relevant=self.relevant,
            question=self.question,
            groups=np.array(json.dumps(self.groups)),
        )

    def ranks(self, score: np.ndarray) -> dict[str, float]:
        """hit@1, hit@5 and MRR@10 of the candidate chunks ordered by score."""
        hits1 = hits5 = rr = 0.0
        for q in range(len(self.groups)):
            idx = np.flatnonzero(self.question == q)
            order = self.relevant[idx[np.argsort(-score[idx], kind="stable")]][:10]
            first = int(np.argmax(order)) if order.any() else None
            hits1 += first == 0
            hits5 += first is not None and first < 5
            rr += 1.0 / (first + 1) if first is not None else 0.0
        n = max(len(self.groups), 1)
        return {"hit@1": hits1 / n, "hit@5": hits5 / n, "mrr": rr / n}

    @classmethod
    def load(cls, path: Path) -> PassageTable:
        data = np.load(path)
        return cls(data["rows"], data["relevant"], data["question"], json.loads(str(data["groups"])))


def build_passages(assistant: Assistant, items: list[EvalItem], prefix: str) -> PassageTable:
    """The ranker's feature table of a set's answerable questions."""
    retriever = assistant.retriever
    rows, relevant, question, groups = [], [], [], []
    for item in (i for i in items if i.answerable):
        chunks, dense, keyword, sentence = retriever.signals(item.question, CANDIDATES)
        found = list(chunks.values())
        rows.append(ranker_features(item.question, found, dense, keyword, sentence))
        relevant += [holds_quote(c.text, item.keys) for c in found]
        question += [len(groups)] * len(found)
        groups.append(f"{prefix}:{item.sources[0]}")
    return PassageTable(
        np.concatenate(rows).astype(np.float32),
        np.asarray(relevant, bool),
        np.asarray(question, np.int32),
        groups,
    )


def load(names: list[str]) -> Table:
    """The named tables as one (question indices made distinct)."""
    present = [n for n in names if (TABLES / f"{n}.npz").exists()]
    tables = [Table.load(TABLES / f"{n}.npz") for n in present]
    for name, table in zip(present, tables):
        for info in table.meta:  # where the question's documents come from (`Table.weights`)
            info["source"] = "bundled" if SETS.get(name, (None, None))[1] is None else name
    return Table(
        np.concatenate([t.rows for t in tables]),
        np.concatenate([t.facts for t in tables]),
        np.concatenate([t.gold for t in tables]),
        _questions([t.question for t in tables], [len(t.meta) for t in tables]),
        np.concatenate([t.part for t in tables]),
        [m for t in tables for m in t.meta],
    )


def _questions(indices: list[np.ndarray], counts: list[int]) -> np.ndarray:
    """Question indices of several tables made distinct: each table's shifted past the ones before."""
    starts = np.cumsum([0, *counts[:-1]])
    return np.concatenate([index + start for index, start in zip(indices, starts)])


def load_passages(names: list[str]) -> PassageTable:
    # a set of unanswerable questions only (offtopic) has no relevant passages to rank
    paths = [TABLES / f"{n}.passages.npz" for n in names]
    tables = [PassageTable.load(path) for path in paths if path.exists()]
    return PassageTable(
        np.concatenate([t.rows for t in tables]),
        np.concatenate([t.relevant for t in tables]),
        _questions([t.question for t in tables], [len(t.groups) for t in tables]),
        [g for t in tables for g in t.groups],
    )


def corpus_home(name: str, docs: Path) -> Path:
    """The knowledge base kept between runs for a corpus folder: one per folder path, since
    ingestion tells documents apart by path, and the same files ingested from a second checkout
    would be a second copy of each document, every passage retrieved twice."""
    key = hashlib.sha1(str(docs.resolve()).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"rag-tune-{name}-{key}"


def corpus_assistant(docs: Path, home: Path | None = None) -> Assistant:
    """A fresh knowledge base holding only the documents under `docs`."""
    home = home or Path(tempfile.mkdtemp(prefix="rag-corpus-"))
    assistant = Assistant(Settings(home=home, llm=None, embedding=None), bundled=False, show_progress=False)
    assistant.ingest([docs])
    return assistant


# name -> (question file, corpus folder or None for the bundled articles, fitted on?)
SETS: dict[str, tuple[Path, Path | None, bool]] = {
    "train": (HERE / "train.jsonl", None, True),
    "dev": (HERE / "dev.jsonl", None, True),
    # general-knowledge questions no document answers: the off-topic side of declining
    "offtopic": (HERE / "offtopic.jsonl", None, True),
    "harbor": (HERE / "corpora" / "harbor" / "qa.jsonl", HERE / "corpora" / "harbor" / "docs", True),
    "quarry": (HERE / "corpora" / "quarry" / "qa.jsonl", HERE / "corpora" / "quarry" / "docs", True),
    "heldout": (HERE / "qa.jsonl", None, False),
    "orchard": (HERE / "corpora" / "orchard" / "qa.jsonl", HERE / "corpora" / "orchard" / "docs", False),
    "meadow": (HERE / "corpora" / "meadow" / "qa.jsonl", HERE / "corpora" / "meadow" / "docs", False),
}


def extract(names: list[str], passages: bool = False) -> None:
    """Write eval/features/<name>.npz (answer candidates) for each named set, or with `passages`
    eval/features/<name>.passages.npz (the ranker's candidate chunks)."""
    bundled: Assistant | None = None
    for name in names:
        path, docs, _ = SETS[name]
        if not path.exists():
            print(f"{name}: {path} is missing, skipped")
            continue
        # knowledge bases kept between runs (ingestion is incremental)
        if docs is None:
            bundled = bundled or Assistant(
                Settings(home=Path(tempfile.gettempdir()) / "rag-tune-bundled", llm=None, embedding=None),
                show_progress=False,
            )
            assistant = bundled
        else:
            assistant = corpus_assistant(docs, corpus_home(name, docs))
        if passages:
            if not any(item.answerable for item in load_eval(path)):
                print(f"{name}: no answerable question, no passages to rank")
                continue
            chunks = build_passages(assistant, load_eval(path), name)
            chunks.save(TABLES / f"{name}.passages.npz")
            relevant = int(chunks.relevant.sum())
            print(f"{name}: {len(chunks.groups)} questions, {len(chunks.rows)} chunks, {relevant} relevant")
            continue
        table = build(assistant, load_eval(path), name)
        table.save(TABLES / f"{name}.npz")
        facts = int(table.labels.sum())
        print(f"{name}: {len(table.meta)} questions, {len(table.rows)} candidates, {facts} hold a fact")
