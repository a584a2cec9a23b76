"""Load: 50 questions asked at once, through the Python API and through the Gradio server.

The reference is the same 50 questions answered one after another by the session's assistant;
every answer given under load must be identical to it. Latencies (p50/p95, ms) of both runs go
into the reliability figures.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from rag import Assistant
from rag.schema import Answer
from tests.support import ROOT
from tests.support.net import serve

pytestmark = pytest.mark.reliability

USERS = 50
MODES = ("hybrid", "dense", "bm25")
K = 5
TIMEOUT = 120.0  # seconds one ask may take under load before it counts as lost

Record = Callable[..., Any]
Outcome = Callable[[Any, str], None]


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    lang: str
    answerable: bool
    mode: str


def questions() -> list[Question]:
    """50 eval questions, the same each run: taken in turn from the four groups (Chinese / English,
    answerable / not) in file order, and given a retrieval mode in turn."""
    rows = [
        json.loads(line)
        for name in ("qa.jsonl", "dev.jsonl")
        for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    groups: dict[tuple[str, bool], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["lang"], bool(row["answerable"])), []).append(row)
    queues = [groups[key] for key in sorted(groups)]
    chosen: list[dict[str, Any]] = []
    while len(chosen) < USERS and any(queues):
        for queue in queues:
            if queue and len(chosen) < USERS:
                chosen.append(queue.pop(0))
    return [
        Question(r["id"], r["question"], r["lang"], bool(r["answerable"]), MODES[i % len(MODES)])
        for i, r in enumerate(chosen)
    ]


QUESTIONS = questions()


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def put_latencies(counter: Any, label: str, seconds: list[float]) -> None:
    counter.outcomes[f"{label} p50 ms"] = round(percentile(seconds, 0.50) * 1000, 1)
    counter.outcomes[f"{label} p95 ms"] = round(percentile(seconds, 0.95) * 1000, 1)


def all_at_once(work: Callable[[int], Any]) -> tuple[list[Any], list[float]]:
    """Run work(i) for every question from its own thread, all released together by a barrier.
    Returns each result (or the exception it raised) and each call's latency in seconds."""
    barrier = threading.Barrier(USERS, timeout=60)
    results: list[Any] = [None] * USERS
    latency = [math.nan] * USERS

    def one(i: int) -> None:
        barrier.wait()
        start = time.perf_counter()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        latency[i] = time.perf_counter() - start

    with ThreadPoolExecutor(max_workers=USERS) as pool:
        futures = [pool.submit(one, i) for i in range(USERS)]
        for future in futures:
            future.result(timeout=TIMEOUT)
    return results, latency


@dataclass
class Reference:
    answers: list[Answer]
    seconds: list[float]


@pytest.fixture(scope="module")
def reference(assistant: Assistant, record: Record, outcome: Outcome) -> Reference:
    """The 50 answers given one at a time (query vectors forgotten, so each ask embeds its question)."""
    assistant.embedder.embed_query("warm-up: load the embedding model")
    answers: list[Answer] = []
    seconds: list[float] = []
    for q in QUESTIONS:
        with record("load: API, sequential reference") as counter:
            forget(assistant, q.text)
            start = time.perf_counter()
            answers.append(assistant.ask(q.text, k=K, mode=q.mode))
            seconds.append(time.perf_counter() - start)
            outcome(counter, "abstained" if answers[-1].abstained else "answered")
    put_latencies(counter, "API", seconds)
    return Reference(answers, seconds)


def forget(assistant: Assistant, question: str) -> None:
    forget_query = getattr(assistant.embedder, "forget", None)
    if forget_query is not None:
        forget_query(question)


def test_the_questions_mix_languages_and_answerability() -> None:
    assert len(QUESTIONS) == USERS and len({q.id for q in QUESTIONS}) == USERS
    kinds = {(q.lang, q.answerable) for q in QUESTIONS}
    assert kinds == {("zh", True), ("zh", False), ("en", True), ("en", False)}
    assert {q.mode for q in QUESTIONS} == set(MODES)


def compare(
    name: str,
    results: list[Any],
    expected: list[Any],
    same: Callable[[Any, Any], bool],
    record: Record,
    outcome: Outcome,
) -> tuple[list[str], list[str], Any]:
    """Count each input under `name`: the questions that failed, the ids of those whose answer
    differs, and the counter of `name`."""
    failed: list[str] = []
    differ: list[str] = []
    for q, got, want in zip(QUESTIONS, results, expected):
        with record(name) as counter:
            if got is None or isinstance(got, BaseException):
                counter.errors += 1
                failed.append(f"{q.id}: {got!r}")
                outcome(counter, "failed")
            elif not same(got, want):
                differ.append(q.id)
                outcome(counter, "differs")
            else:
                outcome(counter, "identical")
    return failed, differ, counter


def check_api_load(
    subject: Assistant, name: str, reference: Reference, record: Record, outcome: Outcome
) -> None:
    for q in QUESTIONS:
        forget(subject, q.text)
    wall = time.perf_counter()
    results, seconds = all_at_once(lambda i: subject.ask(QUESTIONS[i].text, k=K, mode=QUESTIONS[i].mode))
    wall = time.perf_counter() - wall
    failed, differ, counter = compare(
        name, results, reference.answers, lambda a, b: a.to_dict() == b.to_dict(), record, outcome
    )
    put_latencies(counter, "sequential", reference.seconds)
    put_latencies(counter, "load", seconds)
    counter.outcomes["wall s"] = round(wall, 2)
    assert not failed, failed
    first = [
        (q.id, ref.to_dict(), got.to_dict())
        for q, ref, got in zip(QUESTIONS, reference.answers, results)
        if q.id in differ
    ][:2]
    assert not differ, f"{len(differ)} answers under load differ from the sequential ones: {differ}; {first}"


def test_fifty_threads_get_the_sequential_answers_from_a_fresh_assistant(
    assistant: Assistant, reference: Reference, record: Record, outcome: Outcome
) -> None:
    """A second assistant on the same knowledge base with nothing cached in memory yet (query
    vectors, sentence vectors), as after a restart: its first 50 questions all arrive together."""
    fresh = Assistant(assistant.settings, show_progress=False)
    fresh.embedder.embed_query("warm-up: load the embedding model")
    check_api_load(fresh, "load: API, 50 threads, fresh assistant", reference, record, outcome)


def test_fifty_threads_get_the_sequential_answers_from_a_warm_assistant(
    assistant: Assistant, reference: Reference, record: Record, outcome: Outcome
) -> None:
    check_api_load(assistant, "load: API, 50 threads, warm assistant", reference, record, outcome)


# -- through the Gradio server --------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(assistant: Assistant) -> Iterator[str]:
    """The web app on the session's assistant, served for real on 127.0.0.1."""
    pytest.importorskip("gradio")
    app, url = serve(assistant)
    yield url
    app.close()


def reply_html(result: Any) -> str:
    """The assistant message of an /ask result, with its per-message id replaced by "MSG"."""
    box, chat, status = result
    assert box == "" and status == "" and len(chat) == 2, result
    parts = chat[-1]["content"]
    body = "".join(p["text"] for p in parts) if isinstance(parts, list) else str(parts)
    found = re.search(r'id="rag-([0-9a-f]+)"', body)
    assert found, body
    return body.replace(f"rag-{found.group(1)}", "rag-MSG")


def ask(client: Any, q: Question) -> str:
    job = client.submit(q.text, [], K, q.mode, api_name="/ask")
    return reply_html(job.result(timeout=TIMEOUT))


def test_fifty_gradio_clients_get_the_sequential_answers(
    served: str, reference: Reference, record: Record, outcome: Outcome
) -> None:
    """50 users of the web UI, each with a client of its own, send their question at the same moment;
    every reply is the rendering of the API's sequential answer (text, markers, sources, lines,
    quotes), and so is every reply to the same questions asked one at a time through the server."""
    from gradio_client import Client

    from rag.app.render import render_answer

    expected = [render_answer(a, "MSG") for a in reference.answers]
    one = Client(served, verbose=False)
    one.predict(QUESTIONS[0].text, [], K, QUESTIONS[0].mode, api_name="/ask")  # the server's first request
    sequential: list[Any] = []
    seconds: list[float] = []
    for q in QUESTIONS:
        start = time.perf_counter()
        try:
            sequential.append(ask(one, q))
        except Exception as exc:
            sequential.append(exc)
        seconds.append(time.perf_counter() - start)

    setup = time.perf_counter()
    with ThreadPoolExecutor(max_workers=USERS) as pool:
        clients = list(pool.map(lambda _: Client(served, verbose=False), range(USERS)))
    setup = time.perf_counter() - setup
    wall = time.perf_counter()
    results, load_seconds = all_at_once(lambda i: ask(clients[i], QUESTIONS[i]))
    wall = time.perf_counter() - wall

    seq_failed, seq_differ, _ = compare(
        "load: Gradio, sequential", sequential, expected, str.__eq__, record, outcome
    )
    failed, differ, counter = compare(
        "load: Gradio, 50 clients", results, expected, str.__eq__, record, outcome
    )
    put_latencies(counter, "sequential", seconds)
    put_latencies(counter, "load", load_seconds)
    counter.outcomes["client setup s"] = round(setup, 2)
    counter.outcomes["wall s"] = round(wall, 2)
    assert not seq_failed and not failed, (seq_failed, failed)
    assert not seq_differ, f"sequential replies differ from the API's answers: {seq_differ}"
    assert not differ, f"replies under load differ from the sequential answers: {differ}"
