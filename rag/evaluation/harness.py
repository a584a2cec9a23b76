"""Evaluation harness: the product's retrieval modes and a plain LlamaIndex baseline on one question set.

Every configuration is a factory `CONFIGS[name](assistant) -> System`; a System retrieves passages
and answers questions. `run_eval` scores them all with the deterministic metrics of `rag.evaluation.metrics`.

Example:
    >>> items = load_eval("eval/qa.jsonl")
    >>> result = run_eval(Assistant(), items, configs=["hybrid", "llamaindex"])
    >>> print(rag.evaluation.report.markdown_table(result))
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rag.answer.extractive import PASSAGES_READ
from rag.errors import InputError
from rag.evaluation.metrics import (
    DEPTH,
    LANGS,
    aggregate,
    citation_precision_counts,
    citation_recall_counts,
    ideal_count,
    matches_facts,
    novel_gains,
    paired,
    quote_keys,
    relevant_ranks,
)
from rag.schema import Answer, Passage
from rag.text.clean import fold

if TYPE_CHECKING:
    from rag.assistant import Assistant

log = logging.getLogger("rag")
KEYS = ("id", "question", "lang", "answerable", "facts", "sources", "quotes")


@dataclass
class EvalItem:
    """One evaluation question with its gold facts (regex groups) and gold quotes."""

    id: str
    question: str
    lang: str
    answerable: bool
    facts: list[list[str]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)
    line: int = 0

    @cached_property
    def patterns(self) -> list[list[re.Pattern[str]]]:
        """The fact regexes, compiled."""
        return [[re.compile(rx) for rx in group] for group in self.facts]

    @cached_property
    def keys(self) -> list[str]:
        """The gold quotes, cleaned and folded as passages are compared."""
        return quote_keys(self.quotes)


# --- loading -------------------------------------------------------------------------------------


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _parse(data: Any, where: str, number: int) -> EvalItem:
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object, found {type(data).__name__}")
    missing = [k for k in KEYS if k not in data]
    if missing:
        raise InputError(f"{where}: missing key(s) {', '.join(missing)}")
    for key in ("id", "question"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise InputError(f"{where}: {key!r} must be a non-empty string")
    if data["lang"] not in LANGS:
        raise InputError(f"{where}: 'lang' must be one of {', '.join(LANGS)}, not {data['lang']!r}")
    if not isinstance(data["answerable"], bool):
        raise InputError(f"{where}: 'answerable' must be true or false, not {data['answerable']!r}")
    facts = data["facts"]
    if not (isinstance(facts, list) and all(_string_list(g) and g for g in facts)):
        raise InputError(f"{where}: 'facts' must be a list of non-empty lists of regex strings")
    for key in ("sources", "quotes"):
        if not _string_list(data[key]):
            raise InputError(f"{where}: {key!r} must be a list of strings")
    if data["answerable"] and not facts:
        raise InputError(f"{where}: an answerable question needs at least one fact group")
    for group in facts:
        for rx in group:
            try:
                re.compile(rx)
            except re.error as exc:
                raise InputError(f"{where}: fact regex {rx!r} is not valid: {exc}") from None
    return EvalItem(
        id=data["id"],
        question=data["question"],
        lang=data["lang"],
        answerable=data["answerable"],
        facts=facts,
        sources=data["sources"],
        quotes=data["quotes"],
        line=number,
    )


def load_eval(path: str | Path) -> list[EvalItem]:
    """Read a JSON-lines question set; a malformed line raises InputError naming its line number."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"No evaluation file at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"The evaluation file {path} cannot be read: {exc}") from None
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})") from None
        item = _parse(data, where, number)
        if item.id in seen:
            raise InputError(f"{where}: id {item.id!r} is already used on line {seen[item.id]}")
        seen[item.id] = number
        items.append(item)
    if not items:
        raise InputError(f"The evaluation file {path} holds no questions")
    return items


# --- configurations ------------------------------------------------------------------------------


class System(Protocol):
    """What the evaluation needs from a configuration."""

    def retrieve(self, question: str, k: int) -> list[Passage]: ...

    def ask(self, question: str, k: int) -> Answer: ...

    def collection(self) -> list[str]:
        """The text of every passage the system can retrieve (to tell which gold quotes are findable)."""
        ...


class AssistantSystem:
    """The product: the assistant's own retrieval in one mode, answered extractively (or by its LLM)."""

    def __init__(self, assistant: Assistant, mode: str, llm: bool = False) -> None:
        if llm and getattr(assistant, "llm", None) is None:
            raise InputError(
                "The 'llm' configuration needs an LLM endpoint: set OPENAI_BASE_URL and/or OPENAI_API_KEY "
                "(and RAG_LLM_MODEL)."
            )
        self.assistant = assistant
        self.mode = mode
        self.llm = llm

    def retrieve(self, question: str, k: int) -> list[Passage]:
        return self.assistant.retrieve(question, k=k, mode=self.mode)

    def ask(self, question: str, k: int) -> Answer:
        return self.assistant.ask(question, k=k, mode=self.mode, extractive=not self.llm)

    def collection(self) -> list[str]:
        return [chunk.text for chunk, _ in self.assistant.store.chunks()]


class LlamaIndexBaseline:
    """A plain LlamaIndex pipeline over the knowledge base's files: SentenceSplitter defaults, an in-memory
    VectorStoreIndex with the same embedding model, the default retriever; answers by the
    assistant's extractive answerer on its passages. No LLM is ever resolved (no query engine)."""

    def __init__(self, assistant: Assistant) -> None:
        from llama_index.core import Document as LlamaDocument
        from llama_index.core import VectorStoreIndex
        from llama_index.core.base.embeddings.base import BaseEmbedding
        from llama_index.core.node_parser import SentenceSplitter

        from rag.evaluation.baseline import E5Embedding
        from rag.ingest.build import BUNDLED_PREFIX
        from rag.ingest.bundled import bundled_files
        from rag.ingest.load import read_document

        bundled = {p.name: p for p in bundled_files()}
        keys = [d.key for d in assistant.documents()]
        paths = [
            bundled[k.removeprefix(BUNDLED_PREFIX)] if k.startswith(BUNDLED_PREFIX) else Path(k) for k in keys
        ]
        documents = []
        for path in paths:
            doc = read_document(path)
            text = "\n".join(line.text for line in doc.lines)
            documents.append(LlamaDocument(text=text, metadata={"source": doc.source}))
        embedder = assistant.embedder
        embed_model = embedder if isinstance(embedder, BaseEmbedding) else E5Embedding(embedder)
        self.nodes = SentenceSplitter().get_nodes_from_documents(documents)
        index = VectorStoreIndex(self.nodes, embed_model=embed_model)
        self.retriever = index.as_retriever(similarity_top_k=DEPTH)
        self.assistant = assistant

    def retrieve(self, question: str, k: int) -> list[Passage]:
        from llama_index.core.schema import MetadataMode

        found = self.retriever.retrieve(question)[:k]
        return [
            Passage(
                id=hit.node.node_id,
                source=str(hit.node.metadata.get("source", "")),
                text=hit.node.get_content(metadata_mode=MetadataMode.NONE),
                score=float(hit.score or 0.0),
                start_line=0,
                end_line=0,
                dense=float(hit.score or 0.0),
            )
            for hit in found
        ]

    def ask(self, question: str, k: int) -> Answer:
        return self.assistant.extractive.answer(question, self.retrieve(question, max(k, PASSAGES_READ)))

    def collection(self) -> list[str]:
        from llama_index.core.schema import MetadataMode

        return [node.get_content(metadata_mode=MetadataMode.NONE) for node in self.nodes]


SystemFactory = Callable[["Assistant"], System]
CONFIGS: dict[str, SystemFactory] = {
    "hybrid": partial(AssistantSystem, mode="hybrid"),
    "dense": partial(AssistantSystem, mode="dense"),
    "bm25": partial(AssistantSystem, mode="bm25"),
    "llamaindex": LlamaIndexBaseline,
    "llm": partial(AssistantSystem, mode="hybrid", llm=True),
}


def check_configs(configs: Sequence[str] | str | None) -> list[str]:
    """The configuration names to run (all but "llm" when None); unknown names raise InputError."""
    if configs is None:
        return [name for name in CONFIGS if name != "llm"]
    names = [c.strip() for c in configs.split(",")] if isinstance(configs, str) else list(configs)
    names = list(dict.fromkeys(n for n in names if n))
    unknown = [n for n in names if n not in CONFIGS]
    if unknown or not names:
        raise InputError(
            f"Unknown evaluation configuration {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"choose from: {', '.join(CONFIGS)}"
        )
    return names


# --- running -------------------------------------------------------------------------------------


def _forget_query(system: System, question: str) -> None:
    """Drop the question's vector from the embedder's recent-query memo, so each timed ask() pays
    for its query embedding as a real first question does (earlier configurations asked it too)."""
    assistant = getattr(system, "assistant", None)
    forget = getattr(getattr(assistant, "embedder", None), "forget", None)
    if callable(forget):
        forget(question)
        forget(question.strip())


def _score_item(system: System, item: EvalItem, folded: list[str], k: int) -> dict[str, Any]:
    row: dict[str, Any] = {"id": item.id, "lang": item.lang, "answerable": item.answerable}
    _forget_query(system, item.question)
    start = time.perf_counter()
    answer = system.ask(item.question, k)
    row["latency_ms"] = round((time.perf_counter() - start) * 1000, 2)
    if item.answerable:
        passages = system.retrieve(item.question, DEPTH)
        texts = [p.text for p in passages]
        row.update(
            retrieved=[p.id for p in passages],
            relevant_ranks=relevant_ranks(texts, item.keys, DEPTH),
            findable=ideal_count(folded, item.keys, DEPTH),
            gains=novel_gains(texts, item.keys, DEPTH),
        )
    row.update(answer=answer.text, abstained=answer.abstained)
    row["citations"] = [
        {"number": c.number, "source": c.source, "lines": [c.start_line, c.end_line], "passage": c.passage_id}
        for c in answer.citations
    ]
    if item.answerable:
        row["fact_ok"] = not answer.abstained and matches_facts(answer.text, item.patterns)
        row["cite_precision"] = citation_precision_counts(answer, item.keys, item.patterns)
        row["cite_recall"] = citation_recall_counts(answer, item.patterns)
    return row


def config_names(assistant: Assistant, configs: Sequence[str] | str | None) -> list[str]:
    """The configurations to run: as given, else all, with "llm" when an LLM endpoint is configured."""
    names = check_configs(configs)
    if configs is None and getattr(assistant, "llm", None) is not None:
        names.append("llm")
    return names


def run_eval(
    assistant: Assistant,
    items: Sequence[EvalItem],
    configs: Sequence[str] | str | None = None,
    k: int = 5,
) -> dict[str, Any]:
    """Score each configuration on the items: retrieval at depth 10, answers from the top k passages.

    Returns JSON-ready data: {"k", "depth", "items", "configs": {name: {"metrics", "items"}}}.
    """
    names = config_names(assistant, configs)
    if k < 1:
        raise InputError(f"k must be at least 1, not {k}")
    result: dict[str, Any] = {"k": k, "depth": DEPTH, "items": len(items), "configs": {}}
    for name in names:
        log.info("evaluating %s on %d questions", name, len(items))
        system = CONFIGS[name](assistant)
        folded = [fold(t) for t in system.collection()]
        if items:
            system.ask(items[0].question, k)  # warm-up: lazy model and tokenizer loads are not latency
        rows = [_score_item(system, item, folded, k) for item in items]
        result["configs"][name] = {"metrics": aggregate(rows), "items": rows}
    if "hybrid" in result["configs"]:  # the product against each other configuration, question by question
        mine = result["configs"]["hybrid"]["items"]
        others = {n: paired(mine, data["items"]) for n, data in result["configs"].items() if n != "hybrid"}
        result["paired_with_hybrid"] = others
    return result
