"""Printing an overview page, and glossary pop-ups by keyboard, in real Chromium."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEED = "/treatment/stage-iv-recurrent-pleural-mesothelioma/"


@pytest.fixture
def seed():
    call_command("load_seed", verbosity=0)


def test_print_hides_chrome_and_shows_references_with_link_addresses(page, live_server, seed):
    page.goto(live_server.url + SEED)
    page.emulate_media(media="print")
    for hidden in [".site-header", ".toc", ".skip-link", ".next-links", ".export"]:
        assert page.eval_on_selector(hidden, "el => getComputedStyle(el).display") == "none", hidden
    assert page.locator(".references").is_visible() and page.locator("h1").is_visible()
    doi_link = page.locator('.references a[href^="https://doi.org/"]').first
    after = doi_link.evaluate("el => getComputedStyle(el, '::after').content")
    assert "https://doi.org/" in after
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 3


def test_glossary_term_opens_by_keyboard_and_closes_with_escape(page, live_server, seed):
    page.goto(live_server.url + SEED)
    term = page.locator("a.term").first
    term.focus()
    expect(term).to_be_focused()
    expect(term).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    popover = page.locator(".term-popover")
    expect(popover).to_be_visible()
    expect(term).to_have_attribute("aria-expanded", "true")
    slug = term.get_attribute("data-term")
    definition = page.locator(f"#term-{slug} + dd").inner_text().strip()
    assert definition[:40] in popover.inner_text()
    page.keyboard.press("Tab")
    expect(page.locator(".term-popover-close")).to_be_focused()
    page.keyboard.press("Escape")
    expect(popover).to_have_count(0)
    expect(term).to_be_focused()
    assert page.url.endswith(SEED)  # the link did not navigate


def test_glossary_term_without_javascript_jumps_to_definition(new_page, live_server, seed):
    page = new_page(java_script_enabled=False)
    page.goto(live_server.url + SEED)
    term = page.locator("a.term").first
    slug = term.get_attribute("data-term")
    term.click()
    assert page.url.endswith(f"#term-{slug}")
    expect(page.locator(f"#term-{slug}")).to_be_in_viewport()
