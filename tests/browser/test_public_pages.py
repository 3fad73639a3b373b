"""Public pages in a real browser: small screens, keyboard, no JavaScript, no third parties."""

import pytest
from playwright.sync_api import expect

from tests.factories import make_overview, make_reference, make_section, make_trial

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_WORD = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 2

SECTION_BODY = f"""Chemotherapy can slow the cancer down [@vogelzang-2003].

| Treatment | How it is given | Common side effects |
|-----------|-----------------|---------------------|
| pemetrexed + cisplatin | Into a vein, every 3 weeks | Tiredness, feeling sick, low blood counts |
| gemcitabine | Into a vein, weekly | Tiredness, infections |

Doctors sometimes use long words such as {LONG_WORD} [@vogelzang-2003; @taub-1997].
"""


@pytest.fixture
def overview():
    vogelzang = make_reference(key="vogelzang-2003", title="Phase III study of pemetrexed with cisplatin")
    make_reference(key="taub-1997", title="Gemcitabine in malignant mesothelioma")
    overview = make_overview(
        title="Stage IV or recurrent pleural mesothelioma",
        stage_label="Stage IV / Recurrent",
        intro="This page explains the main treatments [@taub-1997].",
    )
    chemo = make_section(overview, heading="Chemotherapy", slug="chemotherapy", body=SECTION_BODY, position=1)
    trial = make_trial(
        title="EMPHACIS",
        phase="3",
        patient_count=456,
        references=[vogelzang],
        outcomes=[("Median overall survival", "all patients who had pemetrexed + cisplatin", "12.1 months", True)],
    )
    chemo.trials.add(trial)
    make_section(overview, heading="Surgery", slug="surgery", body="Surgery suits few people [@taub-1997].", position=2)
    return overview


class PageScrollsSideways(AssertionError):
    """The page is wider than the screen (its own type, so the failure message names the culprits)."""


# Every element whose right edge passes the viewport and is not clipped by a .table-scroll
# region (absolutely positioned elements escape a scroller that is not their containing block).
_TOO_WIDE_JS = """(width) => [...document.querySelectorAll('body *')]
    .filter(el => el.getBoundingClientRect().right > width + 0.5)
    .filter(el => !el.closest('.table-scroll') || getComputedStyle(el).position === 'absolute')
    .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className.split(' ').join('.') : '')
         + ' in ' + (el.closest('.table-scroll, .prose, section, header, footer') || document.body).className)
    .slice(0, 8)"""


def assert_no_sideways_scroll(page, width):
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > width:
        raise PageScrollsSideways(
            f"page is {scroll_width}px wide at a {width}px viewport; too wide: {page.evaluate(_TOO_WIDE_JS, width)}"
        )


def test_overview_readable_at_320px(new_page, live_server, overview):
    page = new_page(viewport={"width": 320, "height": 640})
    page.goto(live_server.url + overview.get_absolute_url())

    h1 = page.locator("h1")
    expect(h1).to_have_count(1)
    expect(h1).to_be_visible()
    expect(h1).to_have_text(overview.title)
    expect(h1).to_be_in_viewport()
    expect(page.locator(".table-scroll table.trials")).to_be_visible()
    expect(page.locator(".prose table")).to_have_count(1)
    expect(page.locator(".prose", has_text=LONG_WORD[:20])).to_be_visible()

    # No horizontal scrolling of the page: wide tables scroll inside their own region.
    assert_no_sideways_scroll(page, 320)


WIDE_TABLE = """Results of the main studies:

| Study | Phase | Patients | Treatment given | Median overall survival | Main side effects |
|-------|-------|----------|-----------------|-------------------------|-------------------|
| EMPHACIS | III | 456 | pemetrexed + cisplatin | 12.1 months | neutropenia, nausea |
"""


def test_markdown_table_scrolls_inside_its_region_at_320px(new_page, live_server):
    overview = make_overview(title="Results")
    make_section(overview, heading="Studies", slug="studies", body=WIDE_TABLE)
    page = new_page(viewport={"width": 320, "height": 640})
    page.goto(live_server.url + overview.get_absolute_url())

    expect(page.locator(".prose table th", has_text="Median overall survival")).to_be_attached()
    assert_no_sideways_scroll(page, 320)


def test_skip_link_and_keyboard_focus(page, live_server, overview):
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")

    focused = page.locator(":focus")
    expect(focused).to_have_text("Skip to main content")
    expect(focused).to_have_class("skip-link")
    expect(focused).to_be_in_viewport(ratio=1)
    box = focused.bounding_box()
    viewport = page.viewport_size
    assert box["x"] >= 0 and box["y"] >= 0, box
    assert box["x"] + box["width"] <= viewport["width"] and box["y"] + box["height"] <= viewport["height"], box

    page.keyboard.press("Enter")
    expect(page).to_have_url(live_server.url + "/#main")
    assert page.evaluate("location.hash") == "#main"
    # Focus moves into the main content, so the next Tab continues from there.
    expect(page.locator("main#main")).to_be_focused()


def test_page_works_without_javascript(new_page, live_server, overview):
    page = new_page(java_script_enabled=False)
    page.goto(live_server.url + overview.get_absolute_url())

    expect(page.locator("section.treatment-option h2")).to_have_text(["Chemotherapy", "Surgery"])
    # Numbered in reading order: intro cites taub (1), then the chemotherapy section cites vogelzang (2).
    expect(page.locator(".intro sup.citation a")).to_have_attribute("href", "#ref-1")
    expect(page.locator("#chemotherapy .prose sup.citation").first).to_have_text("Reference 2")
    expect(page.locator("#chemotherapy .trials sup.citation a")).to_have_attribute("href", "#ref-2")
    expect(page.locator("#surgery sup.citation a")).to_have_attribute("href", "#ref-1")
    references = page.locator("section.references li")
    expect(references).to_have_count(2)
    expect(page.locator("#ref-1")).to_contain_text("Gemcitabine in malignant mesothelioma")
    expect(page.locator("#ref-2")).to_contain_text("Phase III study of pemetrexed with cisplatin")

    # The citation is an ordinary link, so it works without script.
    page.locator(".intro sup.citation a").click()
    expect(page).to_have_url(live_server.url + overview.get_absolute_url() + "#ref-1")


def test_no_external_requests(page, live_server, overview):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(live_server.url + overview.get_absolute_url(), wait_until="networkidle")

    own = live_server.url + "/"
    assert any(url.endswith(".css") for url in requests), requests  # the recording works
    assert [url for url in requests if not url.startswith(own)] == []
