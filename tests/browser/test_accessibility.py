"""Accessibility in a real browser: axe-core on every public page type, keyboard focus, text resized to 200%.

Content is the seed (fixtures/seed.json, via `load_seed`). axe-core is injected from node_modules
(`npm ci`); pages themselves load nothing from elsewhere.
"""

import pytest
from playwright.sync_api import expect

from tests.a11y_pages import CONTENT, NOT_FOUND, PAGES, load_seed, session_cookie_for, set_up_staff_preview
from tests.browser.axe import assert_no_violations, require_axe

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [1280, 320]
HEIGHT = 800


def open_page(new_page, live_server, name, width, **context_options):
    # bypass_csp: axe is injected as an inline script, which the site's Content-Security-Policy forbids.
    page = new_page(viewport={"width": width, "height": HEIGHT}, bypass_csp=True, **context_options)
    response = page.goto(live_server.url + PAGES[name])
    expected = 404 if name in NOT_FOUND else 200
    assert response.status == expected, f"{PAGES[name]} answered {response.status}, expected {expected}"
    if name in CONTENT:
        expect(page.locator(CONTENT[name]).first).to_be_attached()
    return page


@pytest.mark.parametrize("name", PAGES)
def test_no_axe_violations(new_page, live_server, name):
    """Each public page type, at 1280px and at 320px wide."""
    require_axe()
    load_seed()
    page = open_page(new_page, live_server, name, WIDTHS[0])
    assert_no_violations(page, PAGES[name], WIDTHS)


def test_no_axe_violations_in_staff_preview(new_page, live_server):
    """Staff see unpublished content under a preview banner, with "not public" badges."""
    require_axe()
    load_seed()
    name, value = session_cookie_for(set_up_staff_preview())
    page = new_page(viewport={"width": WIDTHS[0], "height": HEIGHT}, bypass_csp=True)
    page.context.add_cookies([{"name": name, "value": value, "url": live_server.url}])
    page.goto(live_server.url + PAGES["overview"])
    expect(page.locator(".preview-banner")).to_be_visible()
    expect(page.locator("h2 .badge")).to_have_count(1)
    assert_no_violations(page, f"{PAGES['overview']} previewed by staff", WIDTHS)


def test_no_axe_violations_with_a_glossary_popup_open(new_page, live_server):
    """A marked word opened from the keyboard: its pop-up passes axe, its Close button takes focus, Escape closes it."""
    require_axe()
    load_seed()
    page = open_page(new_page, live_server, "overview", WIDTHS[0])
    term = page.locator("main a.term").first
    expect(term).to_be_attached()
    term.focus()
    page.keyboard.press("Enter")
    expect(term).to_have_attribute("aria-expanded", "true")
    expect(page.locator(".term-popover")).to_be_visible()
    assert_no_violations(page, f"{PAGES['overview']} with a glossary pop-up open", WIDTHS)

    page.keyboard.press("Tab")
    expect(page.locator(".term-popover button")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator(".term-popover")).to_have_count(0)
    expect(term).to_be_focused()


# What the focused element looks like, or null once focus has left the page (back to <body>).
_FOCUSED_JS = """() => {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return null;
    const style = getComputedStyle(el);
    const rect = el.getBoundingClientRect();
    const x = Math.min(Math.max(rect.left + rect.width / 2, 0), innerWidth - 1);
    const y = Math.min(Math.max(rect.top + rect.height / 2, 0), innerHeight - 1);
    const hit = document.elementFromPoint(x, y);
    let hiddenBy = null;
    for (let node = el; node; node = node.parentElement) {
        const s = getComputedStyle(node);
        if (node.hidden || node.getAttribute('aria-hidden') === 'true' || s.visibility !== 'visible'
            || s.display === 'none' || parseFloat(s.opacity) === 0) {
            hiddenBy = node.tagName.toLowerCase() + (node.className ? '.' + node.className : '');
            break;
        }
    }
    return {
        label: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + el.className : '')
            + ' "' + (el.textContent || el.getAttribute('aria-label') || '').trim().slice(0, 40) + '"',
        focusVisible: el.matches(':focus-visible'),
        outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
        boxShadow: style.boxShadow !== 'none',
        width: rect.width, height: rect.height,
        inViewport: rect.bottom > 0 && rect.right > 0 && rect.top < innerHeight && rect.left < innerWidth,
        onTop: !!hit && (hit === el || el.contains(hit) || hit.contains(el)),
        hiddenBy,
    };
}"""


@pytest.mark.parametrize("width", WIDTHS, ids=lambda width: f"{width}px")
def test_keyboard_focus_is_always_visible(new_page, live_server, width):
    """Tab through the whole overview page: every stop shows a focus ring and is a visible, on-screen element."""
    load_seed()
    page = open_page(new_page, live_server, "overview", width)

    stops, problems = [], []
    for _ in range(400):
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUSED_JS)
        if focused is None:
            break
        stops.append(focused["label"])
        if not focused["focusVisible"]:
            problems.append(f"{focused['label']}: does not match :focus-visible")
        if not (focused["outline"] or focused["boxShadow"]):
            problems.append(f"{focused['label']}: no outline or box-shadow when focused")
        if focused["hiddenBy"]:
            problems.append(f"{focused['label']}: hidden by {focused['hiddenBy']}")
        if focused["width"] < 2 or focused["height"] < 2:
            problems.append(f"{focused['label']}: {focused['width']}x{focused['height']}px, too small to see")
        if not focused["inViewport"]:
            problems.append(f"{focused['label']}: focused off screen")
        elif not focused["onTop"]:
            problems.append(f"{focused['label']}: covered by another element")
    else:
        pytest.fail(f"focus never left the page after {len(stops)} Tabs (a keyboard trap?)")

    assert stops and stops[0].startswith("a.skip-link"), stops[:3]
    assert len(stops) > 10, stops  # the header, contents, citations, tables, references all take focus
    assert problems == [], "\n".join(problems)


# Whether `el` is wholly visible: inside the viewport's width, not overflowing itself, not cut off by an ancestor.
_CLIPPED_JS = """(el) => {
    const problems = [];
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 || rect.height === 0) problems.push('has no size');
    if (rect.left < 0 || rect.right > document.documentElement.clientWidth + 0.5)
        problems.push(`runs outside the page (${rect.left}..${rect.right})`);
    if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
        problems.push(`its text overflows it (${el.scrollWidth}x${el.scrollHeight}`
                      + ` in ${el.clientWidth}x${el.clientHeight})`);
    for (let node = el.parentElement; node && node !== document.body; node = node.parentElement) {
        const s = getComputedStyle(node);
        if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
        const box = node.getBoundingClientRect();
        if (rect.left < box.left - 0.5 || rect.right > box.right + 0.5
            || rect.top < box.top - 0.5 || rect.bottom > box.bottom + 0.5)
            problems.push(`cut off by ${node.tagName.toLowerCase()}.${node.className} (overflow ${s.overflow})`);
    }
    return problems;
}"""


@pytest.mark.parametrize("name", PAGES)
def test_text_resized_to_200_percent(new_page, live_server, name):
    """WCAG 1.4.4: at 200% text size (1280px wide) nothing scrolls sideways and the opening text is all there."""
    load_seed()
    page = open_page(new_page, live_server, name, 1280)
    before = page.evaluate("getComputedStyle(document.body).fontSize")
    page.evaluate("document.documentElement.style.fontSize = '200%'")
    after = page.evaluate("getComputedStyle(document.body).fontSize")
    assert float(after[:-2]) >= 2 * float(before[:-2]) - 0.5, (before, after)

    width = page.evaluate("document.documentElement.scrollWidth")
    client_width = page.evaluate("document.documentElement.clientWidth")
    assert width <= client_width, f"page scrolls sideways at 200% text: {width}px wide in {client_width}px"

    for selector in ["main h1", "main p:not(.eyebrow)"]:
        element = page.locator(selector).first
        expect(element).to_be_visible()
        problems = element.evaluate(_CLIPPED_JS)
        assert problems == [], f"{selector} at 200% text: {'; '.join(problems)}"
