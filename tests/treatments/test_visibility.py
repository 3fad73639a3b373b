"""What the public and staff see of content in each publication state, on every kind of page.

The public (anonymous visitors and logged-in non-staff users) sees published content only, and only once its
publish-at time has passed; any other detail page is a 404. Staff see every state at the same address, under
a "Preview — not published" banner when the content is not public.
"""

import datetime
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format

from tests.factories import make_drug, make_overview, make_reference, make_regimen, make_section, make_trial
from treatments.models import NextLink, Overview, ReviewerProfile, Status

pytestmark = pytest.mark.django_db

STATES = ["draft", "in_review", "archived", "scheduled", "published_earlier", "published"]
PUBLIC_STATES = {"published", "published_earlier"}
VIEWERS = ["anonymous", "member", "staff"]
BANNER = "Preview — not published"
SEED_SLUG = "stage-iv-recurrent-pleural-mesothelioma"


def state(name):
    """Factory keywords that put content in the named state."""
    now = timezone.now()
    if name == "scheduled":  # published, but its publish-at time is still ahead
        return {"status": Status.PUBLISHED, "publish_at": now + datetime.timedelta(days=3)}
    if name == "published_earlier":  # published with a publish-at time that has passed
        return {"status": Status.PUBLISHED, "publish_at": now - datetime.timedelta(days=3)}
    return {"status": Status(name)}


@pytest.fixture
def browse(django_user_model):
    """browse(viewer, url) -> (status code, html) for an anonymous visitor, a logged-in member or staff."""
    clients = {"anonymous": Client()}
    for viewer, is_staff in [("member", False), ("staff", True)]:
        user = django_user_model.objects.create_user(viewer, f"{viewer}@example.org", None, is_staff=is_staff)
        clients[viewer] = Client()
        clients[viewer].force_login(user)

    def get(viewer, url):
        response = clients[viewer].get(url)
        return response.status_code, response.content.decode()

    return get


def expect_shown(viewer, state_name):
    return viewer == "staff" or state_name in PUBLIC_STATES


def link(url, text=None):
    return f'<a href="{url}">{text}</a>' if text is not None else f'<a href="{url}">'


# --- detail pages ----------------------------------------------------------------------------------


def make_page(kind, **fields):
    if kind == "overview":
        return make_overview(title="Page under test", **fields)
    if kind == "drug":
        return make_drug(generic_name="testomab", slug="testomab", **fields)
    return make_trial(title="Trial under test", **fields)


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("state_name", STATES)
@pytest.mark.parametrize("kind", ["overview", "drug", "trial"])
def test_detail_page(browse, kind, state_name, viewer):
    obj = make_page(kind, **state(state_name))
    status, html = browse(viewer, obj.get_absolute_url())
    heading = "Testomab" if kind == "drug" else obj.title
    if not expect_shown(viewer, state_name):
        assert status == 404
        assert heading not in html and "We could not find that page" in html
        return
    assert status == 200
    assert f"<h1>{heading}</h1>" in html
    preview_of_hidden = viewer == "staff" and state_name not in PUBLIC_STATES
    assert (BANNER in html) is preview_of_hidden
    if preview_of_hidden and state_name == "scheduled":
        assert "it is scheduled for" in html


# --- sections of a published overview ---------------------------------------------------------------


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("state_name", STATES)
def test_section_within_published_overview(browse, state_name, viewer):
    """A section never yet published (no last_published_at) is shown only when public."""
    make_reference(key="section-only-ref", title="Study cited only by the section")
    overview = make_overview()
    make_section(overview, heading="Always visible", slug="visible", body="Public body.")
    make_section(
        overview,
        heading="Section under test",
        slug="under-test",
        body="Section text [@section-only-ref].",
        **state(state_name),
    )
    status, html = browse(viewer, overview.get_absolute_url())
    assert status == 200
    assert "Always visible" in html and "Public body." in html
    assert BANNER not in html  # the page itself is public
    shown = expect_shown(viewer, state_name)
    assert ("Section under test" in html) is shown
    assert ("Section text" in html) is shown
    assert ('<a href="#under-test">' in html) is shown  # table of contents
    assert ("Study cited only by the section" in html) is shown  # its reference does not leak either
    assert ("— not public</span>" in html) is (viewer == "staff" and state_name not in PUBLIC_STATES)


UPDATING_NOTICE = "We are updating this section."


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("state_name", ["draft", "in_review", "archived"])
def test_once_published_section_taken_back_shows_a_notice_not_its_text(browse, state_name, viewer):
    """A section that was public and went back to draft or review keeps its place, never its new text."""
    make_reference(key="new-ref", title="Study only the unreviewed text cites")
    overview = make_overview()
    section = make_section(
        overview,
        heading="Section being updated",
        slug="updating",
        body="Unreviewed new text [@new-ref].",
        trials_caption="Trials of the section",
        last_published_at=timezone.now() - datetime.timedelta(days=30),
        **state(state_name),
    )
    section.trials.add(make_trial(title="Trial of the section"))
    status, html = browse(viewer, overview.get_absolute_url())
    assert status == 200
    if viewer == "staff":
        assert "Unreviewed new text" in html and "Study only the unreviewed text cites" in html
        assert "— not public</span>" in html and UPDATING_NOTICE not in html
        return
    assert "Unreviewed new text" not in html
    assert "Study only the unreviewed text cites" not in html
    assert "Trials of the section" not in html and "Trial of the section" not in html
    taken_back = state_name in ("draft", "in_review")  # archived means withdrawn: it goes altogether
    assert ("Section being updated" in html) is taken_back
    assert (UPDATING_NOTICE in html) is taken_back


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("state_name", STATES)
def test_trials_table_in_section(browse, state_name, viewer):
    overview = make_overview()
    section = make_section(overview, trials_caption="Trials in this section")
    shown_trial = make_trial(title="Always-shown trial")
    trial = make_trial(title="Trial under test", regimen=make_regimen(name="Regimen under test"), **state(state_name))
    section.trials.set([shown_trial, trial])
    status, html = browse(viewer, overview.get_absolute_url())
    assert status == 200
    table = html[html.index("<caption>Trials in this section</caption>") :]
    assert shown_trial.get_absolute_url() in table
    shown = expect_shown(viewer, state_name)
    assert (trial.get_absolute_url() in table) is shown
    assert ("Regimen under test" in table) is shown


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("state_name", STATES)
def test_trials_table_hidden_entirely_when_its_only_trial_is_hidden(browse, state_name, viewer):
    overview = make_overview()
    section = make_section(overview, trials_caption="Lonely table")
    section.trials.add(make_trial(**state(state_name)))
    status, html = browse(viewer, overview.get_absolute_url())
    assert ("<caption>Lonely table</caption>" in html) is expect_shown(viewer, state_name)


# --- lists ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("state_name", STATES)
@pytest.mark.parametrize("kind", ["overview", "drug", "trial"])
def test_lists(browse, kind, state_name, viewer):
    listing = {"overview": "/", "drug": reverse("treatments:drug-list"), "trial": reverse("treatments:trial-list")}
    factory = {"overview": make_overview, "drug": make_drug, "trial": make_trial}[kind]
    public, obj = factory(), factory(**state(state_name))
    status, html = browse(viewer, listing[kind])
    assert status == 200
    assert public.get_absolute_url() in html
    assert (obj.get_absolute_url() in html) is expect_shown(viewer, state_name)


# --- cross-links -------------------------------------------------------------------------------------


def section_in(where, state_name, **fields):
    """A section whose own state, or whose overview's state, is `state_name`; the other is published."""
    if where == "section":
        return make_section(make_overview(title="Home of the section"), **fields, **state(state_name))
    return make_section(make_overview(title="Home of the section", **state(state_name)), **fields)


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("state_name", STATES)
@pytest.mark.parametrize("where", ["section", "overview"])
@pytest.mark.parametrize(("kind", "make", "relation"), [("drug", make_drug, "drugs"), ("trial", make_trial, "trials")])
def test_where_we_discuss_it(browse, kind, make, relation, where, state_name, viewer):
    """Drug and trial pages list only the sections (on overviews) the viewer may see."""
    obj = make()
    public_section = make_section(make_overview(), heading="Public discussion")
    getattr(public_section, relation).add(obj)
    section = section_in(where, state_name, heading="Discussion under test")
    getattr(section, relation).add(obj)
    status, html = browse(viewer, obj.get_absolute_url())
    assert status == 200
    discussed = html[html.index("Where we discuss it") :]
    assert link(public_section.get_absolute_url(), "Public discussion") in discussed
    shown = expect_shown(viewer, state_name)
    assert (link(section.get_absolute_url(), "Discussion under test") in discussed) is shown
    assert ("Home of the section" in discussed) is shown


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("state_name", STATES)
@pytest.mark.parametrize("via", ["drugs", "regimen"])
def test_drug_page_trials_that_studied_it(browse, via, state_name, viewer):
    drug = make_drug()
    public_trial = make_trial(title="Public study")
    public_trial.drugs.add(drug)
    if via == "drugs":
        trial = make_trial(title="Study under test", **state(state_name))
        trial.drugs.add(drug)
    else:
        trial = make_trial(title="Study under test", regimen=make_regimen(drug), **state(state_name))
    status, html = browse(viewer, drug.get_absolute_url())
    assert status == 200
    studied = html[html.index("Trials that studied it") :]
    assert link(public_trial.get_absolute_url(), "Public study") in studied
    assert (link(trial.get_absolute_url(), "Study under test") in studied) is expect_shown(viewer, state_name)
    assert ("Study under test" in html) is expect_shown(viewer, state_name)


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("state_name", STATES)
@pytest.mark.parametrize("via", ["drugs", "regimen"])
def test_trial_page_drug_links(browse, via, state_name, viewer):
    public_drug = make_drug(generic_name="alwaysumab", slug="alwaysumab")
    drug = make_drug(generic_name="testomab", slug="testomab", brand_names="Secretbrand", **state(state_name))
    if via == "drugs":
        trial = make_trial()
        trial.drugs.set([public_drug, drug])
    else:
        trial = make_trial(regimen=make_regimen(public_drug, drug, name="Regimen under test"))
    status, html = browse(viewer, trial.get_absolute_url())
    assert status == 200
    drugs = html[html.index("<dt>Drugs</dt>") :]
    assert link(public_drug.get_absolute_url(), "alwaysumab") in drugs
    shown = expect_shown(viewer, state_name)
    assert (link(drug.get_absolute_url(), "testomab (Secretbrand®)") in drugs) is shown
    # Not public: not named anywhere on the page, JSON-LD included.
    assert ("testomab" in html) is shown and ("Secretbrand" in html) is shown
    assert '"name": "alwaysumab"' in html


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("state_name", STATES)
def test_unpublished_drug_of_a_published_trial_is_not_named_in_trial_tables(browse, state_name, viewer):
    drug = make_drug(generic_name="testomab", slug="testomab", **state(state_name))
    trial = make_trial(title="Published trial")
    trial.drugs.set([make_drug(generic_name="alwaysumab", slug="alwaysumab"), drug])
    overview = make_overview()
    make_section(overview, trials_caption="Trials here").trials.add(trial)
    for url in (overview.get_absolute_url(), reverse("treatments:trial-list")):
        status, html = browse(viewer, url)
        assert status == 200 and "alwaysumab" in html
        assert ("testomab" in html) is expect_shown(viewer, state_name), url


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("state_name", STATES)
def test_next_link_to_overview(browse, state_name, viewer):
    overview = make_overview()
    target = make_overview(title="Target page", **state(state_name))
    NextLink.objects.create(overview=overview, label="Read this next", target=target, position=1)
    status, html = browse(viewer, overview.get_absolute_url())
    assert status == 200
    read_next = html[html.index('aria-label="Read next"') :]
    if expect_shown(viewer, state_name):
        assert link(target.get_absolute_url(), "Read this next") in read_next
        assert "(page coming soon)" not in read_next
    else:
        assert 'Read this next <span class="soon">(page coming soon)</span>' in read_next
        assert target.get_absolute_url() not in html


# --- review dates --------------------------------------------------------------------------------


def human_date(value):
    return date_format(value, "j F Y")


@pytest.fixture
def jane(django_user_model):
    user = django_user_model.objects.create_user("jdoe", "jane@example.org", None, is_staff=True)
    ReviewerProfile.objects.create(user=user, display_name="Jane Doe", credentials="MD, thoracic oncologist")
    return user


@pytest.mark.parametrize("viewer", ["anonymous", "staff"])
def test_reviewed_overview_shows_reviewer_and_dates(browse, jane, viewer):
    overview = make_overview(status=Status.IN_REVIEW)
    overview.publish(jane)
    overview.save()
    overview = Overview.objects.get(pk=overview.pk)
    today = timezone.localdate()
    assert overview.reviewed_on == today and overview.reviewer_display == "Jane Doe, MD, thoracic oncologist"
    status, html = browse(viewer, overview.get_absolute_url())
    assert status == 200
    assert (
        f'Medically reviewed by Jane Doe, MD, thoracic oncologist on <time datetime="{today.isoformat()}">'
        f"{human_date(today)}</time>."
    ) in html
    last_updated = timezone.localtime(overview.last_published_at)
    assert re.search(
        rf'Last updated <time datetime="{re.escape(last_updated.date().isoformat())}T[^"]+">'
        rf"{re.escape(human_date(last_updated))}</time>\.",
        html,
    )
    assert "Awaiting medical review" not in html


def test_reviewer_without_profile_is_named_by_account(browse, django_user_model):
    user = django_user_model.objects.create_user("alee", None, None, first_name="Ann", last_name="Lee")
    overview = make_overview(status=Status.IN_REVIEW)
    overview.publish(user)
    overview.save()
    status, html = browse("anonymous", overview.get_absolute_url())
    assert "Medically reviewed by Ann Lee on" in html


def test_last_updated_is_the_latest_published_change_the_page_shows(browse, jane):
    overview = make_overview(last_published_at=datetime.datetime(2024, 1, 10, 12, tzinfo=datetime.UTC))
    overview.reviewed_by, overview.reviewed_on = jane, datetime.date(2024, 1, 10)
    overview.save()
    make_section(overview, last_published_at=datetime.datetime(2024, 3, 5, 12, tzinfo=datetime.UTC))
    make_section(
        overview, status=Status.IN_REVIEW, last_published_at=datetime.datetime(2024, 6, 1, 12, tzinfo=datetime.UTC)
    )
    _, html = browse("anonymous", overview.get_absolute_url())
    assert "Medically reviewed by Jane Doe, MD, thoracic oncologist on" in html and "10 January 2024" in html
    assert re.search(r"Last updated <time [^>]+>5 March 2024</time>", html)


@pytest.mark.parametrize("viewer", ["anonymous", "staff"])
def test_never_reviewed_overview_awaits_review(browse, viewer):
    overview = make_overview()
    status, html = browse(viewer, overview.get_absolute_url())
    assert status == 200
    assert "<p>Awaiting medical review.</p>" in html
    assert "Medically reviewed by" not in html and "Last updated" not in html


def test_seed_page_is_published_and_awaits_review(browse):
    call_command("loaddata", "seed", verbosity=0)
    overview = Overview.objects.get(slug=SEED_SLUG)
    assert overview.status == Status.PUBLISHED and overview.reviewed_by is None and overview.is_public
    status, html = browse("anonymous", overview.get_absolute_url())
    assert status == 200
    assert overview.title in html
    assert "<p>Awaiting medical review.</p>" in html
    assert "Medically reviewed by" not in html and BANNER not in html
