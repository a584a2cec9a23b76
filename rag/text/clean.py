"""Cleaning of web-scraped text: general rules, each one a small function with its own test.

Display text keeps the original script; `fold` gives the form used for indexing and matching
(NFKC, pinyin annotations removed, traditional folded to simplified, lowercase).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from rag.schema import Line
from rag.text import simplify
from rag.text.han import HAN

_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
# A parenthesised pinyin syllable glued to the preceding character: `遠(yuǎn)`, `遠（yuan3）`.
# Tone marks or a tone digit are required, so `模型(model)` and `AI(Physical AI)` stay.
_PINYIN = re.compile(
    r"(?<=[^\sA-Za-z0-9(（])[(（]"
    rf"(?=[a-zü{_TONED}]*[{_TONED}]|[a-zü]+[1-5][)）])"
    rf"[a-zü{_TONED}]{{1,6}}[1-5]?[)）]"
)
# Bounded, and no label or address spans another opening bracket: every pattern here takes time
# linear in the line, whatever the line holds (an unbounded one is quadratic on "[[[[…").
_MD_IMAGE = re.compile(r"!\[[^\[\]]{0,1000}\]\([^()]{0,2000}\)")
_MD_LINK = re.compile(r"\[([^\[\]]{0,1000})\]\((?:https?:|mailto:|/|#)[^()]{0,2000}\)")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,500}>")
_URL = re.compile(r"https?://\S+")
_INVISIBLE = re.compile("[\ufffd\u200b-\u200f\u2060\ufeff\u00ad]")
# Terminal control sequences (ECMA-48: CSI in its 7- and 8-bit forms, OSC/DCS/PM/APC/SOS strings,
# two-character escapes), then any other control character but tab and newline, and the bidirectional
# overrides that make text display in another order than it is stored.
_ESCAPE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]P^_X][^\x07\x1b\x9c]{0,4096}(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_MD_DECOR = re.compile(r"\*\*|__|^\s{0,3}#{1,6}\s+|^\s*>\s?")
_TIMESTAMP = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$")
_SENTENCE_END = re.compile(r"[。！？!?；;]")
_FIELD = re.compile(r"\W*[^\W\d][^:：]{0,5}[:：]\s*\S{2}")  # a field of a page's details: "作者：…"

# Words that make a short line page furniture rather than content (folded, lowercase).
_CHROME = (
    "分享至",
    "申请入驻",
    "无障碍浏览",
    "进入关怀版",
    "往期回顾",
    "扫码",
    "点击关注",
    "阅读原文",
    "发表评论",
    "文章数",
    "关注度",
    "举报",
    "返回搜狐",
    "责任编辑",
    "关注公众号",
    "incentive-icons",
    "网易首页",
    "版权所有",
    "all rights reserved",
)
# A line that starts one of these ends the article: what follows is a related-news feed.
_END_MARKERS = (
    "相关推荐",
    "热点推荐",
    "热门推荐",
    "推荐阅读",
    "相关阅读",
    "延伸阅读",
    "猜你喜欢",
    "往期精选",
    "往期推荐",
    "往期回顾",
    "相关文章",
    "更多精彩",
    "· end ·",
    "-end-",
    "— end —",
    "end",
)
# Disclaimers that platforms append to every article.
_DISCLAIMER = re.compile(
    r"^(特别声明[:：]|声明[:：]本文|notice: the content above|免责声明[:：]|"
    r"根据《网络安全法》)"
)


def strip_pinyin(text: str) -> str:
    """Remove pinyin annotations that follow Han characters: `遠(yuǎn)` → `遠`."""
    return _PINYIN.sub("", text)


def _strip_comments(text: str) -> str:
    """Remove `<!-- … -->` comments (an unclosed one is left as it is)."""
    out: list[str] = []
    at = 0
    while (start := text.find("<!--", at)) >= 0:
        end = text.find("-->", start + 4)
        if end < 0:
            break
        out.append(text[at:start])
        at = end + 3
    return "".join(out) + text[at:]


def strip_markup(text: str) -> str:
    """Drop markdown images and HTML tags, keep link text, drop markdown emphasis and headings."""
    text = _strip_comments(_MD_IMAGE.sub("", text))
    text = _MD_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    return _MD_DECOR.sub("", text)


def strip_controls(text: str) -> str:
    """Remove terminal escape sequences, control characters (but tab and newline) and bidirectional
    overrides: none of them is text, and a terminal would act on them.

    Example:
        >>> strip_controls("\x1b[31mred\x1b[0m \x1b]8;;http://x.example\x07link\x1b]8;;\x07\x07")
        'red link'
    """
    return _CONTROL.sub("", _ESCAPE.sub("", text))


def strip_invisible(text: str) -> str:
    """Remove U+FFFD replacement characters, zero-width characters and soft hyphens."""
    return _INVISIBLE.sub("", text)


def to_simplified(text: str) -> str:
    """Fold traditional Chinese script to simplified: OpenCC t2s's result (rag.text.simplify)."""
    return simplify.to_simplified(text)


def fold(text: str) -> str:
    """The form used for indexing and matching: NFKC, no pinyin, simplified script, lowercase."""
    text = unicodedata.normalize("NFKC", strip_pinyin(text))
    return to_simplified(text).lower()


def clean_line(text: str) -> str:
    """The display form of one line: markup, pinyin and invisible characters removed."""
    text = strip_invisible(strip_pinyin(strip_controls(text))).replace("\u00a0", " ").replace("\u3000", " ")
    return re.sub(r"\s+", " ", strip_markup(text)).strip()


def is_table_row(text: str) -> bool:
    """A row of a table, as Markdown writes it and as a web page's tables are extracted: between
    pipes. Never a heading, never wrapped onto the next row."""
    return text.startswith("|") and text.rstrip().endswith("|")


def is_spam_list(folded: str) -> bool:
    """A keyword-stuffed line: four or more `|`-separated phrases with no sentence in them. A table
    row is content, and so is a line of labelled fields ("作者：… ｜ 来源：… ｜ 2026-05-12 发布"):
    at least two of its parts, and two in five, are a short label with a value."""
    if is_table_row(folded) or _SENTENCE_END.search(folded):
        return False
    parts = [p for p in re.split(r"[|｜]", folded) if p.strip()]
    labelled = sum(1 for p in parts if _FIELD.match(p))
    return len(parts) >= 4 and (labelled < 2 or 5 * labelled < 2 * len(parts))


def is_page_chrome(folded: str) -> bool:
    """Short navigation, sharing or account line, a disclaimer, or a bare number or timestamp."""
    if _DISCLAIMER.match(folded):
        return True
    if _TIMESTAMP.match(folded) or re.fullmatch(r"[\d\s.,:%-]*", folded):
        return True
    if not re.search(rf"[{HAN}a-z0-9]", folded):
        return True  # only punctuation, symbols or emoji
    if folded.count(" > ") >= 2 and len(folded) <= 60:
        return True  # breadcrumb
    if len(_URL.sub("", folded).strip(" :：")) <= 8 and _URL.search(folded):
        return True  # a labelled bare URL
    return len(folded) <= 30 and any(word in folded for word in _CHROME)


def is_end_marker(folded: str) -> bool:
    """A heading that opens the related-news feed at the end of a page."""
    compact = re.sub(r"\s+", " ", folded).strip(" #*")
    return any(compact == m or compact.startswith(m + " ") for m in _END_MARKERS)


def clean_document(raw: str, check: Callable[[], None] | None = None) -> list[Line]:
    """Clean a document's text into its kept lines, numbered as in the original file; `check()` is
    called before each line (it raises to stop, e.g. when the time for the file is up)."""
    raw_lines = raw.splitlines()
    kept: list[Line] = []
    previous = ""
    for number, raw_line in enumerate(raw_lines, start=1):
        if check is not None:
            check()
        text = clean_line(raw_line)
        if not text:
            continue
        folded = fold(text)
        if is_end_marker(folded) and number > len(raw_lines) // 2:
            break
        if is_spam_list(folded) or is_page_chrome(folded) or folded == previous:
            continue
        kept.append(Line(number, text))
        previous = folded
    return kept
