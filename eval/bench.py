"""Benchmark of the everyday paths; prints numbers (no assertions).

    python eval/bench.py [--cold] [--chroma-server]

1. first run: a new process indexes the bundled corpus into an empty RAG_HOME and answers once
   (with the shipped vectors; `--cold` also times it with an empty embedding cache, i.e. every
   chunk embedded on this machine);
2. warm `ask` latency p50/p95 over every question in eval/qa.jsonl and eval/dev.jsonl, each asked
   once in one warmed-up process;
3. a second process on the same RAG_HOME: time from start to its first answer, through the API
   (`Assistant().ask`) and through the command line (`rag ask`, the median of `--runs` runs); the
   latter is also given as a multiple of `python -c pass` (the interpreter's own start, measured in
   the same run), so that figures from machines of different speed or load can be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
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


def _median_run(command: list[str], home: Path, runs: int, extra_env: dict[str, str] | None = None) -> float:
    """Median wall time of `runs` runs of a command (output discarded)."""
    env = {**os.environ, "RAG_HOME": str(home), **(extra_env or {})}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextmanager
def _chroma_server(folder: Path) -> Iterator[str]:
    """A `chroma run` server on a free port of 127.0.0.1 over `folder`, once it answers; its URL."""
    chroma = Path(sys.executable).parent / "chroma"
    command = str(chroma) if chroma.exists() else shutil.which("chroma")
    if command is None:
        sys.exit("the chroma command (installed with chromadb) is not found")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [command, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as reply:
                    reply.read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"chroma run did not start (exit {server.poll()})")
                time.sleep(0.1)
        yield url
    finally:
        server.kill()
        server.wait()


def _server_mode(runs: int) -> dict[str, float]:
    """`rag ask` in new processes against a local Chroma server (see the module docstring)."""
    report: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, _chroma_server(Path(tmp) / "chroma") as url:
        home, env = Path(tmp) / "home", {"RAG_CHROMA_URL": url}
        report["server_first_run_s"] = _process(home, env)  # indexes the bundled articles, answers
        report["server_second_process_s"] = _process(home, env)
        report["python_pass_s"] = _median_run([sys.executable, "-c", "pass"], home, runs)
        cli = [sys.executable, "-m", "rag", "ask", QUESTION]
        report["server_rag_ask_cli_s"] = _median_run(cli, home, runs, env)
        report["server_rag_ask_cli_x_python"] = report["server_rag_ask_cli_s"] / report["python_pass_s"]
    return report


def _print(report: dict[str, float]) -> None:
    for key, value in report.items():
        print(f"{key:28s} {value:10.3f}" if isinstance(value, float) else f"{key:28s} {value:10d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also time a first run that embeds everything")
    parser.add_argument("--runs", type=int, default=5, help="runs of `rag ask` and `python -c pass` (median)")
    parser.add_argument(
        "--chroma-server", action="store_true", help="measure `rag ask` against a local `chroma run` instead"
    )
    args = parser.parse_args()
    if args.chroma_server:
        _print(_server_mode(args.runs))
        return
    report: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        report["first_run_s"] = _process(home)
        report["second_process_s"] = _process(home)
        report["python_pass_s"] = _median_run([sys.executable, "-c", "pass"], home, args.runs)
        cli = [sys.executable, "-m", "rag", "ask", QUESTION]
        report["rag_ask_cli_s"] = _median_run(cli, home, args.runs)
        report["rag_ask_cli_x_python"] = report["rag_ask_cli_s"] / report["python_pass_s"]
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
        assistant.ask("How much power does it need?")  # and the English-Chinese lexicon (made once per home)
        times = []
        for question in questions:
            start = time.perf_counter()
            assistant.ask(question)
            times.append((time.perf_counter() - start) * 1000)
        report["warm_ask_questions"] = len(times)
        report["warm_ask_p50_ms"] = statistics.median(times)
        report["warm_ask_p95_ms"] = _percentile(times, 0.95)
        report["warm_ask_max_ms"] = max(times)
    _print(report)


if __name__ == "__main__":
    main()
