"""The web UI in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Skipped when Chromium or Playwright is missing, unless RAG_REQUIRE_BROWSER=1 (as in CI), where
a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from rag import Assistant, Settings
from rag.app.render import EXAMPLES
from tests.support.net import serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
HOSTILE = (
    "Zorblax 协议说明\n\n"
    "Zorblax 协议的密钥长度是 4096 位。<script>alert(1)</script>\n"
    "Zorblax 协议的图标 <img src=x onerror=alert(1)> 在这里。\n"
    "Zorblax 协议由 Quuxcorp 在 2031 年发布 <img src=x onerror=alert(2)\n"
)
# Records, in the page, when Enter was pressed in the question box and when answer text first showed.
TIMER = """() => {
  window.__rag = {};
  document.querySelector('#rag-input textarea').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !window.__rag.enter) { window.__rag.enter = performance.now(); }
  }, true);
  new MutationObserver(() => {
    if (!window.__rag.first && document.querySelector('#rag-chat .rag-text')) {
      window.__rag.first = performance.now();
    }
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
}"""


def _need(reason: str) -> NoReturn:
    if os.environ.get("RAG_REQUIRE_BROWSER") == "1":
        pytest.fail(f"RAG_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright is not installed (pip install playwright; the browser is Debian's chromium)")
    if not CHROMIUM.exists():
        _need(f"{CHROMIUM} is missing (apt-get install chromium chromium-driver fonts-noto-cjk)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a knowledge base of its own (the bundled articles), warmed up by one question."""
    pytest.importorskip("gradio")
    assistant = Assistant(Settings(home=tmp_path_factory.mktemp("browser-home")), show_progress=False)
    assistant.ask(EXAMPLES[2])
    app, url = serve(assistant)
    yield url
    app.close()


@pytest.fixture()
def dialogs() -> list[str]:
    """Messages of every alert/confirm/prompt the page opened (there must be none)."""
    return []


@pytest.fixture()
def page(browser: Any, site: str, dialogs: list[str]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(site)
    page.locator("#rag-input textarea").wait_for()
    yield page
    context.close()


def test_question_streams_an_answer_whose_citation_opens_the_highlighted_sentence(
    page: Any, dialogs: list[str], tmp_path: Path
) -> None:
    box = page.locator("#rag-input textarea")
    box.press("Enter")  # empty: nothing is sent, a hint is shown
    page.locator("#rag-status .rag-hint").wait_for(timeout=10_000)
    assert page.locator("#rag-chat .rag-question").count() == 0
    page.evaluate(TIMER)
    box.fill(EXAMPLES[0])
    started = time.perf_counter()
    box.press("Enter")
    page.locator("#rag-chat .rag-text").first.wait_for(timeout=60_000)
    wall = time.perf_counter() - started
    answer = page.locator("#rag-chat .rag-final").first
    answer.wait_for(timeout=60_000)
    timing = page.evaluate("() => window.__rag.first - window.__rag.enter")
    print(f"\nEnter → first answer text: {timing:.0f} ms in the page ({wall * 1000:.0f} ms seen by the test)")

    assert re.search(r"25\s*艾", answer.locator(".rag-text").inner_text())
    marker = answer.locator("a.rag-cite").first
    assert marker.inner_text() == "[1]" and marker.is_visible()
    assert "黄仁勋日本峰会主题演讲" in answer.inner_text()  # the source's title, not its file name
    mark = answer.locator("mark.rag-quote").first
    assert not mark.is_visible()  # sources start folded
    marker.click()
    mark.wait_for(state="visible", timeout=5_000)
    assert re.search(r"25\s*艾", mark.inner_text())
    assert mark.evaluate(
        "m => { const r = m.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; }"
    )
    shot = tmp_path / "chat.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert dialogs == []


def test_script_in_an_uploaded_document_is_shown_as_text_and_never_runs(
    page: Any, dialogs: list[str], tmp_path: Path
) -> None:
    doc = tmp_path / "zorblax_notes.txt"
    doc.write_text(HOSTILE, encoding="utf-8")
    page.get_by_role("tab", name="Documents").click()
    page.locator("input[type=file]").set_input_files(str(doc))
    page.locator('#rag-files a[download="zorblax_notes.txt"]').wait_for()  # on the server now
    page.get_by_role("button", name="Add to the knowledge base").click()
    page.locator("#rag-upload-result .rag-done").wait_for(timeout=60_000)
    assert "zorblax_notes.txt" in page.locator("#rag-docs").inner_text()

    page.get_by_role("tab", name="Chat").click()
    box = page.locator("#rag-input textarea")
    box.fill("Zorblax 协议的密钥长度是多少？")
    box.press("Enter")
    answer = page.locator("#rag-chat .rag-final").first
    answer.wait_for(timeout=60_000)
    answer.locator("a.rag-cite").first.click()
    answer.locator("mark.rag-quote").first.wait_for(state="visible")
    assert "<img src=x onerror=alert(2)" in answer.inner_text()
    assert page.locator("#rag-chat img, #rag-chat script").count() == 0
    page.wait_for_timeout(500)
    shot = tmp_path / "hostile.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot: {shot}")
    assert dialogs == []


def _shots(tmp_path: Path) -> Path:
    """Where screenshots go: docs/ when RAG_SCREENSHOTS=1 (to refresh the ones shipped), else tmp."""
    if os.environ.get("RAG_SCREENSHOTS") == "1":
        return Path(__file__).resolve().parent.parent / "docs"
    return tmp_path


def _text_right(locator: Any) -> float:
    """The right edge of an element's text (not of its box)."""
    return float(
        locator.evaluate(
            "el => { const r = document.createRange(); r.selectNodeContents(el);"
            " return r.getBoundingClientRect().right; }"
        )
    )


def test_clicking_an_example_asks_it_and_nothing_covers_the_first_message(
    page: Any, dialogs: list[str], tmp_path: Path
) -> None:
    assert page.locator("#rag-chat").get_by_text("Conversation", exact=True).count() == 0  # no floating label
    page.get_by_text(EXAMPLES[1], exact=True).first.click()
    answer = page.locator("#rag-chat .rag-final").first
    answer.wait_for(timeout=60_000)
    question = page.locator("#rag-chat .rag-question").first
    assert question.inner_text().strip() == EXAMPLES[1]
    top = question.evaluate(  # the element drawn at the middle of the first message is the message
        "el => { const r = el.getBoundingClientRect();"
        " const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
        " return !!hit && (el.contains(hit) || hit.contains(el)); }"
    )
    assert top
    answer.locator("a.rag-cite").first.click()
    answer.locator("mark.rag-quote").first.wait_for(state="visible")
    page.locator("#rag-chat .rag-question").first.scroll_into_view_if_needed()
    page.screenshot(path=str(_shots(tmp_path) / "ui-desktop.png"))
    assert dialogs == []


def test_documents_tab_lists_titles_with_aligned_chunk_counts(page: Any) -> None:
    page.get_by_role("tab", name="Documents").click()
    table = page.locator("#rag-docs table.rag-docs")
    table.wait_for(timeout=10_000)
    assert "全程图文｜黄仁勋日本峰会主题演讲" in table.inner_text()
    assert "002_76ca57ada4fcd65d.txt" in table.inner_text()
    header = table.locator("th.rag-count")
    first = table.locator("tbody td.rag-count").first
    assert abs(_text_right(header) - _text_right(first)) <= 2  # "Chunks" over its numbers


def test_the_page_fits_a_phone_screen(browser: Any, site: str, dialogs: list[str], tmp_path: Path) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(site)
        box = page.locator("#rag-input textarea")
        box.wait_for()
        box.fill(EXAMPLES[0])
        box.press("Enter")
        answer = page.locator("#rag-chat .rag-final").first
        answer.wait_for(timeout=60_000)
        answer.locator("a.rag-cite").first.click()
        answer.locator("mark.rag-quote").first.wait_for(state="visible")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide on a 390 px screen"
        page.screenshot(path=str(_shots(tmp_path) / "ui-phone.png"))
    finally:
        context.close()
    assert dialogs == []
