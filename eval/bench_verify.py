"""Latency of citation verification per answer (no network, no model, no index): prints p50/p95.

    python eval/bench_verify.py [--repeat 20]

For every answerable question in eval/qa.jsonl it takes the chunks of the bundled articles that
hold the question's quotes plus distractor chunks of the same articles (8 passages, as the LLM
path sends by default), writes an answer that cites the quoting sentences, adds a sentence with a
wrong figure and one without a marker, and times `rag.verification.citations.verify` on it. It also times
the public `rag.verify` on 5-passage, 5-sentence answers (the first five of those passages, and
five sentences of them, one with a wrong figure), the size the README's latency target is set for.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rag.ingest.bundled import bundled_files
from rag.ingest.chunk import chunk_document
from rag.ingest.load import read_document
from rag.schema import Passage
from rag.text.clean import fold
from rag.verification.citations import _evidence, passage_sentences, verify
from rag.verification.claims import _claim_facts
from rag.verification.reply import verify as public_verify
from rag.verification.swaps import sentence_names

HERE = Path(__file__).resolve().parent
PASSAGES = 8


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _passages() -> dict[str, list[Passage]]:
    out: dict[str, list[Passage]] = {}
    for path in bundled_files():
        out[path.name] = [
            Passage(c.id, c.source, c.text, 0.0, c.start_line, c.end_line, c.line_numbers)
            for c in chunk_document(read_document(path))
        ]
    return out


def build_answers() -> list[tuple[str, list[Passage]]]:
    """(answer text, passages) for every answerable question whose quotes are found in the chunks."""
    corpus = _passages()
    answers = []
    for line in (HERE / "qa.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if not item["answerable"]:
            continue
        chunks = [p for source in item["sources"] for p in corpus[source]]
        holding = [p for p in chunks if any(fold(q)[:12] in fold(p.text) for q in item["quotes"])]
        if not holding:
            continue
        passages = (holding + [p for p in chunks if p not in holding][:PASSAGES])[:PASSAGES]
        parts = []
        for number, passage in enumerate(holding, start=1):
            best = next(
                (s for s in passage_sentences(passage) for q in item["quotes"] if fold(q)[:12] in s.folded),
                passage_sentences(passage)[0],
            )
            parts.append(f"{best.text}[{number}]")
        parts.append("这座工厂的造价为987亿美元[1]。")  # a figure no passage holds
        parts.append(passage_sentences(passages[-1])[0].text)  # cites nothing: inferred
        answers.append(("".join(parts), passages))
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="timings per answer (default 20)")
    args = parser.parse_args()
    answers = build_answers()
    verify(*answers[0])  # warm-up: jieba's dictionary, regex compilation
    timings: list[float] = []
    supported = claims = 0
    for text, passages in answers:
        for _ in range(args.repeat):
            _claim_facts.cache_clear()
            _evidence.cache_clear()
            sentence_names.cache_clear()
            start = time.perf_counter()
            checked = verify(text, passages)
            timings.append((time.perf_counter() - start) * 1000)
        supported, claims = supported + checked.supported, claims + checked.claims
    cold: list[float] = []  # passages and sentences never seen before (caches emptied)
    warm: list[float] = []  # the same answer again: passages and sentences already read
    for _, passages in answers:
        five = passages[:5]
        sentences = [s for p in five for s in passage_sentences(p)[:1]]
        answer = "".join(f"{s.text}[{n}]" for n, s in enumerate(sentences[:4], start=1))
        answer += "这座工厂的造价为987亿美元[1]。"
        for _ in range(args.repeat):
            _claim_facts.cache_clear()
            _evidence.cache_clear()
            sentence_names.cache_clear()
            start = time.perf_counter()
            public_verify(answer, five)
            cold.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            public_verify(answer, five)
            warm.append((time.perf_counter() - start) * 1000)
    report = {
        "answers": len(answers),
        "timings": len(timings),
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(_percentile(timings, 0.95), 2),
        "max_ms": round(max(timings), 2),
        "sentences_supported": f"{supported}/{claims}",
        "five_by_five_cold_p50_ms": round(statistics.median(cold), 2),
        "five_by_five_cold_p95_ms": round(_percentile(cold, 0.95), 2),
        "five_by_five_warm_p50_ms": round(statistics.median(warm), 2),
        "five_by_five_warm_p95_ms": round(_percentile(warm, 0.95), 2),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
