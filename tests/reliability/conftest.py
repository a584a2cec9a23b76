"""Reliability suite: what each check tried, injected and lost, summed up in a table at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, settings

from tests.support.figures import Counter

# Every property: 200 examples, the same ones each run (CI is deterministic), no per-example deadline.
# The autouse network guard in tests/conftest.py is function-scoped, which Hypothesis would flag.
settings.register_profile(
    "reliability",
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
settings.load_profile("reliability")


_STATS: dict[str, Counter] = {}


@contextmanager
def _record(name: str) -> Iterator[Counter]:
    counter = _STATS.setdefault(name, Counter())
    counter.tried += 1
    try:
        yield counter
    except BaseException:
        counter.errors += 1
        raise


@pytest.fixture(scope="session")
def record() -> Callable[..., object]:
    """`with record("check name") as counter:` around one input; an exception counts as an error.
    Set `counter.faults`, `.lost`, `.duplicated` and `.outcomes[...]` inside."""
    return _record


def note(counter: Counter, outcome: str) -> None:
    value = counter.outcomes.get(outcome, 0)
    counter.outcomes[outcome] = value + 1 if isinstance(value, int) else 1


@pytest.fixture(scope="session")
def outcome() -> Callable[[Counter, str], None]:
    """`outcome(counter, "answer")`: count what an input ended as."""
    return note


def _detail(counter: Counter) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.outcomes.items()))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _STATS:
        return
    terminalreporter.section("reliability figures")
    fields = ("tried", "faults", "errors", "lost", "duplicated")
    rows = [("check", "inputs", "faults", "errors", "lost chunks", "duplicated chunks", "detail")]
    for name, c in _STATS.items():
        rows.append((name, *(str(getattr(c, f)) for f in fields), _detail(c)))
    rows.append(("total", *(str(sum(getattr(c, f) for c in _STATS.values())) for f in fields), ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        terminalreporter.write_line("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |")
        if i == 0:
            terminalreporter.write_line("|" + "|".join("-" * (w + 2) for w in widths) + "|")
