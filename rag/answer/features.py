"""The candidates an extractive answer may quote, and the features the answer model scores them by.

A candidate is a sentence of a retrieved passage, or a sentence with the one after it (an answer is
often stated just after the sentence that matches the question best). Each gets one row of general
features, grouped in families so that an ablation can remove a family at a time:

- dense: multilingual similarity of the question to the candidate and to its passage;
- lexical: the weighted share of the question's terms (with translations) the candidate and its
  passage hold, and how much of the candidate merely repeats the question (character pairs);
- kind: whether the question asks for a kind of answer (a number, a date, …), whether the candidate
  holds one, and whether it holds one in the unit or of the thing asked;
- names: whether the candidate's document and the candidate speak of the names the question gives;
- document: the weighted share of the question's terms the candidate's whole document holds (a
  look-alike document on another subject lacks the words that say which subject is asked about);
- retrieval: the passage's rank in the fused ranking, before reranking;
- shape: length, a question mark, a sentence pair, a table row;
- furniture: publication timestamps, bylines, headings, broken-encoding fragments, planted
  instructions, links: page parts that are seldom an answer;
- relative: each of the above as its distance to the best value among the candidates of the same
  question, since what answers is the best of what was found.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from rag.question.expectation import BYLINE, Expectation
from rag.question.query import Query
from rag.question.terms import Name
from rag.retrieve.ranker import chinese_text
from rag.text.clean import fold, is_table_row
from rag.text.sentences import Sentence
from rag.text.tokens import is_chinese
from rag.verification.instructions import is_instruction

_BASE_FAMILIES: dict[str, tuple[str, ...]] = {
    "dense": ("sim", "sim_last", "sim_gap", "sim_rank", "sim_passage"),
    "lexical": ("coverage", "coverage_content", "coverage_gap", "coverage_passage", "echo"),
    "kind": ("asks_kind", "kind_met", "kind_missed", "unit_met", "naming", "focus"),
    "names": ("names_document", "names_sentence", "no_names"),
    "document": ("terms_document",),
    "retrieval": ("fused_rank",),
    "shape": ("length", "short", "asks_back", "pair", "table_row"),
    "furniture": ("timestamp", "byline", "byline_asked", "heading", "broken", "instruction", "link"),
    "language": ("cross_language",),
}
BASE_FEATURES: tuple[str, ...] = tuple(name for family in _BASE_FAMILIES.values() for name in family)
# each base feature also as its distance to the best value among the part's candidates
FAMILIES: dict[str, tuple[str, ...]] = {
    **_BASE_FAMILIES,
    "relative": tuple(f"{name}_vs_best" for name in BASE_FEATURES),
}
FEATURES: tuple[str, ...] = tuple(name for family in FAMILIES.values() for name in family)

_TIMESTAMP = re.compile(
    r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?\s*\d{1,2}:\d{2}"
    r"|发布(时间|于|日期)|更新(时间|于)|阅读(量|数)|浏览(量|次)|\b(published|updated|posted)( on| at)?\b"
)
_END = ("。", "！", "？", "!", "?", ".", "；", ";", "”", '"', "」", "…", "）", ")")
# what is left of broken encoding: pinyin in brackets after a Latin letter ("f(xiàn)"), the
# replacement character, a fragment that starts with a comma
_BROKEN = re.compile(r"[a-z]\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)|\ufffd|^[,，、;；)）]")
_LINK = re.compile(r"https?://|www\.|\[link removed\]")


@dataclass
class Candidate:
    """A sentence of a retrieved passage, or a sentence and the one after it."""

    sentences: tuple[Sentence, ...]
    vector: np.ndarray | None
    index: int  # position of its first sentence among the sentences read

    @property
    def first(self) -> Sentence:
        return self.sentences[0]

    @property
    def text(self) -> str:
        return "".join(s.text if is_chinese(s.text) else s.text + " " for s in self.sentences).strip()

    @property
    def folded(self) -> str:
        return "".join(s.folded for s in self.sentences)

    @property
    def matched(self) -> str:
        """The folded text the question's terms and kind are looked for in: a table row's with its
        header row, which says what the row's cells are."""
        header = self.first.header_folded
        return f"{header}\n{self.folded}" if header else self.folded


def candidates(sents: Sequence[Sentence], vectors: np.ndarray | None) -> list[Candidate]:
    """Each sentence, and each sentence with the next one of the same passage."""
    out = [Candidate((s,), None if vectors is None else vectors[i], i) for i, s in enumerate(sents)]
    for i in range(len(sents) - 1):
        a, b = sents[i], sents[i + 1]
        if a.passage.id != b.passage.id or is_instruction(b.folded):
            continue
        vector = None
        if vectors is not None:
            joined = vectors[i] + vectors[i + 1]
            vector = joined / (np.linalg.norm(joined) or 1.0)
        out.append(Candidate((a, b), vector, i))
    return out


SpeaksOf = Callable[[Name, str], bool]
# the documents whose text holds a folded word
DocumentsWith = Callable[[str], frozenset[str]]


def features(
    query: Query,
    cands: Sequence[Candidate],
    speaks_of: SpeaksOf | None = None,
    documents_with: DocumentsWith | None = None,
) -> np.ndarray:
    """One row of `FEATURES` per candidate."""
    return with_relative(base_features(query, cands, speaks_of, documents_with))


def with_relative(rows: np.ndarray) -> np.ndarray:
    """Rows of `BASE_FEATURES` (the candidates of one question) with their `relative` columns."""
    if not len(rows):
        return np.zeros((0, len(FEATURES)), np.float32)
    return np.hstack([rows, rows - rows.max(axis=0)]).astype(np.float32)


def base_features(
    query: Query,
    cands: Sequence[Candidate],
    speaks_of: SpeaksOf | None = None,
    documents_with: DocumentsWith | None = None,
) -> np.ndarray:
    """One row of `BASE_FEATURES` per candidate."""
    n = len(cands)
    rows = np.zeros((n, len(BASE_FEATURES)), np.float32)
    if not n:
        return rows
    sims = _similarities(query, cands)
    lasts = _similarities(query, cands, last=True)
    best = float(sims.max())
    sim_rank = np.empty(n)
    sim_rank[np.argsort(-sims, kind="stable")] = np.arange(n)
    matches = [c.matched for c in cands]  # each candidate's text with its table header, made once
    covered = [query.coverage(m) for m in matches]
    best_covered = max(covered)
    passage_best: dict[str, float] = {}
    passage_text: dict[str, str] = {}
    for c, sim in zip(cands, sims):
        pid = c.first.passage.id
        passage_best[pid] = max(passage_best.get(pid, -1.0), float(sim))
        if len(c.sentences) == 1:
            passage_text[pid] = passage_text.get(pid, "") + c.folded
    question_grams = set(_grams(fold(query.text)))
    wanted = query.wanted
    general = wanted.general
    document_names: dict[str, float] = {}
    document_terms = _document_terms(query, {c.first.passage.source for c in cands}, documents_with)
    for row, c, sim, last, rank, cover, matched in zip(rows, cands, sims, lasts, sim_rank, covered, matches):
        s, folded = c.first, c.folded
        in_table = is_table_row(s.text)
        pid, source = s.passage.id, s.passage.source
        if source not in document_names:
            document_names[source] = _share([not speaks_of or speaks_of(n, source) for n in query.names])
        own = [g for x in c.sentences for g in _grams(x.folded)]
        met, specific, naming, focus = _fit(query, general, matched)
        stamp, byline, broken, link = _page_parts(folded)
        value = {
            "sim": sim,
            "sim_last": last,
            "sim_gap": sim - best,
            "sim_rank": 1.0 / (1.0 + rank),
            "sim_passage": passage_best[pid],
            "coverage": cover,
            "coverage_gap": cover - best_covered,
            "coverage_content": query.coverage(matched, content=True),
            "coverage_passage": query.coverage(passage_text.get(pid, folded)),
            "echo": sum(g in question_grams for g in own) / len(own) if own else 0.0,
            "asks_kind": float(bool(wanted.kind)),
            "kind_met": float(bool(wanted.kind) and met),
            "kind_missed": float(bool(wanted.kind) and not met),
            "unit_met": float(specific),
            "naming": naming,
            "focus": focus,
            "names_document": document_names[source],
            "terms_document": document_terms[source],
            "names_sentence": _share([any(_holds(matched, f) for f in n.forms) for n in query.names]),
            "no_names": float(not query.names),
            "fused_rank": 1.0 / (1.0 + s.passage.fused_rank),
            "length": math.log1p(len(folded)),
            "short": float(len(folded) < 8),
            "asks_back": float(folded.rstrip().endswith(("?", "？"))),
            "pair": float(len(c.sentences) > 1),
            "table_row": float(in_table),
            "timestamp": stamp,
            "byline": byline,
            "byline_asked": float(wanted.kind == "author") * byline,
            "heading": float(len(folded) < 40 and not folded.rstrip().endswith(_END) and not in_table),
            "broken": broken,
            "instruction": float(any(_instruction(x.folded) for x in c.sentences)),
            "link": link,
            "cross_language": float(query.chinese != chinese_text(s.text)),
        }
        row[:] = [value[name] for name in BASE_FEATURES]
    return rows


def _document_terms(
    query: Query, sources: set[str], documents_with: DocumentsWith | None
) -> dict[str, float]:
    """For each document, the weighted share of the question's terms (a term held in any of its
    forms or translations) its whole text holds (1 for each without a way to look)."""
    terms = list(query.terms.items())
    total = sum(w for _, w in terms)
    if documents_with is None or not total:
        return dict.fromkeys(sources, 1.0)
    holding = [(frozenset().union(*(documents_with(a) for a in t.split("|"))), w) for t, w in terms]
    return {source: sum(w for held, w in holding if source in held) / total for source in sources}


def _fit(query: Query, general: Expectation, folded: str) -> tuple[float, float, float, float]:
    """Whether the text holds the kind of answer asked, in the unit or of the thing asked, names
    something when a name is asked, and speaks of the noun asked about (kept for the question)."""
    key = ("fit", folded)
    found: tuple[float, float, float, float] | None = query.memo.get(key)
    if found is None:
        wanted = query.wanted
        specific = bool(wanted.dimension or wanted.unit or wanted.things) and wanted.met_by(folded)
        found = (
            float(general.met_by(folded)),
            float(specific),
            float(wanted.names(folded)),
            float(wanted.focused(folded)),
        )
        query.memo[key] = found
    return found


@lru_cache(maxsize=50_000)
def _page_parts(folded: str) -> tuple[float, float, float, float]:
    """Whether the text holds a timestamp, a byline, a broken-encoding fragment, a link."""
    return (
        float(bool(_TIMESTAMP.search(folded))),
        float(bool(BYLINE.search(folded))),
        float(bool(_BROKEN.search(folded))),
        float(bool(_LINK.search(folded))),
    )


@lru_cache(maxsize=50_000)
def _instruction(folded: str) -> bool:
    return is_instruction(folded)


def _similarities(query: Query, cands: Sequence[Candidate], last: bool = False) -> np.ndarray:
    """Cosine of the question's (or its last asking sentence's) vector and each candidate's."""
    vector = query.last_vector if last and query.last_vector is not None else query.vector
    if vector is None or any(c.vector is None for c in cands):
        return np.zeros(len(cands), np.float32)
    return np.stack([c.vector for c in cands]) @ vector  # type: ignore[misc]


@lru_cache(maxsize=50_000)
def _grams(folded: str) -> tuple[str, ...]:
    """The character pairs of a text's letters and digits: what it shares with the question."""
    kept = "".join(ch for ch in folded if ch.isalnum())
    return tuple(kept[i : i + 2] for i in range(len(kept) - 1))


@lru_cache(maxsize=4096)
def _word(form: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9]){re.escape(form)}(?![a-z0-9])")


def _holds(folded: str, form: str) -> bool:
    """The folded text holds a name's form: a Latin one as a whole word ("son" is not in "reason")."""
    if form not in folded:
        return False
    return not form[:1].isascii() or _word(form).search(folded) is not None


def _share(held: Sequence[bool]) -> float:
    """The share of the names held (1 when the question gives none)."""
    return sum(held) / len(held) if held else 1.0
