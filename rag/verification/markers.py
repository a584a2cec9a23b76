"""Citation markers in answers (`[1]`, `[1, 3]`, `[2-4]`, `【1】`) and an answer's sentence spans."""

from __future__ import annotations

import re

from rag.text.han import HAN

# A citation marker and the spaces before it (words in any case by inline flags: embeddable)
MARKER = re.compile(
    r"[ \t]*[\[【［]\s*(?:(?i:passages?|sources?|资料|段落|来源)\s*)?"
    r"(\d{1,3}(?:\s*(?:[,，、;；]|[-–~～])\s*(?:(?i:passages?|sources?|资料|段落)\s*)?\d{1,3})*)\s*[\]】］]"
)
_BOUNDARY = re.compile(rf"(?:[。！？!?；;]+|…+|\.(?=\s|$|[\[【［{HAN}]))[”’」』\"')）]*|\n")
LIST_NUMBER = re.compile(r"^\s*(?:\d{1,2}|[a-z])[.)]\s*$", re.IGNORECASE)


def marker_numbers(marker: re.Match[str]) -> tuple[int, ...]:
    """The passage numbers one citation marker (a match of MARKER) names, ranges spelled out."""
    numbers: list[int] = []
    for part in re.finditer(r"(\d+)(?:\s*[-–~～]\s*(?:\D*?)(\d+))?", marker.group(1)):
        first = int(part.group(1))
        last = int(part.group(2)) if part.group(2) else first
        span = range(first, last + 1) if first <= last <= first + 20 else [first, last]
        numbers.extend(n for n in span if n not in numbers)
    return tuple(numbers)


def parse_markers(text: str) -> list[tuple[int, ...]]:
    """The passage numbers named by each citation marker (`[n]`, `[n, m]`, `[n-m]`, `【n】`), in order."""
    return [marker_numbers(m) for m in MARKER.finditer(text)]


def strip_markers(text: str, gap: str = "") -> str:
    """The text without its citation markers (and the spaces before them), `gap` in their place."""
    return MARKER.sub(gap, text)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) of an answer; markers right after a sentence end belong to it."""
    spans: list[tuple[int, int]] = []
    start = pos = 0
    while pos < len(text):
        m = _BOUNDARY.search(text, pos)
        end = m.end() if m else len(text)
        while (marker := MARKER.match(text, end)) is not None:
            end = marker.end()
        pos = max(end, pos + 1)
        if LIST_NUMBER.match(text[start:end]) and end < len(text):
            continue  # "1." opening a list item stays with its sentence
        if text[start:end].strip():
            spans.append((start, end))
        start = end
    return spans
