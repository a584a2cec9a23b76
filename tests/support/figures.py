"""The reliability suite's figures: what each check tried, injected and lost."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Counter:
    """One check's figures: inputs tried, faults injected, unexpected errors, chunks lost or duplicated,
    and free-form outcomes (e.g. "abstained 12", "p95 ms 140")."""

    tried: int = 0
    faults: int = 0
    errors: int = 0
    lost: int = 0
    duplicated: int = 0
    outcomes: dict[str, int | float | str] = field(default_factory=dict)
