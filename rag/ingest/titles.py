"""Document titles, for people: what a citation, `rag docs` and the UI show next to the file name.

A title is taken, in this order, from:

1. the document's own title: an HTML page's ``<title>`` (else its first ``<h1>``), a Markdown or
   text file's front-matter ``title:`` or first level-1 heading (``# …``);
2. its first meaningful line after cleaning (spam, navigation and other page furniture are already
   gone): bylines, dates, links and lines without words are passed over, and a long line gives its
   first sentence;
3. the file name.

A site name after a separator ("… | 前沿在线", "… - Example News") is dropped from 1 and 2.
Titles are metadata: they are stored with the chunks but never embedded or indexed.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from rag.schema import Document
from rag.text.clean import clean_line
from rag.text.han import HAN

MAX_CHARS = 80  # a longer title is cut at a sentence end, else here, with "…"
HEAD_BYTES = 256 * 1024  # titles are found near the top: no need to read a whole file again

_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_HTML_H1 = re.compile(r"<h1[^>]*>(.*?)</h1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_FRONT_TITLE = re.compile(r"^title\s*:\s*(.+)$", re.MULTILINE | re.IGNORECASE)
_MD_H1 = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", re.MULTILINE)
# "文 | 王智远", "作者：…", "来源 |…", "By Jane Doe", "Published: 2024-05-01": who wrote it, where and when
_BYLINE = re.compile(
    r"^\s*(?:文|图|圖|撰文|作者|文章作者|来源|來源|编辑|編輯|责编|責編|编者|出品|策划|策劃|发布时间|發布時間|"
    r"发布地|發布地|原文链接|原文鏈接|封面图链接|封面圖鏈接|by|author|authors|source|posted|published|"
    r"updated|date)\s*[|｜丨:：/]|^\s*by\s+\S",
    re.IGNORECASE,
)
_DATE = re.compile(r"^[\d\s年月日号號:：/.\-–—,，]+$")
_WORDS = re.compile(rf"[{HAN}A-Za-z]")
_URL = re.compile(r"https?://|www\.", re.IGNORECASE)
# separators between a title and the site it is on
_SITE = re.compile(rf"\s+[|｜丨\-–—_]\s+|\s*[｜丨]\s*|_(?=[{HAN}])")
_SENTENCE_END = re.compile(r"[。！？!?；;]|\.(?=\s)")


def _without_site(text: str) -> str:
    """ "Title | Site" → "Title": a short last segment after a separator is taken for a site name."""
    text = text.strip()
    while matches := list(_SITE.finditer(text)):
        last = matches[-1]
        head, tail = text[: last.start()].strip(), text[last.end() :].strip()
        if not (len(tail) <= 12 and len(head) >= 6):
            break
        text = head
    return text


def _shorten(text: str) -> str:
    """One sentence of at most MAX_CHARS: a line of several sentences gives its first, a longer one
    is cut at the limit."""
    text = " ".join(text.split())
    end = _SENTENCE_END.search(text)
    if end and end.end() < len(text) and end.start() >= 8:
        text = text[: end.end()].rstrip("。；;. ")
    if len(text) <= MAX_CHARS:
        return text
    return text[: MAX_CHARS - 1].rstrip() + "…"


def tidy(text: str) -> str:
    """A candidate title cleaned (markup, entities, site name, length); "" when nothing is left."""
    text = clean_line(html.unescape(_TAG.sub(" ", text))).strip().strip("\"'“”「」《》")
    text = _without_site(" ".join(text.split()))
    return _shorten(text) if _meaningful(text) else ""


def _meaningful(line: str) -> bool:
    line = line.strip()
    if len(line) < 4 or not _WORDS.search(line) or _URL.search(line):
        return False
    return not (_BYLINE.search(line) or _DATE.match(line))


def declared_title(suffix: str, raw: str) -> str:
    """The title a file declares: HTML <title> or first <h1>; front-matter `title:` or first `# `
    heading of Markdown (of text: among its first three lines); "" when it declares none."""
    suffix = suffix.lower()
    candidates: list[str] = []
    if suffix in (".html", ".htm"):
        candidates = [m.group(1) for pattern in (_HTML_TITLE, _HTML_H1) if (m := pattern.search(raw))]
    elif suffix in (".md", ".markdown", ".txt"):
        front = _FRONT_MATTER.match(raw)
        if front and (m := _FRONT_TITLE.search(front.group(1))):
            candidates.append(m.group(1))
        body = raw[front.end() if front else 0 :]
        if suffix == ".txt":  # a plain text file's "# " line is a heading only at its top
            body = "\n".join([line for line in body.splitlines() if line.strip()][:3])
        if m := _MD_H1.search(body):
            candidates.append(m.group(1))
    for candidate in candidates:
        title = tidy(candidate)
        if title:
            return title
    return ""


def first_line_title(doc: Document) -> str:
    """The first meaningful line of the cleaned document, tidied ("" when there is none)."""
    for line in doc.lines[:40]:
        title = tidy(line.text)
        if title:
            return title
    return ""


def _head(path: Path) -> str:
    from rag.ingest.formats import decode

    try:
        with open(path, "rb") as handle:
            data = handle.read(HEAD_BYTES)
        return decode(data)
    except Exception:  # the title is a nicety: a file that reads oddly still gets one below
        return ""


def document_title(doc: Document, path: Path | None = None) -> str:
    """The title of a loaded document (see the module docstring); never empty."""
    path = path or Path(doc.path)
    title = ""
    if path.suffix.lower() in (".html", ".htm", ".md", ".markdown", ".txt"):
        title = declared_title(path.suffix, _head(path))
    return title or first_line_title(doc) or doc.source


def display_title(title: str, source: str) -> str:
    """The title to show for a document: its own, else its file name (knowledge bases indexed
    before titles existed have none)."""
    return title.strip() or source
