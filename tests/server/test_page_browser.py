"""The chat page in a real headless Chromium (Debian's, driven by Playwright) against a real
uvicorn server: streamed answer, numbered citations, escaping of hostile document text, the
cache marker, copy, and an upload that becomes searchable. Screenshots go to artifacts/."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ragline.ingest.pipeline import Ingestor
from tests.ingest.corpus import write_corpus
from tests.server.live import (
    API_KEY,
    Live,
    clean_environment,
    echo_first_source,
    live_server,
    live_settings,
)

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = (
    "# Zebra protocol\n\n"
    "The zebra handshake sends <script>window.__pwned=1</script> and "
    '<img src=x onerror="window.__pwned=2"> as its greeting markers.\n'
)
QUESTION = "What does the zebra handshake send as its greeting markers?"

if not os.path.exists(CHROMIUM):
    pytest.skip("Debian chromium is not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("page")
    with clean_environment():
        settings = live_settings(root / "data")
        write_corpus(root / "docs")
        (root / "docs" / "zebra.md").write_text(HOSTILE, encoding="utf-8")
        Ingestor(settings, "kb", embedder="minilm", workers=1).run([root / "docs"])
        with live_server(settings) as server:
            server.fake.default = echo_first_source
            yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, live: Live) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    # The server has keys, so reads need one: the page remembers the key it was given.
    context.add_init_script(f"localStorage.setItem('ragline-key', {json.dumps(API_KEY)})")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_dialog(dialog: Any) -> None:  # alert() from injected markup would land here
        errors.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(live.url + "/")
    page.wait_for_selector("#collection option[value=kb]", state="attached")
    ARTIFACTS.mkdir(exist_ok=True)
    yield page
    assert errors == [], errors
    context.close()


def ask(page: Any, question: str) -> Any:
    before = page.locator(".turn").count()
    page.fill("#question", question)
    page.press("#question", "Enter")
    turn = page.locator(".turn").nth(before)
    turn.wait_for()
    return turn


def test_streamed_cited_escaped_and_cached(page: Any, live: Live) -> None:
    live.fake.delay_s = 0.05  # slow enough to watch the text arrive
    try:
        turn = ask(page, QUESTION)
        page.wait_for_function(
            "() => { const t = document.querySelector('.turn.streaming .text');"
            " return t && t.textContent.length > 0; }"
        )
        partial = turn.locator(".text").first.text_content()
        turn.locator("xpath=self::*[@data-done='true']").wait_for(timeout=60_000)
    finally:
        live.fake.delay_s = 0.0
    text = turn.locator(".text").first.text_content()
    assert partial and len(partial) < len(text), "the answer arrived in one piece, not streamed"
    assert "<script>window.__pwned=1</script>" in text  # shown as text ...
    assert page.evaluate("window.__pwned") is None  # ... and never run
    assert turn.locator("script, img").count() == 0
    assert not turn.locator(".badge.cached").is_visible()

    citation = turn.locator(".citations li").first
    assert citation.locator("summary").text_content() == "zebra.md"
    turn.locator("a.cite").first.click()  # the [1] marker opens its source
    snippet = citation.locator(".snippet")
    snippet.wait_for(state="visible")
    assert '<img src=x onerror="window.__pwned=2">' in snippet.text_content()
    page.wait_for_timeout(300)  # give a hostile onerror a chance to fire
    assert page.evaluate("window.__pwned") is None

    turn.locator("button.copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == text

    page.screenshot(path=str(ARTIFACTS / "page-answer.png"), full_page=True)
    page.click("#new-chat")  # a fresh conversation: the same question, no history
    again = ask(page, QUESTION)
    again.locator("xpath=self::*[@data-done='true']").wait_for(timeout=60_000)
    assert again.locator(".badge.cached").is_visible()
    assert "cache: exact" in again.locator(".meta").text_content()
    assert again.locator(".text").first.text_content() == text
    page.screenshot(path=str(ARTIFACTS / "page-cached.png"), full_page=True)


def test_uploaded_file_becomes_searchable(page: Any, tmp_path: Path) -> None:
    doc = tmp_path / "kiwi-orchard.md"
    doc.write_text(
        "# Kiwi orchard\n\nThe kiwi orchard in Motueka ships its fruit every Tuesday.\n",
        encoding="utf-8",
    )
    page.click("#upload-panel summary")
    page.fill("#upload-collection", "kb")
    page.fill("#api-key", API_KEY)
    page.set_input_files("#files", str(doc))
    page.click("#upload")
    job = page.locator("#jobs li.job").last
    job.locator("xpath=self::*[@data-state]").wait_for(timeout=180_000)
    assert job.get_attribute("data-state") == "done", job.text_content()
    assert "1/1 files" in job.text_content()
    assert page.locator("#collection option[value=kb]").text_content() == "kb (9 docs)"

    turn = ask(page, "When does the kiwi orchard in Motueka ship its fruit?")
    turn.locator("xpath=self::*[@data-done='true']").wait_for(timeout=60_000)
    assert "every Tuesday" in turn.locator(".text").first.text_content()
    assert turn.locator(".citations summary").first.text_content() == "kiwi-orchard.md"
    page.screenshot(path=str(ARTIFACTS / "page-upload.png"), full_page=True)


def test_markdown_is_rendered_safely_and_every_source_is_listed(page: Any, live: Live) -> None:
    live.fake.script(
        "Install it with a command [1]:\n\n```\napt install zebra\n```\n\n"
        "- **fast** handshake\n- quoted `<b>` markup stays text"
    )
    turn = ask(page, "How do I install the zebra handshake?")
    turn.locator("xpath=self::*[@data-done='true']").wait_for(timeout=60_000)
    answer = turn.locator(".answer > .text")
    assert answer.locator("pre code").text_content().strip() == "apt install zebra"
    assert answer.locator("li").count() == 2 and answer.locator("strong").text_content() == "fast"
    assert answer.locator("b").count() == 0 and "<b>" in answer.text_content()
    assert answer.locator("pre a.cite").count() == 0 and answer.locator("a.cite").count() >= 1
    # every source the model was given is listed, cited or not
    sources = turn.locator(".citations li").count()
    cited = turn.locator(".citations li.cited").count()
    assert sources >= 2 and cited >= 1
    assert turn.locator(".citations li.not-cited").count() == sources - cited > 0
    assert not turn.locator(".extractive-badge").is_visible()
    page.screenshot(path=str(ARTIFACTS / "page-markdown.png"), full_page=True)


def test_citation_only_output_is_replaced_by_a_marked_extractive_answer(
    page: Any, live: Live
) -> None:
    live.fake.script("[1] [2]")
    turn = ask(page, "Which greeting markers does the zebra protocol send?")
    turn.locator("xpath=self::*[@data-done='true']").wait_for(timeout=60_000)
    badge = turn.locator(".extractive-badge")
    assert badge.is_visible() and "citation numbers only" in (badge.get_attribute("title") or "")
    text = turn.locator(".answer > .text").text_content()
    assert text.startswith("“") and "zebra handshake" in text
    assert page.evaluate("window.__pwned") is None
