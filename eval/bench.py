"""Benchmark of the everyday paths; prints numbers (no assertions).

    python eval/bench.py [--cold]

1. first run: a new process indexes the bundled corpus into an empty RAG_HOME and answers once
   (with the shipped vectors; `--cold` also times it with an empty embedding cache, i.e. every
   chunk embedded on this machine);
2. warm `ask` latency p50/p95 over every question in eval/qa.jsonl and eval/dev.jsonl, each asked
   once in one warmed-up process;
3. a second process on the same RAG_HOME: time from start to its first answer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUESTION = "软银和英伟达在日本建设的AI工厂有多少算力？"
FIRST = (
    "import time, sys; t = time.perf_counter(); from rag import Assistant; "
    "a = Assistant(show_progress=False); a.ask(sys.argv[1]); print(time.perf_counter() - t)"
)


def _process(home: Path, extra_env: dict[str, str] | None = None) -> float:
    """Wall time of a new process that opens the assistant and answers one question."""
    env = {**os.environ, "RAG_HOME": str(home), **(extra_env or {})}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", FIRST, QUESTION], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also time a first run that embeds everything")
    args = parser.parse_args()
    report: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        report["first_run_s"] = _process(home)
        report["second_process_s"] = _process(home)
        if args.cold:
            cold = Path(tmp) / "cold"
            report["first_run_cold_s"] = _process(cold, {"RAG_NO_BUNDLED_VECTORS": "1"})

        os.environ["RAG_HOME"] = str(home)
        from rag import Assistant

        assistant = Assistant(show_progress=False)
        questions = [
            json.loads(line)["question"]
            for name in ("qa.jsonl", "dev.jsonl")
            for line in (HERE / name).read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        assistant.ask("热身")  # load models once
        times = []
        for question in questions:
            start = time.perf_counter()
            assistant.ask(question)
            times.append((time.perf_counter() - start) * 1000)
        report["warm_ask_questions"] = len(times)
        report["warm_ask_p50_ms"] = statistics.median(times)
        report["warm_ask_p95_ms"] = _percentile(times, 0.95)
        report["warm_ask_max_ms"] = max(times)
    for key, value in report.items():
        print(f"{key:22s} {value:10.3f}" if isinstance(value, float) else f"{key:22s} {value:10d}")


if __name__ == "__main__":
    main()
