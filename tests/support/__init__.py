"""Helpers the test modules share: import them from here (`tests.support.<module>`), never from a
test module."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
