"""Reliability suite: counters the property tests record, and a summary line per property at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings

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


@dataclass
class Counter:
    """Inputs a property was tried on, and how many of them raised an unexpected error."""

    tried: int = 0
    errors: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


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
    """`with record("property name") as counter:` around one example; `counter.outcomes` for detail."""
    return _record


def note(counter: Counter, outcome: str) -> None:
    counter.outcomes[outcome] = counter.outcomes.get(outcome, 0) + 1


@pytest.fixture(scope="session")
def outcome() -> Callable[[Counter, str], None]:
    """`outcome(counter, "answer")`: count what an example ended as."""
    return note


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _STATS:
        return
    terminalreporter.section("reliability properties")
    for name, counter in _STATS.items():
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counter.outcomes.items()))
        terminalreporter.write_line(
            f"{name}: {counter.tried} inputs tried, {counter.errors} errors"
            + (f" ({detail})" if detail else "")
        )
