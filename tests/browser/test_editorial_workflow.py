"""The editorial workflow in a real browser, as an editor and a medical reviewer use it on the seed page.

These tests also take the screenshots of docs/editorial.md: `make screenshots` (UPDATE_SCREENSHOTS=1) writes them
to docs/editorial/; otherwise they go to pytest's temporary folder, so every run still takes them.
"""

import datetime
import os
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from editorial.models import Revision, Status
from editorial.workflow import approve, editing, submit
from references.models import Reference
from tests.browser.test_admin_editor import PASSWORD, login
from treatments.models import Overview, ReviewerProfile
from treatments.roles import EDITOR, MEDICAL_REVIEWER, ensure_editorial_groups

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "editorial"
VIEWPORT = {"width": 1200, "height": 800}

# Rewordings of a sentence of the seed's "Surgery" section (no new medical statement).
LIVE = "Taking it out may make it easier to breathe."
FIRST_TRY = "Taking it out can make breathing easier."
SECOND_TRY = "Taking it out may help you breathe more easily."
COMMENT = "Please keep “may”: not everyone breathes more easily after this operation."
LATER = "Debulking means the surgeon removes as much of the tumor as they can."
LIVE_LATER = "Debulking means the surgeon takes out as much of the tumor as they can."


@pytest.fixture
def shoot(tmp_path):
    """shoot(page or locator, name): a PNG screenshot, into docs/editorial/ when UPDATE_SCREENSHOTS=1."""
    folder = DOCS_SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)

    def take(target, name, **options):
        path = folder / f"{name}.png"
        target.screenshot(path=str(path), animations="disabled", **options)
        assert path.stat().st_size > 1000, path
        return path

    return take


def top_of(page, height=260):
    """The top of the window: the page header and the messages."""
    return {"clip": {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height}}


@pytest.fixture
def people():
    """An editor and a medical reviewer (named on the pages by their live profile), and the seed content."""
    if not Group.objects.filter(name=MEDICAL_REVIEWER).exists():  # flushed by an earlier test that committed
        ensure_editorial_groups(apps)
    editor = User.objects.create_user("sam.editor", "sam@example.org", PASSWORD, is_staff=True)
    editor.groups.add(Group.objects.get(name=EDITOR))
    reviewer = User.objects.create_user("jane.doe", "jane@example.org", PASSWORD, is_staff=True)
    reviewer.groups.add(Group.objects.get(name=MEDICAL_REVIEWER))
    ReviewerProfile.objects.create(
        user=reviewer, display_name="Jane Doe", credentials="MD, thoracic oncologist", status=Status.PUBLISHED
    )
    call_command("load_seed", verbosity=0)  # also gives the profile its live version 1
    return editor, reviewer


@pytest.fixture
def seed_page():
    overview = Overview.objects.get(slug="stage-iv-recurrent-pleural-mesothelioma")
    section = overview.sections.get(heading="Surgery")
    assert LIVE in section.body and LIVE_LATER in section.body
    return overview, section


@pytest.fixture
def browse(new_page, live_server):
    """browse(username or None): a window of its own (cookies included); logged in unless None."""

    def open_window(username=None):
        window = new_page(viewport=VIEWPORT)
        if username:
            login(window, live_server, username)
        return window

    return open_window


def change_url(live_server, record):
    opts = record._meta
    return f"{live_server.url}/admin/{opts.app_label}/{opts.model_name}/{record.pk}/change/"


def edit_body(page, old, new, shown=None):
    body = page.locator("textarea#id_body")
    text = body.input_value()
    assert old in text
    body.fill(text.replace(old, new))
    expect(page.locator("#id_body ~ .markdownx-preview")).to_contain_text(shown or new)  # the live preview follows


def public_section(page, live_server, overview, section):
    page.goto(live_server.url + overview.get_absolute_url())
    return page.locator(f"#{section.slug} .prose")


def state_box(page):
    """The "Medical review" box of a change form: the record's state and the send-for-review tick."""
    return page.locator("fieldset", has=page.locator("#id_submit_for_review"))


def draft_of(section):
    section.refresh_from_db()
    return section.draft_revision


def submitted_change(section, editor, old, new):
    """An editor's change to the section's text, sent for review, made as the admin makes it."""
    with editing(editor, section) as session:
        session.record.body = session.record.body.replace(old, new)
        session.record.save()
    return submit(section, editor)


def test_edit_send_back_resubmit_and_publish(browse, live_server, people, seed_page, shoot):
    editor, reviewer = people
    overview, section = seed_page

    # The editor opens the section from the list of treatment options and rewrites a sentence.
    ed = browse("sam.editor")
    ed.goto(f"{live_server.url}/admin/treatments/treatmentoption/")
    ed.locator("#result_list").get_by_role("link", name="Surgery", exact=True).click()
    expect(ed.locator("#content h2").first).to_have_text(str(section))
    expect(state_box(ed)).to_contain_text("Live")
    edit_body(ed, LIVE, FIRST_TRY)
    shoot(ed.locator(".form-row.field-body"), "01-editor-changes-a-sentence")
    ed.check("#id_submit_for_review")
    shoot(state_box(ed), "02-send-for-medical-review")
    ed.click("input[name=_continue]")

    # Saved as a draft and sent for review; the live version is untouched.
    message = ed.locator(".messagelist .success")
    expect(message).to_contain_text("as revision 2 and sent it for medical review")
    expect(message).to_contain_text("Patients still see the live version until a medical reviewer publishes this one")
    expect(state_box(ed)).to_contain_text("Live + in review")
    expect(state_box(ed)).to_contain_text("Working draft: revision 2, saved by sam.editor")
    expect(ed.locator("textarea#id_body")).to_contain_text(FIRST_TRY)  # the form shows the draft
    shoot(ed, "03-saved-as-a-draft", **top_of(ed, 240))
    shoot(state_box(ed), "04-state-live-in-review")
    section.refresh_from_db()
    assert LIVE in section.body and FIRST_TRY not in section.body
    assert section.status == Status.PUBLISHED and section.reviewed_by is None
    draft = section.draft_revision
    assert (draft.number, draft.state, draft.created_by, draft.submitted_by) == (2, "in_review", editor, editor)
    assert FIRST_TRY in draft.data["fields"]["body"]

    # "Compare draft with live": the words that changed.
    ed.get_by_role("link", name="Compare draft with live").click()
    expect(ed.locator("#content-main")).to_contain_text("From the live version to revision 2")
    expect(ed.locator(".diff del").first).to_have_text("may")
    expect(ed.locator(".diff ins").first).to_have_text("can")
    shoot(ed.locator("#content-main"), "05-compare-draft-with-live")

    # Patients still get the live sentence; the page cache keeps nothing of the draft.
    patient = browse()
    prose = public_section(patient, live_server, overview, section)
    expect(prose).to_contain_text(LIVE)
    expect(prose).not_to_contain_text(FIRST_TRY)
    expect(patient.locator(".preview-changes, .preview-banner")).to_have_count(0)
    expect(patient.locator(".review-dates")).to_contain_text("Not yet medically reviewed")  # the seed has no review
    shoot(patient.locator(f"#{section.slug}"), "06-patients-still-see-the-live-version")

    # The editor's preview at the same address: the draft, with the banner listing what differs from live.
    prose = public_section(ed, live_server, overview, section)
    expect(prose).to_contain_text(FIRST_TRY)
    expect(prose).not_to_contain_text(LIVE)
    banner = ed.locator(".preview-changes")
    expect(banner).to_contain_text("this page shows changes that are not live yet")
    expect(banner.locator("li")).to_have_count(1)
    expect(banner.locator("li")).to_contain_text("Treatment option")
    expect(banner.locator("li")).to_contain_text("Live + in review")
    expect(banner.get_by_role("link", name=str(section))).to_have_attribute(
        "href", f"/admin/treatments/treatmentoption/{section.pk}/change/"
    )
    shoot(banner, "07-preview-banner")
    shoot(ed.locator(f"#{section.slug}"), "08-preview-shows-the-draft")

    # The editor can follow the page's review screen from the admin home too, but only a reviewer decides there.
    ed.goto(f"{live_server.url}/admin/")
    ed.locator("#editorial-dashboard").get_by_role("link", name="Review this page's changes").click()
    expect(ed.locator(".pending-change")).to_contain_text(f"Treatment option: {section}")
    expect(ed.locator(".pending-change .diff ins").first).to_have_text("can")
    expect(ed.locator("input[name=revision]")).to_have_count(0)
    expect(ed.get_by_role("button", name="Publish ticked changes now")).to_be_hidden()
    expect(ed.locator(".review-readonly")).to_have_text(
        "A medical reviewer publishes these changes, or sends them back with a comment."
    )

    # The reviewer finds the change on the admin home, under the page it is on.
    rv = browse("jane.doe")
    dashboard = rv.locator("#editorial-dashboard")
    expect(dashboard).to_contain_text("Changes waiting to go live (1), by page")
    page_row = dashboard.locator("table").first.locator("th", has_text=overview.title)  # under "Changes waiting"
    expect(page_row.get_by_role("link", name=overview.title)).to_have_attribute("href", overview.get_absolute_url())
    change_row = dashboard.locator("tr", has_text="Surgery")
    expect(change_row).to_contain_text("treatment option, Live + in review")
    expect(change_row).to_contain_text("waiting")
    shoot(dashboard, "09-dashboard")

    # The page's review screen: every change on the page, with the words that changed.
    page_row.get_by_role("link", name="Review this page's changes").click()
    expect(rv.locator("h1")).to_have_text(f"Review the changes on “{overview}”")
    changes = rv.locator(".pending-change")
    expect(changes).to_have_count(1)
    expect(changes).to_contain_text(f"Treatment option: {section}")
    expect(changes).to_contain_text("Live + in review · revision 2 by sam.editor")
    expect(changes.locator(f"input[name=revision][value='{draft.pk}']")).to_be_checked()
    expect(changes.locator(".diff del").first).to_have_text("may")
    expect(changes.locator(".diff ins").first).to_have_text("can")

    # It goes back to the editor with a comment.
    rv.fill("#id_comment", COMMENT)
    expect(rv.locator(".review-readonly")).to_be_hidden()
    shoot(rv.locator("#content-main"), "10-review-screen")
    rv.click("button[value=send_back]")
    expect(rv.locator(".messagelist .success")).to_have_text("Sent back to the editor with your comment.")
    draft.refresh_from_db()
    assert (draft.state, draft.comment, draft.sent_back_by) == ("draft", COMMENT, reviewer)
    section.refresh_from_db()
    assert LIVE in section.body and section.draft_revision_id == draft.pk

    # The editor sees the comment on the record, edits again and sends it back for review.
    ed.goto(change_url(live_server, section))
    expect(state_box(ed)).to_contain_text("Live + draft")
    expect(state_box(ed)).to_contain_text(f"Sent back by jane.doe: {COMMENT}")
    shoot(state_box(ed), "11-sent-back-with-a-comment")
    edit_body(ed, FIRST_TRY, SECOND_TRY)
    ed.check("#id_submit_for_review")
    ed.click("input[name=_save]")
    expect(ed.locator(".messagelist .success")).to_contain_text("as revision 3 and sent it for medical review")
    expect(ed.locator("#result_list tr", has_text="Surgery")).to_contain_text("Live + in review")
    resubmitted = draft_of(section)
    assert (resubmitted.number, resubmitted.state, resubmitted.comment) == (3, "in_review", "")
    draft.refresh_from_db()
    assert draft.state == "superseded"

    # The reviewer opens the record, follows "Review changes" and publishes.
    rv.goto(change_url(live_server, section))
    rv.get_by_role("link", name="Review changes").click()
    changes = rv.locator(".pending-change")
    expect(changes).to_have_count(1)
    expect(changes).to_contain_text("revision 3 by sam.editor")
    expect(changes).not_to_contain_text(COMMENT)
    expect(changes.locator(".diff").first.locator("ins")).to_have_text(["help", "you", "more easily"])
    rv.fill("#id_note", "Changed how we describe the benefit of surgery.")
    rv.click("button[value=publish]")
    expect(rv.locator(".messagelist .success")).to_have_text("Published 1 change(s). Patients see them now.")
    expect(rv.locator("#content-main")).to_contain_text("Nothing is waiting for review here.")
    section.refresh_from_db()
    assert SECOND_TRY in section.body and LIVE not in section.body
    assert section.status == Status.PUBLISHED and section.draft_revision is None
    today = timezone.localdate()
    assert (section.live_revision.number, section.reviewed_by, section.reviewed_on) == (3, reviewer, today)
    assert section.review_due == today + datetime.timedelta(days=365)
    resubmitted.refresh_from_db()
    assert (resubmitted.state, resubmitted.approved_by) == ("published", reviewer)

    # Patients now read the new sentence (the cached page was replaced), and the admin home is clear.
    prose = public_section(patient, live_server, overview, section)
    expect(prose).to_contain_text(SECOND_TRY)
    expect(prose).not_to_contain_text(LIVE)
    expect(patient.locator(".review-dates")).to_contain_text(f"Last updated {timezone.localdate():%-d %B %Y}")
    shoot(patient.locator(f"#{section.slug}"), "12-patients-see-the-published-change")
    rv.goto(f"{live_server.url}/admin/")
    expect(rv.locator("#editorial-dashboard")).to_contain_text("Nothing is waiting for review.")


def test_schedule_a_change_to_go_live_later(browse, live_server, people, seed_page, shoot):
    editor, reviewer = people
    overview, section = seed_page
    ed = browse("sam.editor")
    ed.goto(change_url(live_server, section))
    edit_body(ed, LIVE_LATER, LATER)
    ed.check("#id_submit_for_review")
    ed.click("input[name=_continue]")
    expect(state_box(ed)).to_contain_text("Live + in review")
    draft = draft_of(section)

    # The reviewer approves it for a go-live time (not waited for here: tests/editorial/test_scheduling.py
    # checks the publication itself with a frozen clock).
    go_live = (timezone.localtime() + datetime.timedelta(days=1)).replace(hour=7, minute=0, second=0, microsecond=0)
    rv = browse("jane.doe")
    rv.goto(change_url(live_server, section))
    rv.get_by_role("link", name="Review changes").click()
    expect(rv.locator(".pending-change")).to_contain_text("revision 2 by sam.editor")
    rv.fill("#id_go_live_at_0", f"{go_live:%Y-%m-%d}")
    rv.fill("#id_go_live_at_1", f"{go_live:%H:%M}")
    expect(rv.locator(".field-go_live_at")).to_contain_text(f"Times are {timezone.get_default_timezone_name()}")
    shoot(rv.locator("form fieldset.module"), "13-schedule-go-live-time")
    rv.check("#id_minor")
    rv.click("button[value=schedule]")
    expect(rv.locator(".messagelist .success")).to_have_text(
        f"Approved. 1 change(s) go live on {go_live:%d %b %Y %H:%M}."
    )
    scheduled = rv.locator(".pending-change")
    expect(scheduled).to_contain_text("Live + scheduled · revision 2")
    expect(scheduled).to_contain_text(f"goes live {go_live:%-d %b %Y %H:%M}")

    draft.refresh_from_db()
    assert (draft.state, draft.go_live_at, draft.approved_by) == ("scheduled", go_live, reviewer)
    section.refresh_from_db()
    assert LIVE_LATER in section.body and section.draft_revision_id == draft.pk

    # The lists show it as scheduled; until the go-live time patients keep the live text.
    ed.goto(f"{live_server.url}/admin/treatments/treatmentoption/?state=scheduled")
    expect(ed.locator("#result_list tbody tr")).to_have_count(1)
    expect(ed.locator("#result_list tbody tr")).to_contain_text("Surgery")
    expect(ed.locator("#result_list tbody tr")).to_contain_text("Live + scheduled")
    ed.click("#toggle-nav-sidebar")  # room for the whole table
    shoot(ed.locator("#changelist"), "14-scheduled-in-the-list")
    prose = public_section(browse(), live_server, overview, section)
    expect(prose).to_contain_text(LIVE_LATER)
    expect(prose).not_to_contain_text(LATER)


def test_publishing_refuses_a_citation_of_a_reference_that_is_not_live(browse, live_server, people, seed_page, shoot):
    editor, reviewer = people
    overview, section = seed_page
    # A reference imported from a file arrives as a draft (references/importing.py); test data, not a real work.
    reference = Reference.objects.create(
        key="example-2024", authors="Example A", title="Example title (test data)", source="Example J", year=2024
    )
    assert reference.status == Status.DRAFT

    ed = browse("sam.editor")
    ed.goto(change_url(live_server, section))
    cited = SECOND_TRY.removesuffix(".")
    edit_body(ed, LIVE, f"{cited} [@example-2024].", shown=cited)
    ed.check("#id_submit_for_review")
    ed.click("input[name=_continue]")
    expect(ed.locator(".messagelist .success")).to_contain_text("sent it for medical review")

    # The page's review screen lists the section and the reference it now cites.
    rv = browse("jane.doe")
    rv.goto(change_url(live_server, section))
    rv.get_by_role("link", name="Review changes").click()
    changes = rv.locator(".pending-change")
    expect(changes).to_have_count(2)
    reference_change = changes.filter(has_text="Reference: example-2024")
    expect(reference_change).to_contain_text("Draft · revision 1")

    # Publishing the section alone would leave the live page citing a reference patients cannot see.
    reference_change.locator("input[name=revision]").uncheck()
    rv.fill("#id_note", "Changed how we describe the benefit of surgery.")
    rv.click("button[value=publish]")
    error = rv.locator(".messagelist .error")
    expect(error).to_contain_text("Nothing was published:")
    expect(error).to_contain_text(f"Treatment option “{section}”: cited references “{reference}” is not live.")
    expect(error).to_contain_text("Publish it in the same step, or remove it.")
    shoot(rv, "15-publish-refused", **top_of(rv, 200))
    section.refresh_from_db()
    reference.refresh_from_db()
    assert LIVE in section.body and section.draft_revision.state == "in_review"
    assert reference.status == Status.DRAFT

    # Both together go live.
    expect(changes.locator("input[name=revision]")).to_have_count(2)
    changes.locator("input[name=revision]").nth(0).check()
    changes.locator("input[name=revision]").nth(1).check()
    rv.fill("#id_note", "Changed how we describe the benefit of surgery.")
    rv.click("button[value=publish]")
    expect(rv.locator(".messagelist .success")).to_have_text("Published 2 change(s). Patients see them now.")
    section.refresh_from_db()
    reference.refresh_from_db()
    assert section.status == reference.status == Status.PUBLISHED
    assert list(section.cites.values_list("key", flat=True)) == ["example-2024"]
    patient = browse()
    public_section(patient, live_server, overview, section)
    expect(patient.locator("section.references")).to_contain_text("Example title (test data)")


def test_revert_makes_an_earlier_revision_the_draft_again(browse, live_server, people, seed_page, shoot):
    editor, reviewer = people
    overview, section = seed_page
    approve([submitted_change(section, editor, LIVE, SECOND_TRY)], reviewer)  # revision 2 is live
    section.refresh_from_db()
    assert SECOND_TRY in section.body

    # The editor lists the section's revisions and opens the first one: compared with live.
    ed = browse("sam.editor")
    ed.goto(change_url(live_server, section))
    ed.locator(".object-tools").get_by_role("link", name="Revisions").click()
    rows = ed.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Live now")
    ed.click("#toggle-nav-sidebar")  # room for the whole table
    shoot(ed.locator("#result_list"), "16-revisions")
    first = Revision.objects.get(object_id=section.pk, content_type__model="treatmentoption", number=1)
    ed.locator(f"#result_list a[href$='/{first.pk}/compare/']").click()
    expect(ed.locator("#content-main")).to_contain_text("From the live version to revision 1")
    expect(ed.locator(".diff").first.locator("del")).to_have_text(["help", "you", "more easily"])
    shoot(ed.locator("#content-main"), "17-compare-and-revert")

    # Reverting makes a new draft with the old text; nothing changes for patients until a reviewer publishes it.
    ed.get_by_role("button", name="Make this version the working draft").click()
    expect(ed.locator(".messagelist .success")).to_have_text(
        "Made revision 3, a draft with the content of revision 1. A medical reviewer publishes it."
    )
    expect(state_box(ed)).to_contain_text("Live + draft")
    expect(ed.locator("textarea#id_body")).to_contain_text(LIVE)
    shoot(ed, "18-reverted", **top_of(ed, 200))
    draft = draft_of(section)
    assert (draft.number, draft.state, draft.based_on, draft.data) == (3, "draft", first, first.data)
    assert SECOND_TRY in section.body and section.live_revision.number == 2
    prose = public_section(browse(), live_server, overview, section)
    expect(prose).to_contain_text(SECOND_TRY)


# --- Problems the walkthrough found, fixed since ------------------------------------------------------------


def test_a_scheduled_record_shows_its_state_and_go_live_time(browse, live_server, people, seed_page):
    editor, reviewer = people
    _, section = seed_page
    go_live = (timezone.localtime() + datetime.timedelta(days=1)).replace(hour=7, minute=0, second=0, microsecond=0)
    approve([submitted_change(section, editor, LIVE_LATER, LATER)], reviewer, go_live_at=go_live)
    ed = browse("sam.editor")
    ed.goto(change_url(live_server, section))
    expect(state_box(ed)).to_contain_text("Live + scheduled", timeout=1000)
    expect(state_box(ed)).to_contain_text(f"Approved; goes live on {go_live:%d %b %Y %H:%M}.", timeout=1000)


def test_sending_a_section_for_review_from_its_overview_page_keeps_the_change(browse, live_server, people, seed_page):
    editor, _ = people
    overview, section = seed_page
    ed = browse("sam.editor")
    ed.goto(change_url(live_server, overview))
    prefix = ed.locator(f"input[name^='sections-'][name$='-id'][value='{section.pk}']").get_attribute("name")[:-3]
    body = ed.locator(f"textarea[name='{prefix}-body']")
    body.fill(body.input_value().replace(LIVE, FIRST_TRY))
    ed.check("#id_submit_for_review")
    ed.click("input[name=_continue]")
    expect(ed.locator(".messagelist")).to_be_visible()
    expect(ed.locator(".messagelist")).to_contain_text(f"Saved your change to Treatment option “{section}”")
    draft = draft_of(section)
    assert draft is not None and FIRST_TRY in draft.data["fields"]["body"]
    assert draft.state == "in_review"


def test_a_page_whose_changes_a_reviewer_published_names_the_reviewer(browse, live_server, people, seed_page):
    editor, reviewer = people
    overview, section = seed_page
    revision = submitted_change(section, editor, LIVE, SECOND_TRY)
    rv = browse("jane.doe")
    rv.goto(change_url(live_server, section))
    rv.locator(".object-tools").get_by_role("link", name="Review changes").click()
    expect(rv.locator(f"#revision-{revision.pk}")).to_be_checked()
    rv.check("#id_review_page")  # "Also record my medical review of the whole page"
    rv.check("#id_minor")
    rv.get_by_role("button", name="Publish ticked changes now").click()
    expect(rv.locator(".messagelist .success")).to_contain_text("Published 1 change")
    patient = browse()
    expect(public_section(patient, live_server, overview, section)).to_contain_text(SECOND_TRY)
    expect(patient.locator(".review-dates")).to_contain_text(
        "Medically reviewed by Jane Doe, MD, thoracic oncologist", timeout=1000
    )
