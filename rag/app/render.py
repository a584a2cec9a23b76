"""HTML for the chat UI. Every piece of document, answer or file-name text passes through `esc`.

Nothing here imports gradio: these are plain functions from answers to HTML strings.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

from rag.index.store import DocumentInfo
from rag.ingest.formats import describe_span
from rag.ingest.titles import display_title
from rag.schema import Answer, Citation, IngestReport
from rag.text.tokens import is_chinese
from rag.verification.markers import MARKER, marker_numbers

# Characters that markdown, KaTeX or gr.HTML's template engine could act on, made inert as entities
# (html.escape already covers & < > " ', and its output uses only `&`, `#`, `;` and letters).
_INERT = str.maketrans({c: f"&#{ord(c)};" for c in "\\`*_{}[]()+-!|~$:=@"})

EXAMPLES = (
    "软银和英伟达在日本建设的AI工厂有多少算力？",
    "英伟达正在建设的AI工厂电力需求有多大？",
    "How much AI computing power will the factory SoftBank and NVIDIA build in Japan have?",
)


def esc(text: object) -> str:
    """Text made safe to place inside HTML or markdown: shown as written, never interpreted."""
    return html.escape(str(text), quote=True).translate(_INERT).replace("\n", "<br>")


def anchor(message_id: str, number: int) -> str:
    """The id of citation `number` in the sources block of one message."""
    return f"rag-{message_id}-{number}"


def _span(c: Citation) -> str:
    return describe_span(c.source, c.start_line, c.end_line, dash="–")


def _find(text: str, quote: str) -> tuple[int, int] | None:
    """Where the quote is in the passage, ignoring whitespace (passages keep their line breaks)."""
    chars = [re.escape(ch) for ch in quote if not ch.isspace()]
    if not chars:
        return None
    m = re.search(r"\s*".join(chars), text)
    return (m.start(), m.end()) if m else None


def _marked_passage(c: Citation) -> str:
    """The passage with the quoted sentence in <mark>; the quote on its own when not found in it."""
    found = _find(c.text, c.quote)
    if found is None:
        quote = f'<mark class="rag-quote">{esc(c.quote)}</mark><br>' if c.quote.strip() else ""
        return quote + esc(c.text)
    at, end = found
    return f'{esc(c.text[:at])}<mark class="rag-quote">{esc(c.text[at:end])}</mark>{esc(c.text[end:])}'


def _status(c: Citation, mode: str) -> str:
    if mode != "llm":
        return ""
    parts = [
        '<span class="rag-ok">✓ verified</span>'
        if c.verified
        else '<span class="rag-bad">✗ not verified in the passage</span>'
    ]
    if c.inferred:
        parts.append('<span class="rag-inferred">inferred</span>')
    return " " + " ".join(parts)


def _title(title: str, source: str) -> str:
    """The document's title, and its file name under it when they differ."""
    title = display_title(title, source)
    named = f'<span class="rag-doc-title">{esc(title)}</span>' if title != source else ""
    return f'{named}<span class="rag-file">{esc(source)}</span>'


def _short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _source(c: Citation, message_id: str, mode: str) -> str:
    ident = anchor(message_id, c.number)
    return (
        f'<div class="rag-source" id="{ident}">'
        f'<div class="rag-source-head"><span class="rag-num">[{c.number}]</span> '
        f"{_title(getattr(c, 'title', ''), c.source)} "
        f'<span class="rag-lines">{_span(c)}</span>{_status(c, mode)}</div>'
        f'<div class="rag-passage">{_marked_passage(c)}</div></div>'
    )


def _link_markers(text: str, message_id: str, numbers: set[int]) -> str:
    """The answer text escaped, with each `[n]` that has a citation made a link to its source."""
    out: list[str] = []
    last = 0
    for m in MARKER.finditer(text):
        wanted = marker_numbers(m)
        if not all(n in numbers for n in wanted):
            continue
        at = m.end() - len(m.group(0).lstrip(" \t"))  # the spaces before the marker stay
        out.append(esc(text[last:at]))
        out.extend(
            f'<a class="rag-cite" href="#{anchor(message_id, n)}" title="Show source {n}">[{n}]</a>'
            for n in wanted
        )
        last = m.end()
    out.append(esc(text[last:]))
    return "".join(out)


def render_answer(answer: Answer, message_id: str) -> str:
    """One assistant message: text with clickable markers, notices, and its own sources block."""
    message_id = re.sub(r"[^A-Za-z0-9_-]", "", message_id)
    numbers = {c.number for c in answer.citations}
    classes = "rag-answer rag-final" + (" rag-abstained" if answer.abstained else "")
    parts = [f'<div class="{classes}" id="rag-{message_id}">']
    if answer.abstained:
        hint = (
            "检索到的文档不足以回答这个问题，所以没有给出答案。可以换个问法，或在 Documents 页上传相关文档。"
            if is_chinese(answer.question)
            else "The documents found do not support an answer, so none is given. Try rephrasing, "
            "or add documents that cover it in the Documents tab."
        )
        parts.append(
            f'<div class="rag-text">ⓘ {esc(answer.text)}</div><div class="rag-hint">{esc(hint)}</div>'
        )
    else:
        parts.append(f'<div class="rag-text">{_link_markers(answer.text, message_id, numbers)}</div>')
    standalone = str(getattr(answer, "standalone", "") or "")
    if standalone and standalone.strip() != answer.question.strip():
        # the model's rewrite reads as a question; the offline one is only search words
        llm = answer.mode == "llm"
        read = f"Understood as: {standalone}" if llm else "Read together with your previous question."
        parts.append(f'<div class="rag-hint">{esc(read)}</div>')
    if answer.notice:
        parts.append(f'<div class="rag-notice">⚠ {esc(answer.notice)}</div>')
    if answer.citations:
        mode = "LLM" if answer.mode == "llm" else "extractive"
        sources = "".join(_source(c, message_id, answer.mode) for c in answer.citations)
        titles = dict.fromkeys(display_title(getattr(c, "title", ""), c.source) for c in answer.citations)
        files = ", ".join(f'<span class="rag-doc-title">{esc(_short(t))}</span>' for t in titles)
        parts.append(
            f'<details class="rag-sources">'
            f"<summary>Sources ({len(answer.citations)}) · {mode} · {files}</summary>{sources}</details>"
        )
    parts.append("</div>")
    return "".join(parts)


def render_partial(text: str) -> str:
    """An answer still being written (streaming): plain escaped text, markers not linked yet."""
    return f'<div class="rag-answer rag-streaming"><div class="rag-text">{esc(text)}</div></div>'


def render_pending() -> str:
    """The placeholder shown while the question is being answered."""
    return '<div class="rag-answer rag-pending">Searching the documents…</div>'


def render_error(message: str) -> str:
    """An assistant message saying what went wrong, for people (no traceback)."""
    return f'<div class="rag-answer rag-error">⚠ {esc(message)}</div>'


def render_user(question: str) -> str:
    """The user's question as shown in the chat."""
    return f'<div class="rag-question">{esc(question)}</div>'


def render_hint(message: str, kind: str = "hint") -> str:
    """A one-line status message under the input box."""
    return f'<div class="rag-status rag-{kind}">{esc(message)}</div>' if message else ""


def render_badge(mode_label: str) -> str:
    """The header with the answering mode."""
    return (
        '<div class="rag-header"><span class="rag-title">Answers with their sources</span>'
        f'<span class="rag-badge" title="How answers are written">{esc(mode_label)}</span></div>'
    )


def render_documents(docs: Sequence[DocumentInfo]) -> str:
    """The indexed documents with their chunk counts, as an HTML table."""
    if not docs:
        return '<div class="rag-status">The knowledge base is empty: upload documents below.</div>'
    rows = "".join(
        f'<tr><td class="rag-doc">{_title(getattr(d, "title", ""), d.source)}</td>'
        f'<td class="rag-count">{d.chunks}</td></tr>'
        for d in docs
    )
    total = sum(d.chunks for d in docs)
    return (
        '<table class="rag-docs"><thead><tr><th>Document</th><th class="rag-count">Chunks</th></tr></thead>'
        f"<tbody>{rows}</tbody><tfoot><tr><td>{len(docs)} documents</td>"
        f'<td class="rag-count">{total}</td></tr></tfoot></table>'
    )


def render_upload(report: IngestReport | None, refused: Iterable[tuple[str, str]]) -> str:
    """What an upload did: the ingestion summary and each refused file with the reason."""
    parts: list[str] = []
    if report is not None:
        names = report.added + report.updated
        done = f"Indexed: {', '.join(names)}. " if names else ""
        if report.unchanged:
            done += f"Already indexed, unchanged: {', '.join(report.unchanged)}. "
        parts.append(f'<div class="rag-status rag-done">✓ {esc(done + report.summary())}</div>')
    parts.extend(
        f'<div class="rag-status rag-refused">✗ {esc(name)} was not added: {esc(why)}</div>'
        for name, why in refused
    )
    return "".join(parts)


CSS = """
.rag-header { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; }
.rag-title { font-size: 1.35em; font-weight: 600; }
.rag-badge { border: 1px solid var(--color-accent); color: var(--color-accent); border-radius: 999px;
  padding: 2px 10px; font-size: 0.85em; }
.rag-answer .rag-text { line-height: 1.65; }
.rag-cite { font-weight: 600; text-decoration: none; cursor: pointer; padding: 0 1px;
  color: var(--color-accent) !important; }
.rag-cite:hover { text-decoration: underline; }
.rag-sources { margin-top: 10px; border-top: 1px solid var(--border-color-primary); padding-top: 6px; }
.rag-sources summary { cursor: pointer; color: var(--body-text-color-subdued); font-size: 0.9em; }
.rag-source { margin: 8px 0; padding: 6px 8px; border-left: 3px solid var(--border-color-primary);
  border-radius: 4px; transition: background-color 0.6s; }
.rag-source.rag-flash { background: var(--color-accent-soft); border-left-color: var(--color-accent); }
.rag-source-head { font-size: 0.88em; color: var(--body-text-color-subdued); margin-bottom: 4px; }
.rag-num { font-weight: 700; color: var(--color-accent); }
.rag-doc-title { font-weight: 600; color: var(--body-text-color); margin-right: 6px; }
.rag-file { font-family: var(--font-mono); font-size: 0.9em; overflow-wrap: anywhere; }
.rag-docs .rag-doc-title { display: block; margin-right: 0; }
.rag-passage { font-size: 0.92em; line-height: 1.6; max-height: 16em; overflow-y: auto; }
.rag-passage mark, mark.rag-quote { background: #fde68a; color: #1f2937; padding: 0 2px; border-radius: 2px; }
.rag-ok { color: #15803d; } .rag-bad { color: #b91c1c; } .rag-inferred { color: #a16207; }
.rag-notice { margin-top: 8px; padding: 6px 8px; border-radius: 4px; background: #fef3c7; color: #78350f; }
.rag-abstained .rag-text { font-weight: 600; }
.rag-hint { color: var(--body-text-color-subdued); font-size: 0.9em; margin-top: 4px; }
.rag-pending { color: var(--body-text-color-subdued); font-style: italic; }
.rag-error { color: #b91c1c; }
.rag-status { padding: 4px 2px; }
.rag-status.rag-hint { color: #a16207; }
.rag-refused { color: #b91c1c; } .rag-done { color: #15803d; }
.rag-docs { border-collapse: collapse; width: 100%; }
.rag-docs th, .rag-docs td { text-align: left; padding: 4px 8px; border: none !important;
  border-bottom: 1px solid var(--border-color-primary) !important; }
.rag-docs tfoot td { font-weight: 600; }
.rag-docs .rag-count, .rag-docs th.rag-count { text-align: right !important; width: 6em;
  font-variant-numeric: tabular-nums; }
"""

# Clicking a marker opens that message's sources block, scrolls to the citation and flashes it.
# Delegated from the document, so it works for messages added later. (The chat's sanitizer keeps
# `id` and `href="#…"` but drops data-* attributes, so the link's href names its target.)
HEAD = """<script>
document.addEventListener("click", function (event) {
  var target = event.target;
  var link = target && target.closest ? target.closest("a.rag-cite") : null;
  if (!link) { return; }
  var id = (link.getAttribute("href") || "").replace(/^#/, "");
  var source = id ? document.getElementById(id) : null;
  if (!source) { return; }
  event.preventDefault();
  event.stopPropagation();
  var details = source.closest("details");
  if (details) { details.open = true; }
  source.scrollIntoView({ block: "center" });
  source.classList.add("rag-flash");
  setTimeout(function () { source.classList.remove("rag-flash"); }, 1600);
}, true);
</script>"""
