"""Hybrid retrieval: dense (Chroma) and BM25 over jieba tokens, fused by reciprocal rank fusion."""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rag.errors import InputError
from rag.index.embed import Embedder
from rag.index.sentence_index import SentenceIndex
from rag.index.store import ChromaStore
from rag.question.aliases import aliases
from rag.retrieve.ranker import RANKER_FEATURES, chinese_text, ranker_features, shipped_ranker
from rag.schema import Chunk, Passage
from rag.text.crosslingual import Gloss, Lexicon, chinese_amounts
from rag.text.tokens import bigrams, is_chinese, tokenize

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[str, ...] = ("hybrid", "dense", "bm25")
CANDIDATES = 30
# how much deeper the dense search reads to find the best chunks written in the other script
SCRIPT_DEPTH = 4
# texts whose translations are kept: one answer asks for a question's (and its words') several times
GLOSSES_KEPT = 1024
# words whose documents are kept: every candidate of every part asks whether its document names them
WORDS_KEPT = 4096
# chunks holding a name that are read for its form in the other script (`rag.question.aliases`)
ALIAS_CHUNKS = 50


class KeywordIndex:
    """BM25 (bm25s) over the tokens of every chunk, saved beside the store.

    Only chunk ids are held (the retriever reads the chunks it returns from the store), and the
    bm25s arrays are saved per set of chunk ids and memory-mapped: a process opens a 100k-chunk
    index in about a second without reading the chunks or their tokens.
    """

    def __init__(self, ids: Sequence[str], bm25: Any, lexicon: Lexicon | None = None) -> None:
        self.lexicon = lexicon
        self.ids = list(ids)
        self._bm25 = bm25
        self._vocab: dict[str, int] = dict(bm25.vocab_dict) if self.ids else {}
        # chunks holding each token: the entries of its column in bm25s's CSC score matrix
        self._df = np.diff(np.asarray(bm25.scores["indptr"])) if self.ids else np.zeros(0, np.int64)
        # retrieval, the question's terms, its names and its kind all translate the same text
        self._glossed = lru_cache(maxsize=GLOSSES_KEPT)(self._glosses)

    @classmethod
    def build(
        cls, ids: Sequence[str], tokens: Sequence[list[str]], lexicon: Lexicon | None = None
    ) -> KeywordIndex:
        """Index the chunks' tokens (in memory)."""
        import bm25s

        bm25 = bm25s.BM25()
        if ids:
            bm25.index([t or [""] for t in tokens], show_progress=False)
        return cls(ids, bm25, lexicon)

    @classmethod
    def load_or_build(
        cls,
        ids: Sequence[str],
        texts: Callable[[list[str]], list[str]],
        cache: Path | None,
        lexicon: Lexicon | None = None,
    ) -> KeywordIndex:
        """The index of these chunk ids: loaded when saved for the same ids, else built from the
        tokens saved in `cache` (a JSON file), tokenizing (via `texts`) only chunks that are new."""
        ids = sorted(ids)
        digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:20]
        folder = cache.with_suffix(".bm25") / digest if cache else None
        if folder and ids and (folder / "params.index.json").exists():
            try:
                return cls(ids, SavedBM25.load(folder), lexicon)
            except (OSError, ValueError, KeyError):
                pass
        saved: dict[str, list[str]] = {}
        if cache and cache.exists():
            try:
                saved = json.loads(cache.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                saved = {}
        missing = [i for i in ids if i not in saved]
        fresh = dict(zip(missing, (tokenize(t) for t in texts(missing)))) if missing else {}
        tokens = [saved.get(i) or fresh.get(i) or [] for i in ids]
        if cache and (missing or len(saved) != len(ids)):
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")  # two writers of one home may meet here
            tmp.write_text(json.dumps(dict(zip(ids, tokens)), ensure_ascii=False), encoding="utf-8")
            tmp.replace(cache)
        del saved, fresh
        index = cls.build(ids, tokens, lexicon)
        if folder and ids:
            _save(index._bm25, folder)
        return index

    def idf(self, term: str) -> float:
        """Inverse document frequency of a token (unseen tokens get the highest value)."""
        n = max(len(self.ids), 1)
        index = self._vocab.get(term)
        df = int(self._df[index]) if index is not None else 0
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def _columns(self, word: str) -> list[str]:
        """How the index holds a folded word: as a token, or for a longer Han word as all of its
        bigrams ([] when it does not)."""
        if word in self._vocab:
            return [word]
        pairs = bigrams(word) if len(word) > 2 else []
        return pairs if pairs and all(p in self._vocab for p in pairs) else []

    def known(self, word: str) -> bool:
        """Does the indexed text contain this (folded) Chinese word, as a token or as bigrams."""
        return bool(self._columns(word))

    def holding(self, word: str) -> np.ndarray:
        """Positions (in `ids`) of the chunks holding this folded word: as a token, or for a longer
        Han word, as all of its bigrams."""
        columns = self._columns(word)
        if not columns:
            return np.zeros(0, np.int64)
        indptr, indices = self._bm25.scores["indptr"], self._bm25.scores["indices"]
        found: np.ndarray | None = None
        for c in columns:
            column = self._vocab[c]
            rows = np.asarray(indices[indptr[column] : indptr[column + 1]])
            found = rows if found is None else np.intersect1d(found, rows)
        return found if found is not None else np.zeros(0, np.int64)

    def glosses(self, question: str) -> list[Gloss]:
        """The content words of a question in another language, each with the Chinese words that
        may translate it, and its amounts with the Chinese forms the index holds their digits in
        ("60 billion": 600亿) ([] for a Chinese question). Worked out once per text (a new list
        each time, of the same glosses)."""
        return list(self._glossed(question))

    def _glosses(self, question: str) -> list[Gloss]:
        if self.lexicon is None or is_chinese(question):
            return []
        amounts = [
            (source, forms)
            for source, forms in chinese_amounts(question)
            if any(t[:1].isdigit() and t in self._vocab for form in forms for t in tokenize(form))
        ]
        said = {word for source, _ in amounts for word in source.split()}  # "billion" is in the amount
        found = [gloss for gloss in self.lexicon.glosses(question, self.known) if gloss[0] not in said]
        return found + amounts

    def english(self, word: str) -> list[str]:
        """English words that translate a Chinese word and occur in the indexed text (西门子 →
        siemens, where a document writes "Siemens")."""
        if self.lexicon is None:
            return []
        return [w for w in self.lexicon.english(word) if w in self._vocab]

    def query_tokens(self, question: str) -> list[str]:
        """BM25 query tokens: the question's own, plus dictionary translations across languages."""
        tokens = tokenize(question)
        for _, found in self.glosses(question):
            for word in found:  # an amount (600亿) is tokenized as the text it is to match
                tokens.extend(tokenize(word) if word[:1].isdigit() else [word, *bigrams(word)])
        return tokens

    def search(self, question: str, k: int) -> list[tuple[int, float]]:
        """Indexes of the k best chunks with their BM25 scores (only those with a positive score)."""
        query = [t for t in self.query_tokens(question) if t in self._vocab]
        if not query:
            return []
        scores = self._bm25.get_scores(query)
        top = np.argsort(-scores)[:k]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]


class SavedBM25:
    """A saved bm25s index, memory-mapped and scored with numpy alone: what `KeywordIndex` reads of
    `bm25s.BM25` (its vocabulary, score matrix and `get_scores`), without importing bm25s and
    scipy at every process start. The scores are bm25s's own computation on its own arrays."""

    PLAIN = ("robertson", "lucene", "atire")  # methods without a non-occurrence array

    def __init__(self, vocab: dict[str, int], scores: dict[str, Any], dtype: str) -> None:
        self.vocab_dict = vocab
        self.scores = scores
        self._dtype = np.dtype(dtype)

    @classmethod
    def load(cls, folder: Path) -> SavedBM25 | Any:
        """The index saved in `folder` (a `bm25s.BM25` for the methods this class does not cover)."""
        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
        if params.get("method") not in cls.PLAIN or params.get("backend", "numpy") != "numpy":
            import bm25s

            return bm25s.BM25.load(str(folder), mmap=True, show_progress=False)
        vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
        arrays = {
            name: np.load(folder / f"{name}.csc.index.npy", mmap_mode="r", allow_pickle=False)
            for name in ("data", "indices", "indptr")
        }
        return cls(vocab, {**arrays, "num_docs": int(params["num_docs"])}, params.get("dtype", "float32"))

    def get_scores(self, tokens: list[str]) -> np.ndarray:
        """The BM25 score of every chunk for the query tokens (as `bm25s.BM25.get_scores`)."""
        data, indices, indptr = self.scores["data"], self.scores["indices"], self.scores["indptr"]
        scores = np.zeros(self.scores["num_docs"], dtype=self._dtype)
        for token in tokens:
            column = self.vocab_dict.get(token)
            if column is not None:
                start, end = int(indptr[column]), int(indptr[column + 1])
                np.add.at(scores, indices[start:end], data[start:end])
        return scores


def _abandoned(tmp: Path) -> bool:
    """A `<name>.<pid>.tmp` folder whose writer is gone (killed mid-save): nobody will finish it."""
    pid = tmp.name.removesuffix(".tmp").rpartition(".")[2]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, but another user's
        return False
    return False


def _save(bm25: Any, folder: Path) -> None:
    """Save the bm25s arrays in a new folder (renamed into place), and drop older versions: a
    process that has an old one memory-mapped keeps reading its unlinked files safely."""
    import shutil

    tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        bm25.save(str(tmp), show_progress=False)
        try:
            tmp.rename(folder)
        except OSError:  # another process saved the same version first
            shutil.rmtree(tmp, ignore_errors=True)
        for old in folder.parent.iterdir():
            if old.name != folder.name and (not old.name.endswith(".tmp") or _abandoned(old)):
                shutil.rmtree(old, ignore_errors=True)
    except OSError:  # best effort: without the saved copy, the next process builds it again
        shutil.rmtree(tmp, ignore_errors=True)


class HybridRetriever:
    """Dense, keyword or hybrid retrieval over one store.

    Hybrid combines three searches with the fitted passage ranker (rag.retrieve.ranker): chunk vectors
    (Chroma), BM25 over jieba tokens, and the best sentence similarity of each candidate chunk
    (sentence vectors).
    """

    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        keywords: KeywordIndex,
        sentences: SentenceIndex | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.keywords = keywords
        self.sentences = sentences
        self.ranker = shipped_ranker()
        # the documents, and each keyword-indexed chunk's one (a position among them), read once
        self._sources: tuple[list[str], np.ndarray] | None = None
        # the documents and their titles' vectors, read once
        self._titles: tuple[list[str], np.ndarray] | None = None
        self._sources_lock = threading.Lock()
        # the index does not change under a retriever (an ingest makes a new one): kept per word
        self.documents_with = lru_cache(maxsize=WORDS_KEPT)(self._documents_with)
        self.name_aliases = lru_cache(maxsize=WORDS_KEPT)(self._name_aliases)

    def _name_aliases(self, form: str) -> frozenset[str]:
        """A folded name's forms in the other script, as the chunks holding it give them in brackets:
        黄仁勋 for "huang" where a document writes 黄仁勋（Jensen Huang）."""
        held = self.keywords.holding(form)[:ALIAS_CHUNKS]
        return aliases(form, (c.text for c in self.store.get([self.keywords.ids[i] for i in held])))

    def _documents_with(self, word: str) -> frozenset[str]:
        """The documents whose text holds this folded word (none when no chunk does)."""
        with self._sources_lock:
            if self._sources is None:
                by_id = self.store.sources()
                names = sorted(set(by_id.values()))
                code = {name: i for i, name in enumerate(names)}
                self._sources = (names, np.array([code.get(by_id.get(c, ""), -1) for c in self.keywords.ids]))
        names, codes = self._sources
        return frozenset(names[c] for c in np.unique(codes[self.keywords.holding(word)]) if c >= 0)

    def title_sources(self, text: str) -> list[tuple[str, float]]:
        """Every document with the similarity of its title (its first sentence) to the text, best
        first (none without sentence vectors).

        A document is mostly described by what its title says, and in any language: "the article
        arguing that physical AI is bad news for Chinese manufacturing" is most like the title
        「黄仁勋的“物理AI”，对中国制造来说真不是好消息」 of all the text there is. The vectors are
        the sentence vectors ingestion already made."""
        if self.sentences is None:
            return []
        with self._sources_lock:
            if self._titles is None:
                firsts = self.store.get(list(self.store.openings().values()))
                opening = zip(firsts, self.sentences.of(firsts))
                held = [(c.source, cs.vectors[0]) for c, cs in opening if cs.sentences]
                vectors = np.stack([v for _, v in held]) if held else np.zeros((0, 0), np.float32)
                self._titles = ([source for source, _ in held], vectors)
        names, vectors = self._titles
        if not names:
            return []
        similarity = vectors @ self.embedder.embed_query(text)
        return sorted(zip(names, map(float, similarity)), key=lambda pair: -pair[1])

    def keyword_sources(self, text: str, k: int) -> list[tuple[str, float]]:
        """The documents of the k best passages by keyword search, with the passages' BM25 scores."""
        hits = self.keywords.search(text, k)
        found = {c.id: c.source for c in self.store.get([self.keywords.ids[i] for i, _ in hits])}
        return [(found[cid], score) for i, score in hits if (cid := self.keywords.ids[i]) in found]

    def signals(
        self, question: str, k: int, mode: str = "hybrid"
    ) -> tuple[dict[str, Chunk], dict[str, float], dict[str, float], dict[str, float]]:
        """The candidate chunks of a search and what each search says of them: dense cosine (the best
        k of each script), BM25 score (the best k), best sentence similarity (hybrid only)."""
        dense: dict[str, float] = {}
        keyword: dict[str, float] = {}
        sentence: dict[str, float] = {}
        chunks: dict[str, Chunk] = {}
        vector = self.embedder.embed_query(question) if mode in ("hybrid", "dense") else None
        if vector is not None:
            depth = k * SCRIPT_DEPTH if mode == "hybrid" else k
            kept = {True: 0, False: 0}
            for chunk, cosine in self.store.query(vector, depth):
                script = chinese_text(chunk.text)
                if kept[script] < k:
                    kept[script] += 1
                    chunks[chunk.id] = chunk
                    dense[chunk.id] = cosine
        if mode in ("hybrid", "bm25"):
            for index, score in self.keywords.search(question, k):
                keyword[self.keywords.ids[index]] = score
            for chunk in self.store.get([cid for cid in keyword if cid not in chunks]):
                chunks[chunk.id] = chunk
            keyword = {cid: score for cid, score in keyword.items() if cid in chunks}
        if vector is not None and self.sentences is not None and mode == "hybrid":
            sentence = dict(zip(chunks, self.sentences.best(list(chunks.values()), vector)))
        return chunks, dense, keyword, sentence

    def retrieve(self, question: str, k: int = 5, mode: str = "hybrid") -> list[Passage]:
        """The k best passages for the question."""
        if mode not in MODES:
            raise InputError(f"Unknown retrieval mode {mode!r}; choose one of: {', '.join(MODES)}")
        if k < 1:
            raise InputError(f"k must be at least 1, not {k}")
        chunks, dense, keyword, sentence = self.signals(question, max(CANDIDATES, k), mode)
        if mode == "hybrid":
            ordered = list(chunks.values())
            rows = ranker_features(question, ordered, dense, keyword, sentence)
            score = dict(zip(chunks, map(float, self.ranker.probability(rows, RANKER_FEATURES))))
        else:
            score = dense if mode == "dense" else keyword
        best = sorted(score, key=lambda cid: -score[cid])[:k]
        return [
            Passage(
                id=cid,
                source=chunks[cid].source,
                text=chunks[cid].text,
                score=round(score[cid], 6),
                start_line=chunks[cid].start_line,
                end_line=chunks[cid].end_line,
                line_numbers=chunks[cid].line_numbers,
                dense=round(dense.get(cid, 0.0), 6),
                keyword=round(keyword.get(cid, 0.0), 6),
                title=chunks[cid].title,
            )
            for cid in best
        ]
