"""“Was this page helpful?” in a real browser with JavaScript off: the form in the stored page posts (the browser
sends its own Origin), the browser asks for an answer before sending, and the thank-you and error pages pass axe."""

import pytest
from playwright.sync_api import expect

from feedback.models import Feedback
from pages.models import Page
from tests.browser.axe import assert_no_violations, require_axe
from tests.factories import make_overview, make_section

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def overview():
    page = make_overview(title="Stage IV", slug="stage-iv", summary="A guide.", intro="About this cancer.")
    make_section(page, heading="Chemotherapy", slug="chemotherapy", body="Drugs kill cancer cells.")
    return page


def open_page(new_page, live_server, overview, javascript=False):
    # With JavaScript on, only for axe, which is injected as a script (bypass_csp: the site forbids inline ones).
    options = {"java_script_enabled": False} if not javascript else {"bypass_csp": True}
    page = new_page(viewport={"width": 1280, "height": 800}, **options)
    response = page.goto(live_server.url + overview.get_absolute_url())
    assert response.status == 200
    stored = Page.objects.get(path=overview.get_absolute_url()).current
    assert response.body() == stored.content.html  # the page as stored for every visitor
    return page


def test_the_stored_page_form_posts_without_javascript_and_thanks_the_reader(new_page, live_server, overview):
    require_axe()
    page = open_page(new_page, live_server, overview)
    form = page.locator("form.feedback-form")
    expect(form.get_by_role("group", name="Was this page helpful?")).to_be_visible()
    expect(form.locator("#feedback-website")).to_be_hidden()  # the honeypot
    form.get_by_label("No").check()
    form.get_by_label("How could we make this page better? (optional)").fill("Please explain the word 'pleura'.")
    form.get_by_role("button", name="Send feedback").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for your feedback")
    expect(page.get_by_role("link", name="Back to “Stage IV”")).to_have_attribute("href", "/treatment/stage-iv/")
    (stored,) = Feedback.objects.all()
    assert (stored.page, stored.helpful, stored.comment) == ("/treatment/stage-iv/", False, stored.comment)
    assert stored.comment == "Please explain the word 'pleura'."
    checked = new_page(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    checked.goto(page.url)
    assert_no_violations(checked, "the thank-you page", [1280, 320])


def test_the_browser_asks_for_an_answer_before_sending(new_page, live_server, overview):
    page = open_page(new_page, live_server, overview)
    page.get_by_label("How could we make this page better? (optional)").fill("No answer ticked.")
    page.get_by_role("button", name="Send feedback").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Stage IV")  # still on the page: nothing was sent
    assert page.evaluate("document.querySelector('#feedback-yes').validity.valueMissing")
    assert not Feedback.objects.exists()


def test_a_refused_comment_comes_back_in_the_form_on_an_accessible_page(new_page, live_server, overview):
    require_axe()
    page = open_page(new_page, live_server, overview, javascript=True)
    page.get_by_label("Yes").check()
    # Typing stops at 1,000 characters (maxlength); a text set another way reaches the server, which refuses it.
    page.eval_on_selector(
        "#feedback-comment", "el => { el.removeAttribute('maxlength'); el.value = 'x'.repeat(1001); }"
    )
    page.get_by_role("button", name="Send feedback").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your feedback was not sent")
    expect(page.get_by_role("alert")).to_contain_text("Your comment is 1001 characters long")
    expect(page.locator("#feedback-comment")).to_have_value("x" * 1001)
    expect(page.get_by_label("Yes")).to_be_checked()
    assert not Feedback.objects.exists()
    assert_no_violations(page, "the refused feedback page", [1280, 320])
