"""The web UI in a real headless Chromium (Debian's ``chromium``, driven by Playwright) against a live server.

Upload a document into a KB, ask it through ``rag:<kb>``, see the streamed answer and its citation chip, open
the cited span, see a refusal, chat with a plain model, delete the document. A screenshot is saved to
``build/test-artifacts/serve-ui.png`` (and the test's tmp dir).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from genloom.serve import create_app
from genloom.settings import Settings
from serve_fakes import FakeAnswerStream, FakeEmbedder, FakeKBs, live_server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium: make install")


def test_chat_with_citations_upload_and_delete_in_a_real_browser(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # generous: the machine may be busy; a pass is usually ~1 s

    kbs = FakeKBs()
    s = Settings(home=tmp_path / "home", model="fake:")
    app = create_app(s, kb_factory=kbs, kb_lister=kbs.names, embedder=FakeEmbedder(),
                     answer_factory=lambda q, **o: FakeAnswerStream(kbs, q, **o))  # fmt: skip
    doc = tmp_path / "kettles.md"
    doc.write_text(
        "Electric kettles switch off when the water boils. A bimetallic strip bends with steam heat.\n"
    )
    with live_server(app) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 760})
        page.goto(url + "/")
        expect(page.locator("body")).to_have_attribute("data-ready", "1")

        # upload into KB "manuals" with progress, then it is listed and offered as a model
        page.fill("#kb", "manuals")
        page.set_input_files("#files", str(doc))
        page.click("#upload button[type=submit]")
        expect(page.locator("#upload-status")).to_have_text("added 1 file(s) to manuals")
        expect(page.locator("#docs li")).to_have_count(1)
        expect(page.locator("#docs li span")).to_have_text("kettles")
        expect(page.locator("#model option[value='rag:manuals']")).to_have_count(1)

        # a grounded answer streams in, then its [1] marker becomes a chip that opens the quoted span
        page.select_option("#model", "rag:manuals")
        page.fill("#prompt", "When do electric kettles switch off?")
        page.keyboard.press("Enter")
        answer = page.locator(".msg.assistant").last
        expect(answer).to_contain_text("Electric kettles switch off when the water boils.")
        chip = answer.locator("button.chip")
        expect(chip).to_have_text("1")
        chip.click()
        expect(page.locator("#source")).to_be_visible()
        expect(page.locator("#source-quote")).to_have_text(
            "Electric kettles switch off when the water boils."
        )
        expect(page.locator("#source-where")).to_contain_text("kettles.md › Intro")

        # a question the documents cannot answer is shown as a refusal
        page.fill("#prompt", "Who painted the Mona Lisa?")
        page.keyboard.press("Enter")
        refusal = page.locator(".msg.refusal")
        expect(refusal).to_contain_text("found nothing that answers this")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(tmp_path / "serve-ui.png"), full_page=True)
        shutil.copy(tmp_path / "serve-ui.png", ARTIFACTS / "serve-ui.png")

        # a plain model streams too
        page.click("#reset")
        page.select_option("#model", "fake:")
        page.fill("#prompt", "hello browser")
        page.click("#send")
        expect(page.locator(".msg.assistant").last).to_contain_text("browser")

        # delete the document
        page.click("#docs li button")
        expect(page.locator("#docs li")).to_have_count(0)
        expect(page.locator("#docs-status")).to_have_text("no documents in manuals yet")
        assert kbs.kbs["manuals"].docs == {}
        browser.close()
