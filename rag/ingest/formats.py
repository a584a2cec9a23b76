"""Document formats: plain text, Markdown, HTML, PDF and DOCX to numbered, cleaned lines.

Every format ends as `(number, text)` lines that go through the same cleaning
(`rag.text.clean.clean_document`) and chunking. What the number of a `Line` — and so a citation's
`start_line`/`end_line` — means depends on the format:

- ``.txt``, ``.md``, ``.markdown``: the 1-based line number in the decoded file.
- ``.html``, ``.htm``: the 1-based line of the HTML source where the paragraph's text starts. The
  main text is extracted with trafilatura (navigation, headers, footers and other boilerplate
  dropped), one paragraph, heading, list item or table row a line, and each line is found again in
  the source text (tags, scripts and entities aside); a line that cannot be found takes the number
  of the line before it.
- ``.pdf``: the 1-based **page** number. Each extracted text line is a `Line` carrying its page's
  number (lines soft-wrapped on a page are joined into one), so a span "lines 3-4" means pages 3-4.
- ``.docx``: the 1-based **paragraph** index among the document's body paragraphs (empty ones
  counted, as python-docx lists them). Table cells and headers/footers are not read.

Text formats are decoded from UTF-8 (with or without BOM) or UTF-16/32 with a BOM, else from the
encoding charset-normalizer detects (GB18030, Big5, …); text that is UTF-8 but for a few damaged
bytes stays UTF-8 (the damaged bytes are dropped). HTML is decoded first as UTF-8, then from a
declared ``<meta charset>`` when the bytes decode with it, else by detection.

The work spent on one file is bounded (`Budget`): its extracted text may hold at most
`MAX_DOCUMENT_CHARS` characters (a .docx is refused before unpacking when its document part is
over `MAX_UNPACKED_MB`), and reading, cleaning, chunking and embedding it may take at most
`MAX_FILE_SECONDS`; a file over either limit is skipped with the reason.
"""

from __future__ import annotations

import codecs
import html
import io
import logging
import re
import time
import zipfile
from collections.abc import Callable

from rag.config import MAX_DOCUMENT_CHARS, MAX_FILE_SECONDS, MAX_UNPACKED_MB
from rag.schema import Line
from rag.text.clean import clean_document
from rag.text.han import HAN
from rag.text.sentences import continues

Numbered = list[tuple[int, str]]
# Undecodable bytes a UTF-8 text may hold and still be read as UTF-8 (damage, not another encoding):
# at most one per this many characters decoded well (a byte inserted in a character spoils up to four).
_DAMAGE_RATIO = 20
_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class SkippedFile(Exception):
    """A file that cannot be ingested; the message says why."""


class Budget:
    """The work one file may cost: characters of extracted text, and seconds of work (counted only
    while the clock runs: `start`/`pause`), checked between steps with `check`."""

    def __init__(self, seconds: float = MAX_FILE_SECONDS, chars: int = MAX_DOCUMENT_CHARS) -> None:
        self.seconds = seconds
        self.chars = chars
        self._spent = 0.0
        self._since: float | None = None

    def start(self) -> Budget:
        """Run the clock (again)."""
        if self._since is None:
            self._since = time.monotonic()
        return self

    def pause(self) -> None:
        """Stop the clock while other files are worked on."""
        if self._since is not None:
            self._spent += time.monotonic() - self._since
            self._since = None

    def spent(self) -> float:
        """Seconds of work so far."""
        running = time.monotonic() - self._since if self._since is not None else 0.0
        return self._spent + running

    def check(self, *_: object, ahead: float = 0.0) -> None:
        """Raise SkippedFile once the time is up, or would be after `ahead` more seconds of work
        (takes and ignores a progress count)."""
        if self.spent() + ahead > self.seconds:
            raise SkippedFile(
                f"it took longer than the {self.seconds:g} s allowed for one file, so it was left out "
                "(for a long document, raise RAG_MAX_FILE_SECONDS and ingest again: the part already "
                "embedded is not redone)"
            )

    def text(self, length: int) -> None:
        """Raise SkippedFile when the extracted text is over the character limit."""
        if length > self.chars:
            raise SkippedFile(
                f"its text is {length:,} characters long, over the limit of {self.chars:,} "
                "(RAG_MAX_DOCUMENT_CHARS)"
            )


def _with_bom(data: bytes) -> str | None:
    """The text of a UTF-16 or UTF-32 file that starts with its byte order mark, else None."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                body = data[: len(data) - (len(data) - len(bom)) % (2 if codec == "utf-16" else 4)]
                return body.decode(codec, errors="replace")
    return None


def _mostly_utf8(data: bytes) -> str | None:
    """The text of UTF-8 with a few damaged bytes (dropped), or None when the bytes look like another
    encoding: too many bytes do not decode, or nothing but ASCII does."""
    text = data.decode("utf-8-sig", errors="replace")
    damaged = text.count("\ufffd") - data.count("\ufffd".encode())
    wide = sum(1 for c in text if ord(c) > 0x7F and c != "\ufffd")
    if damaged <= 0 or wide < damaged * _DAMAGE_RATIO:
        return None
    return text.replace("\ufffd", "")


def _utf8(data: bytes) -> str | None:
    """The text if the bytes are UTF-8 (with or without BOM, or with a few damaged bytes) or
    UTF-16/32 with a BOM; binary data is refused."""
    text = _with_bom(data)
    if text is not None:
        return text
    if b"\x00" in data[:8192]:
        raise SkippedFile("it looks like a binary file (it contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":  # UTF-8 cut off inside the last character
            return data[: exc.start].decode("utf-8-sig")
        return _mostly_utf8(data)


def decode(data: bytes) -> str:
    """Bytes to text: UTF-8 (with or without BOM), else the encoding charset-normalizer detects."""
    text = _utf8(data)
    if text is not None:
        return text
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise SkippedFile("its text encoding could not be recognised")
    return str(best)


def text_lines(data: bytes) -> Numbered:
    """A text or Markdown file's lines, numbered as in the decoded file."""
    return list(enumerate(decode(data).splitlines(), start=1))


# ---- HTML ------------------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
# Declared names mapped to the codec that decodes what pages labelled so actually contain.
_CODEC_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "big5": "big5hkscs"}


def declared_charset(data: bytes) -> str | None:
    """The charset a page declares in a `<meta>` tag near its start, if any (lowercase)."""
    match = _META_CHARSET.search(data[:8192])
    return match.group(1).decode("ascii").lower() if match else None


def decode_html(data: bytes) -> str:
    """HTML bytes to text: UTF-8, else the declared meta charset if the bytes decode with it, else detect."""
    text = _utf8(data)
    if text is not None:
        return text
    declared = declared_charset(data)
    if declared:
        try:
            return data.decode(_CODEC_ALIASES.get(declared, declared))
        except (LookupError, UnicodeDecodeError):
            pass  # unknown or wrong declaration: detect
    return decode(data)


_SKIPPED_MARKUP = re.compile(
    r"<!--.*?-->|<(script|style|noscript|template|title)\b.*?</\1\s*>|<[^<>]*>", re.S | re.I
)
_NON_WORD = re.compile(r"\W+")
# CJK punctuation, Han and full-width forms: text written without spaces between words
_CJK = rf"\u3000-\u303f{HAN}\uff00-\uffef"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")
_KEY_CHARS = 24


def _source_text(source: str) -> tuple[str, list[int]]:
    """The page's visible word characters in order, with the source line each one is on."""
    parts: list[str] = []
    numbers: list[int] = []
    line, pos = 1, 0
    for match in [*_SKIPPED_MARKUP.finditer(source), None]:
        end = match.start() if match else len(source)
        for i, piece in enumerate(source[pos:end].split("\n")):
            line += 1 if i else 0
            words = _NON_WORD.sub("", html.unescape(piece))
            parts.append(words)
            numbers.extend([line] * len(words))
        if match:
            line += match.group().count("\n")
            pos = match.end()
    return "".join(parts), numbers


def _source_numbers(extracted: list[str], source: str) -> list[int]:
    """For each extracted line, the source line where its text starts (searched in order)."""
    text, numbers = _source_text(source)
    found: list[int] = []
    cursor, previous = 0, 1
    for line in extracted:
        key = _NON_WORD.sub("", line)[:_KEY_CHARS]
        at = text.find(key, cursor) if key else -1
        if at < 0 and key:
            at = text.find(key)  # out of order (trafilatura may move a heading): search from the start
        if at >= 0:
            previous = numbers[at]
            if at >= cursor:
                cursor = at + len(key)
        found.append(previous)
    return found


def html_lines(data: bytes) -> Numbered:
    """The page's main text (boilerplate removed), numbered by the source line each line starts on."""
    import trafilatura

    source = decode_html(data)
    try:
        main = trafilatura.extract(
            source, include_comments=False, include_tables=True, include_images=False, deduplicate=False
        )
    except Exception as exc:  # lxml or trafilatura on malformed markup
        raise SkippedFile(f"its HTML could not be parsed ({type(exc).__name__})") from exc
    if not main:
        raise SkippedFile("no main text could be extracted from the page")
    lines = [_CJK_GAP.sub("", line) for line in main.splitlines()]
    return list(zip(_source_numbers(lines, source), lines))


# ---- PDF -------------------------------------------------------------------------------------------


def _join(left: str, right: str) -> str:
    """Two parts of a soft-wrapped line: CJK joined directly, other text with a space or a dehyphenation."""
    left, right = left.rstrip(), right.lstrip()
    if re.search(rf"[{_CJK}]$", left) and re.match(rf"[{_CJK}]", right):
        return left + right
    if re.search(r"[A-Za-z]-$", left) and right[:1].islower():
        return left[:-1] + right
    return f"{left} {right}"


def _unwrap(lines: list[str]) -> list[str]:
    """Join the lines of one page that were soft-wrapped (long, no end punctuation)."""
    joined: list[str] = []
    for line in (x for x in lines if x.strip()):
        if joined and continues(joined[-1], 1, 2):
            joined[-1] = _join(joined[-1], line)
        else:
            joined.append(line.strip())
    return joined


def pdf_lines(data: bytes, budget: Budget | None = None) -> Numbered:
    """A PDF's text layer, one entry per (unwrapped) line, numbered by page (1-based)."""
    from pypdf import PdfReader

    budget = budget or Budget()
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings would repeat the skip reason
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise SkippedFile("it is an encrypted PDF")
        pages: list[str] = []
        for page in reader.pages:  # the limits are checked page by page, not after the whole file
            budget.check()
            pages.append(page.extract_text() or "")
            budget.text(sum(map(len, pages)))
    except SkippedFile:
        raise
    except Exception as exc:  # pypdf raises many kinds on damaged files
        raise SkippedFile(f"it is not a readable PDF ({type(exc).__name__}: {exc})"[:200]) from exc
    numbered = [(n, line) for n, text in enumerate(pages, start=1) for line in _unwrap(text.splitlines())]
    if not numbered:
        raise SkippedFile("its PDF has no text layer (a scanned document?)")
    return numbered


# ---- DOCX ------------------------------------------------------------------------------------------


def _unpacked_size(data: bytes) -> int:
    """The size the largest part of a zip archive declares once unpacked (0 if it is no zip: the
    reader then says what is wrong). Python's zip reader never unpacks more than is declared."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return max((info.file_size for info in archive.infolist()), default=0)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return 0


def docx_lines(data: bytes, budget: Budget | None = None) -> Numbered:
    """A Word document's body paragraphs, numbered by paragraph index (1-based)."""
    import docx

    unpacked, limit = _unpacked_size(data), int(MAX_UNPACKED_MB * 2**20)
    if unpacked > limit:
        raise SkippedFile(
            f"one of its parts unpacks to {unpacked / 2**20:,.0f} MB, over the {MAX_UNPACKED_MB:g} MB "
            "a Word document may unpack to"
        )
    try:
        document = docx.Document(io.BytesIO(data))
        paragraphs = [p.text for p in document.paragraphs]
    except Exception as exc:  # not a zip, no word/document.xml, bad XML…
        raise SkippedFile(f"it is not a readable Word document ({type(exc).__name__}: {exc})"[:200]) from exc
    return [(n, line) for n, text in enumerate(paragraphs, start=1) for line in text.splitlines()]


READERS: dict[str, Callable[..., Numbered]] = {
    ".txt": text_lines,
    ".md": text_lines,
    ".markdown": text_lines,
    ".html": html_lines,
    ".htm": html_lines,
    ".pdf": pdf_lines,
    ".docx": docx_lines,
}
SUFFIXES = tuple(READERS)


def span_unit(source: str) -> str:
    """What a citation's numbers count for a document name: "page" (PDF), "paragraph" (DOCX), else "line"."""
    suffix = source[source.rfind(".") :].lower() if "." in source else ""
    return {".pdf": "page", ".docx": "paragraph"}.get(suffix, "line")


def describe_span(source: str, start: int, end: int, dash: str = "-") -> str:
    """A citation's span for people: "line 3", "lines 41-43", "page 2", "paragraphs 3-4"."""
    unit = span_unit(source)
    return f"{unit} {start}" if start == end else f"{unit}s {start}{dash}{end}"


def clean_numbered(numbered: Numbered, budget: Budget | None = None) -> list[Line]:
    """Clean numbered lines with `clean_document`, keeping each kept line's own number."""
    pieces = [(n, piece) for n, text in numbered for piece in (text.splitlines() or [""])]
    kept = clean_document("\n".join(text for _, text in pieces), check=budget.check if budget else None)
    return [Line(pieces[line.number - 1][0], line.text) for line in kept]


def extract_lines(suffix: str, data: bytes, budget: Budget | None = None) -> list[Line]:
    """A file's cleaned lines, numbered as the format's docstring above says; SkippedFile if it
    can't, or when it is over the budget's characters or time."""
    reader = READERS.get(suffix.lower())
    if reader is None:
        raise SkippedFile(f"unsupported file type {suffix or '(none)'!r}; supported: {', '.join(SUFFIXES)}")
    budget = budget or Budget()
    if reader is text_lines:
        text = decode(data)
        budget.text(len(text))
        return clean_document(text, check=budget.check)
    numbered = reader(data, budget) if reader in (pdf_lines, docx_lines) else reader(data)
    budget.text(sum(len(text) for _, text in numbered))
    budget.check()
    return clean_numbered(numbered, budget)
