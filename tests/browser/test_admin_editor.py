"""The admin's Markdown editor in a real browser: live preview, citation checks, saving."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.factories import make_overview, make_reference, make_section, publish_drafts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-staple"

# Each hostile line would set window.pwned if the preview or the page let it run.
HOSTILE = '<script>window.pwned=1</script>\n\n<img src="x" onerror="window.pwned=2">'

TABLE = "| Drug | Given |\n|------|-------|\n| pemetrexed | every 3 weeks |"


def login(page, live_server, username="editor"):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/admin/")


@pytest.fixture
def editor_content():
    get_user_model().objects.create_superuser("editor", "editor@example.com", PASSWORD)
    reference = make_reference(key="smith-2020", title="Pemetrexed with cisplatin in pleural mesothelioma")
    overview = make_overview(title="Stage IV pleural mesothelioma")
    section = make_section(overview, heading="Chemotherapy", body="The old body text.")
    return reference, overview, section


def open_section(page, live_server, section):
    page.goto(f"{live_server.url}/admin/treatments/treatmentoption/{section.pk}/change/")
    editor = page.locator("textarea#id_body.markdownx-editor")
    expect(editor).to_be_visible()
    # markdownx marks the textarea once its listeners are mounted.
    expect(editor).to_have_attribute("data-markdownx-init", "")
    return editor, page.locator("#id_body ~ .markdownx-preview")


def test_admin_live_preview_and_save(page, live_server, editor_content):
    reference, overview, section = editor_content
    login(page, live_server)
    editor, preview = open_section(page, live_server, section)

    editor.fill(f"Some **bold words** here [@smith-2020].\n\n{TABLE}\n\n{HOSTILE}\n")

    expect(preview.locator("strong", has_text="bold words")).to_be_visible()
    expect(preview.locator("sup.citation")).to_have_count(1)
    expect(preview.locator("sup.citation a")).to_have_attribute("href", "#ref-1")
    expect(preview.locator("table td", has_text="pemetrexed")).to_be_visible()
    expect(preview.locator("#ref-1")).to_contain_text(reference.title)
    expect(preview.locator("script")).to_have_count(0)
    expect(preview.locator("[onerror]")).to_have_count(0)
    assert page.evaluate("typeof window.pwned") == "undefined"

    # Typing an unknown key: the preview names it before the editor saves.
    editor.press("Control+End")
    editor.press_sequentially("Also [@no-such-key].")
    warning = preview.locator(".preview-warning")
    expect(warning).to_contain_text("no-such-key")
    expect(warning).to_have_attribute("role", "alert")

    new_body = f"Treatment helps **some people** live longer [@smith-2020].\n\n{TABLE}\n\n{HOSTILE}\n"
    editor.fill(new_body)
    expect(preview.locator("strong", has_text="some people")).to_be_visible()
    expect(preview.locator(".preview-warning")).to_have_count(0)
    page.click("input[name=_save]")

    expect(page.locator(".messagelist .success")).to_contain_text("as a draft")
    section.refresh_from_db()
    # Browsers submit textarea line breaks as CRLF; the draft stores plain line breaks.
    assert section.draft_revision.data["fields"]["body"] == new_body.strip()
    publish_drafts(section)  # a medical reviewer approves it
    section.refresh_from_db()
    assert section.body == new_body.strip()
    assert list(section.cites.values_list("key", flat=True)) == ["smith-2020"]

    page.goto(live_server.url + overview.get_absolute_url())
    prose = page.locator(f"#{section.slug} .prose")
    expect(prose).to_contain_text("Treatment helps some people live longer")
    expect(prose.locator("strong", has_text="some people")).to_be_visible()
    citation = prose.locator("sup.citation a")
    expect(citation).to_have_count(1)
    expect(citation).to_have_attribute("href", "#ref-1")
    expect(citation).to_have_text("1")
    expect(page.locator("section.references li#ref-1")).to_contain_text(reference.title)
    expect(prose.locator("script")).to_have_count(0)
    assert page.evaluate("typeof window.pwned") == "undefined"

    # The citation link really jumps to the reference list entry.
    citation.click()
    expect(page).to_have_url(live_server.url + overview.get_absolute_url() + "#ref-1")
    expect(page.locator("#ref-1")).to_be_in_viewport()


def test_admin_refuses_unknown_citation_key(page, live_server, editor_content):
    _, _, section = editor_content
    login(page, live_server)
    editor, _ = open_section(page, live_server, section)

    typed = "A careful sentence worth keeping [@missing-key].\n\nA second paragraph."
    editor.fill(typed)
    page.click("input[name=_save]")

    # Redisplayed, not saved: the error names the key, next to the body field.
    expect(page.locator(".errornote")).to_be_visible()
    expect(page.locator(".field-body .errorlist")).to_contain_text("missing-key")
    expect(page.locator(".messagelist .success")).to_have_count(0)
    expect(page).to_have_url(f"{live_server.url}/admin/treatments/treatmentoption/{section.pk}/change/")
    # Nothing the editor typed is lost.
    expect(page.locator("textarea#id_body")).to_have_value(typed)

    section.refresh_from_db()
    assert section.body == "The old body text."
    assert section.cites.count() == 0
