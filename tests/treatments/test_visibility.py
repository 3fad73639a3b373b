"""What the public and staff see of content in each editorial state, on every kind of page (issue 10).

A record's row is its live version; what an editor saves is a draft beside it. The public (anonymous visitors
and logged-in members who are not staff) sees live versions only: never a draft's text, never a record that is
not live (any other detail page is a 404), and nothing such a record would bring with it (a reference it cites,
a trial in its table). Staff see the working drafts at the same addresses (preview), under a banner.

States are reached through the workflow (editorial.workflow), as an editor and a reviewer would reach them:
a live record, with or without a draft (in review, or approved for a later time); a record never live; an
unpublished one. A record's first text is OLD; its draft's text is NEW.
"""

import datetime
import re
from functools import partial

import pytest
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format

from editorial.models import Revision, Status
from editorial.workflow import approve, archive, editing, submit
from tests.factories import (
    make_drug,
    make_overview,
    make_reference,
    make_regimen,
    make_section,
    make_trial,
    mark_reviewed,
    publish_drafts,
    reviewer,
)
from treatments.models import GlossaryTerm, NextLink, Overview, ReviewerProfile

pytestmark = pytest.mark.django_db

STATES = [
    "live",
    "live_draft",
    "live_in_review",
    "live_scheduled",
    "new_draft",
    "new_in_review",
    "new_scheduled",
    "archived",
    "archived_draft",
]
LIVE = {"live", "live_draft", "live_in_review", "live_scheduled"}
WITH_DRAFT = set(STATES) - {"live", "archived"}
VIEWERS = ["anonymous", "member", "staff"]
OLD, NEW = "Reviewed wording", "Typed-in wording"  # neither is part of the other
NOT_LIVE_BANNER = "Preview — not published"
CHANGES_BANNER = "Preview — this page shows changes that are not live yet"
SEED_SLUG = "stage-iv-recurrent-pleural-mesothelioma"


# --- states ---------------------------------------------------------------------------------------


@pytest.fixture
def dr():
    return reviewer("dr-states")


def in_state(state, make, old, new, by, *, linked=None):
    """A record made by `make(status=…, **old)` and brought to `state` through the workflow.

    `new`: the draft's field values. `linked(record)` links it, as loaded content would be linked, before
    anything else happens to it.
    """
    record = make(status=Status.DRAFT if state.startswith("new") else Status.PUBLISHED, **old)
    if linked is not None:
        linked(record)
    if state.startswith("archived"):
        archive(record, by)
    if state in WITH_DRAFT:
        with editing(None, record) as session:
            for name, value in new.items():
                setattr(session.record, name, value)
            session.record.save()
        revision = session.revisions[0]
        if state.endswith(("in_review", "scheduled")):
            revision = submit(record)
        if state.endswith("scheduled"):
            approve([revision], by, go_live_at=timezone.now() + datetime.timedelta(days=3))
            assert Revision.objects.get(pk=revision.pk).state == Revision.State.SCHEDULED
    return type(record).objects.get(pk=record.pk)


def expected(viewer, state):
    """OLD or NEW: the text `viewer` sees of a record in `state`; None: nothing of it at all."""
    if viewer == "staff":
        return NEW if state in WITH_DRAFT else OLD
    return OLD if state in LIVE else None


def assert_sees(html, viewer, state, old=OLD, new=NEW, what=""):
    """`html` shows the text `expected` and never the other one."""
    shown = expected(viewer, state)
    context = (viewer, state, what)
    if shown is None:
        assert old not in html and new not in html, context
    elif shown == OLD:
        assert old in html and new not in html, context
    else:
        assert new in html and old not in html, context


# --- viewers -------------------------------------------------------------------------------------

# Reused across tests: each new test client loads the middleware again (WhiteNoise scans the static files).
_CLIENTS = {viewer: Client() for viewer in VIEWERS}


@pytest.fixture
def browse(django_user_model):
    """browse(viewer, url) -> (status code, html) for an anonymous visitor, a logged-in member or staff."""
    for client in _CLIENTS.values():
        client.cookies.clear()
    for viewer, is_staff in [("member", False), ("staff", True)]:
        user = django_user_model.objects.create_user(viewer, f"{viewer}@example.org", None, is_staff=is_staff)
        _CLIENTS[viewer].force_login(user)

    def get(viewer, url):
        response = _CLIENTS[viewer].get(url)
        return response.status_code, response.content.decode()

    return get


def each_viewer(browse, url):
    """[(viewer, status, html)] for every viewer; the anonymous page both rendered afresh and from the cache."""
    for cache in caches.all():
        cache.clear()
    found = [(viewer, *browse(viewer, url)) for viewer in VIEWERS]
    assert browse("anonymous", url) == tuple(found[0][1:]), "the cached page differs from the rendered one"
    return found


def link(url, text=None):
    return f'<a href="{url}">{text}</a>' if text is not None else f'<a href="{url}">'


def after(html, marker):
    return html[html.index(marker) :] if marker in html else ""


# --- detail pages ----------------------------------------------------------------------------------

DETAIL = {
    # kind: (factory, its fixed fields, the field its page shows)
    "overview": (make_overview, {"title": "Page under test"}, "intro"),
    "drug": (make_drug, {"generic_name": "testomab", "slug": "testomab"}, "drug_class"),
    "trial": (make_trial, {"title": "Trial under test"}, "summary"),
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("kind", DETAIL)
def test_detail_page(browse, dr, kind, state):
    factory, fields, field = DETAIL[kind]
    obj = in_state(state, partial(factory, **fields), {field: OLD}, {field: NEW}, dr)
    heading = "Testomab" if kind == "drug" else fields["title"]
    for viewer, status, html in each_viewer(browse, obj.get_absolute_url()):
        if expected(viewer, state) is None:
            assert status == 404, (viewer, state)
            assert heading not in html and "We could not find that page" in html
            assert OLD not in html and NEW not in html
            continue
        assert status == 200, (viewer, state)
        assert f"<h1>{heading}</h1>" in html
        assert_sees(html, viewer, state)
        staff = viewer == "staff"
        assert (NOT_LIVE_BANNER in html) is (staff and state not in LIVE), (viewer, state)
        assert (CHANGES_BANNER in html) is (staff and state != "live"), (viewer, state)
        if not staff:
            assert "Preview" not in html and "preview" not in html


# --- sections of a live overview -------------------------------------------------------------------


@pytest.mark.parametrize("state", STATES)
def test_section_within_a_live_overview(browse, dr, state):
    """Heading, anchor, table of contents, body and the references it cites: all of one version."""
    make_reference(key="old-ref", title="Study the reviewed text cites")
    make_reference(key="new-ref", title="Study only the draft cites")
    overview = make_overview()
    make_section(overview, heading="Always visible", slug="visible", body="Public body.")
    old = {"heading": f"{OLD} heading", "slug": "reviewed", "body": f"{OLD} body [@old-ref]."}
    new = {"heading": f"{NEW} heading", "slug": "typed", "body": f"{NEW} body [@new-ref]."}
    in_state(state, partial(make_section, overview), old, new, dr)
    for viewer, status, html in each_viewer(browse, overview.get_absolute_url()):
        assert status == 200
        assert "Always visible" in html and "Public body." in html
        assert NOT_LIVE_BANNER not in html  # the page itself is live
        assert_sees(html, viewer, state)
        assert_sees(html, viewer, state, '<a href="#reviewed">', '<a href="#typed">', "table of contents")
        assert_sees(html, viewer, state, 'id="reviewed"', 'id="typed"', "anchor")
        assert_sees(html, viewer, state, "Study the reviewed text cites", "Study only the draft cites", "references")
        assert ("— not public</span>" in html) is (viewer == "staff" and state not in LIVE)
        assert "We are updating this section" not in html


@pytest.mark.parametrize("state", STATES)
def test_trials_tables_in_a_section(browse, dr, state):
    """A trial in a section's table; a table whose only trial the viewer may not see is left out entirely."""
    overview = make_overview()
    shared = make_section(overview, trials_caption="Trials in this section")
    lonely = make_section(overview, trials_caption="Lonely table")
    always = make_trial(title="Always-shown trial")
    regimen = make_regimen(name="Regimen under test")
    trial = in_state(
        state,
        partial(make_trial, regimen=regimen, outcomes=[("Alive", "", "11 of 20", True)]),
        {"title": "Trial under test", "patient_count": 1234},
        {"patient_count": 4321},
        dr,
    )
    shared.trials.set([always, trial])
    lonely.trials.set([trial])
    for viewer, status, html in each_viewer(browse, overview.get_absolute_url()):
        assert status == 200
        table = after(html, "<caption>Trials in this section</caption>")
        assert always.get_absolute_url() in table
        shown = expected(viewer, state) is not None
        assert (trial.get_absolute_url() in table) is shown, (viewer, state)
        assert ("Regimen under test" in table) is shown
        assert_sees(table, viewer, state, "<td>1234</td>", "<td>4321</td>", "patients")
        assert ("<caption>Lonely table</caption>" in html) is shown


# --- lists, search and sitemaps ----------------------------------------------------------------------

LISTED = {
    # kind: (factory, the field the list shows, the list, the sitemap)
    "overview": (make_overview, "summary", "/", "/sitemap-overviews.xml"),
    "drug": (
        partial(make_drug, generic_name="testomab", slug="testomab"),
        "drug_class",
        "/drugs/",
        "/sitemap-drugs.xml",
    ),
    "trial": (make_trial, "title", "/trials/", "/sitemap-trials.xml"),
}


@pytest.mark.parametrize("state", STATES)
def test_lists_search_and_sitemaps(browse, dr, state):
    for kind, (factory, field, listing, sitemap) in LISTED.items():
        always = factory(**({"generic_name": "alwaysumab", "slug": "alwaysumab"} if kind == "drug" else {}))
        obj = in_state(state, factory, {field: OLD}, {field: NEW}, dr)
        for viewer, status, html in each_viewer(browse, listing):
            assert status == 200 and always.get_absolute_url() in html
            assert (obj.get_absolute_url() in html) is (expected(viewer, state) is not None), (kind, viewer, state)
            assert_sees(html, viewer, state, what=kind)
        for cache in caches.all():
            cache.clear()
        for viewer in ("anonymous", "member"):
            xml = browse(viewer, sitemap)[1]
            assert (f"http://testserver{obj.get_absolute_url()}</loc>" in xml) is (state in LIVE), (kind, state)
            assert f"http://testserver{always.get_absolute_url()}</loc>" in xml
    for viewer in ("anonymous", "member"):  # search finds the live text only, never a draft's
        for word, found in [("Reviewed", state in LIVE), ("Typed", False)]:
            html = browse(viewer, f"/search/?q={word}")[1]
            assert (OLD in html) is found, (viewer, state, word)
            assert NEW not in html


# --- cross-links -------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", STATES)
def test_where_we_discuss_it(browse, dr, state):
    """Drug and trial pages list only the sections, on overviews, the viewer may see, as the viewer sees them."""
    for kind, factory, relation in [("drug", make_drug, "drugs"), ("trial", make_trial, "trials")]:
        for where in ("section", "overview"):
            obj = factory()
            public_section = make_section(make_overview(), heading="Public discussion")
            getattr(public_section, relation).add(obj)
            if where == "section":
                home = make_overview(title="Home of the section")
                section = in_state(
                    state,
                    partial(make_section, home),
                    {"heading": OLD},
                    {"heading": NEW},
                    dr,
                    linked=lambda record, obj=obj, relation=relation: getattr(record, relation).add(obj),
                )
            else:
                home = in_state(state, make_overview, {"title": OLD}, {"title": NEW}, dr)
                section = make_section(home, heading="Discussion under test")
                getattr(section, relation).add(obj)
            for viewer, status, html in each_viewer(browse, obj.get_absolute_url()):
                assert status == 200
                discussed = after(html, "Where we discuss it")
                assert link(public_section.get_absolute_url(), "Public discussion") in discussed
                assert (section.get_absolute_url() in discussed) is (expected(viewer, state) is not None)
                assert_sees(discussed, viewer, state, what=(kind, where))


@pytest.mark.parametrize("state", STATES)
def test_drug_page_lists_the_trials_that_studied_it(browse, dr, state):
    for via in ("drugs", "regimen"):
        drug = make_drug()
        public_trial = make_trial(title="Public study")
        public_trial.drugs.add(drug)
        if via == "drugs":
            trial = in_state(
                state, make_trial, {"title": OLD}, {"title": NEW}, dr, linked=lambda t, d=drug: t.drugs.add(d)
            )
        else:
            regimen = make_regimen(drug)
            trial = in_state(state, partial(make_trial, regimen=regimen), {"title": OLD}, {"title": NEW}, dr)
        for viewer, status, html in each_viewer(browse, drug.get_absolute_url()):
            assert status == 200
            studied = after(html, "Trials that studied it")
            assert link(public_trial.get_absolute_url(), "Public study") in studied
            assert (trial.get_absolute_url() in studied) is (expected(viewer, state) is not None), (via, viewer)
            assert_sees(html, viewer, state, what=via)


def add_drug(record, drug):
    if hasattr(record, "regimen_drugs"):
        record.regimen_drugs.create(drug=drug, position=2)
    else:
        record.drugs.add(drug)


@pytest.mark.parametrize("state", STATES)
def test_trial_page_links_the_drugs(browse, dr, state):
    """A drug that is live is linked (as its live version says); one that is not live is linked only in a draft of
    the trial (a live trial cannot link it: publishing is refused), so only staff see it."""
    for via in ("drugs", "regimen"):
        always = make_drug(generic_name=f"alwaysumab-{via}", slug=f"alwaysumab-{via}")
        drug = in_state(
            state, make_drug, {"generic_name": f"Reviewedumab {via}", "slug": f"reviewed-{via}"},
            {"generic_name": f"Typedinumab {via}"}, dr,
        )  # fmt: skip
        if via == "drugs":
            trial = make_trial()
            trial.drugs.add(always)
            drug_list = trial
        else:
            trial = make_trial(regimen=make_regimen(always))
            drug_list = trial.regimen
        if state in LIVE:  # linked by the live trial (or regimen)
            add_drug(drug_list, drug)
        else:  # linked only in a draft: publishing it is refused until the drug is live
            with editing(None, drug_list) as session:
                add_drug(session.record, drug)
        for viewer, status, html in each_viewer(browse, trial.get_absolute_url()):
            assert status == 200
            drugs = after(html, "<dt>Drugs</dt>")
            assert link(always.get_absolute_url(), f"alwaysumab-{via}") in drugs
            shown = expected(viewer, state)
            assert (drug.get_absolute_url() in drugs) is (shown is not None), (via, viewer, state)
            assert_sees(html, viewer, state, "Reviewedumab", "Typedinumab", via)


@pytest.mark.parametrize("state", ["new_draft", "archived_draft"])
def test_a_drug_that_is_not_live_named_by_a_live_trial_never_shows_its_draft(browse, dr, state):
    """Content from before live and draft (loaded, or migrated) may name a drug that is not live on a live trial
    page. An editor's changes to that drug are drafts like any other: the public page must not show them."""
    drug = in_state(
        state, make_drug, {"generic_name": "Reviewedumab", "slug": "reviewed"}, {"generic_name": "Typedinumab"}, dr
    )
    trial = make_trial()
    trial.drugs.add(drug)  # linked as loaded content would be: not through a publication
    in_regimen = make_trial(regimen=make_regimen(drug, name="A regimen"))
    leaks = [
        (url, viewer)
        for url in (trial.get_absolute_url(), in_regimen.get_absolute_url(), "/trials/")
        for viewer, _status, html in each_viewer(browse, url)
        if viewer != "staff" and "Typedinumab" in html
    ]
    assert leaks == [], leaks


@pytest.mark.parametrize("state", STATES)
def test_next_link_to_an_overview(browse, dr, state):
    overview = make_overview()
    target = in_state(state, make_overview, {"title": OLD}, {"title": NEW}, dr)
    NextLink.objects.create(overview=overview, label="Read this next", target=target, position=1)
    for viewer, status, html in each_viewer(browse, overview.get_absolute_url()):
        assert status == 200
        read_next = after(html, 'aria-label="Read next"')
        if expected(viewer, state) is not None:
            assert link(target.get_absolute_url(), "Read this next") in read_next, (viewer, state)
            assert "(page coming soon)" not in read_next
        else:
            assert 'Read this next <span class="soon">(page coming soon)</span>' in read_next
            assert target.get_absolute_url() not in html
        assert OLD not in read_next and NEW not in read_next  # the link's own label, never the target's title


# --- glossary, references and reviewers: shown on the pages that use them ------------------------------


@pytest.mark.parametrize("state", STATES)
def test_glossary_term(browse, dr, state):
    term = in_state(
        state,
        partial(GlossaryTerm.objects.create, term="pleura", slug="pleura"),
        {"definition": f"{OLD} definition."},
        {"definition": f"{NEW} definition.", "pronunciation": "PLOO-ruh"},
        dr,
    )
    overview = make_overview(intro="This page uses the word pleura.")
    for url in ("/glossary/", overview.get_absolute_url()):
        for viewer, status, html in each_viewer(browse, url):
            assert status == 200
            assert_sees(html, viewer, state, what=url)
            assert ("PLOO-ruh" in html) is (expected(viewer, state) == NEW)
            anchor = f'id="{term.slug}"' if url == "/glossary/" else f'id="term-{term.slug}"'  # the term is marked
            assert (anchor in html) is (expected(viewer, state) is not None), (url, viewer, state)


@pytest.mark.parametrize("state", STATES)
def test_reference_in_a_reference_list(browse, dr, state):
    """A live page cites a live reference; a reference that is not live is cited only by a draft of the page."""
    in_state(state, partial(make_reference, key="smith-2020"), {"title": OLD}, {"title": NEW}, dr)
    overview = make_overview()
    if state in LIVE:
        make_section(overview, body="A fact [@smith-2020].")
    else:
        section = make_section(overview, body="A fact.")
        with editing(None, section) as session:
            session.record.body = "A fact [@smith-2020]."
            session.record.save()
    ris = reverse("treatments:overview-references", args=[overview.slug, "ris"])
    for url in (overview.get_absolute_url(), ris):
        for viewer, status, html in each_viewer(browse, url):
            assert status == 200
            assert_sees(html, viewer, state, what=url)


@pytest.mark.parametrize("state", STATES)
def test_reviewer_profile_names_the_reviewer(browse, dr, state):
    user = User.objects.create_user("jdoe", None, None, first_name="Jo", last_name="Doe")
    in_state(
        state,
        partial(ReviewerProfile.objects.create, user=user, credentials="MD"),
        {"display_name": OLD},
        {"display_name": NEW},
        dr,
    )
    overview = mark_reviewed(make_overview(), user)
    for viewer, status, html in each_viewer(browse, overview.get_absolute_url()):
        assert status == 200
        # Only a live profile names a reviewer (staff see its draft); otherwise the page names their account.
        name = {OLD: f"{OLD}, MD", NEW: f"{NEW}, MD"}[expected(viewer, state)] if state in LIVE else "Jo Doe"
        assert f"Medically reviewed by {name}." in html, (viewer, state)
        assert NEW not in html or viewer == "staff"


# --- review dates --------------------------------------------------------------------------------


def human_date(value):
    return date_format(value, "j F Y")


@pytest.fixture
def jane(django_user_model):
    user = django_user_model.objects.create_user("jdoe", "jane@example.org", None, is_staff=True)
    ReviewerProfile.objects.create(
        user=user, display_name="Jane Doe", credentials="MD, thoracic oncologist", status=Status.PUBLISHED
    )
    user.groups.add(*reviewer("dr-groups").groups.all())
    return user


@pytest.mark.parametrize("viewer", ["anonymous", "staff"])
def test_reviewed_overview_shows_reviewer_and_dates(browse, jane, viewer):
    overview = make_overview(status=Status.DRAFT)
    publish_drafts(overview, by=jane)
    overview = Overview.objects.get(pk=overview.pk)
    today = timezone.localdate()
    due = overview.review_due
    assert overview.reviewed_on == today and overview.reviewer_display == "Jane Doe, MD, thoracic oncologist"
    assert due == today + datetime.timedelta(days=365)
    status, html = browse(viewer, overview.get_absolute_url())
    assert status == 200
    assert (
        f'<p>Page last reviewed: <time datetime="{today.isoformat()}">{human_date(today)}</time>'
        '<span aria-hidden="true"> ·</span> Next review due: '
        f'<time datetime="{due.isoformat()}">{human_date(due)}</time></p>'
    ) in html
    assert "<p>Medically reviewed by Jane Doe, MD, thoracic oncologist.</p>" in html
    last_updated = timezone.localtime(overview.last_published_at)
    assert re.search(
        rf'Last updated <time datetime="{re.escape(last_updated.date().isoformat())}T[^"]+">'
        rf"{re.escape(human_date(last_updated))}</time>\.",
        html,
    )
    assert "Not yet medically reviewed" not in html


def test_a_draft_changes_neither_the_review_nor_the_dates_patients_see(browse, jane):
    overview = make_overview(status=Status.DRAFT)
    section = make_section(overview, status=Status.DRAFT)
    publish_drafts(overview, section, by=jane)
    before = browse("anonymous", overview.get_absolute_url())
    with editing(None, section) as session:
        session.record.body = "A change nobody reviewed yet."
        session.record.save()
    submit(section)
    for cache in caches.all():
        cache.clear()
    assert browse("anonymous", overview.get_absolute_url()) == before


def test_last_updated_is_the_latest_published_change_the_page_shows(browse, jane):
    overview = make_overview(last_published_at=datetime.datetime(2024, 1, 10, 12, tzinfo=datetime.UTC))
    overview.reviewed_by, overview.reviewed_on = jane, datetime.date(2024, 1, 10)
    overview.save()
    make_section(overview, last_published_at=datetime.datetime(2024, 3, 5, 12, tzinfo=datetime.UTC))
    later = make_section(overview, last_published_at=datetime.datetime(2024, 6, 1, 12, tzinfo=datetime.UTC))
    archive(later, jane)  # no longer shown: its date does not count
    make_section(overview, status=Status.DRAFT, last_published_at=datetime.datetime(2024, 7, 1, tzinfo=datetime.UTC))
    _, html = browse("anonymous", overview.get_absolute_url())
    assert "Medically reviewed by Jane Doe, MD, thoracic oncologist." in html
    assert re.search(r"Page last reviewed: <time [^>]+>10 January 2024</time>", html)
    assert re.search(r"Last updated <time [^>]+>5 March 2024</time>", html)


def test_reviewer_without_profile_is_named_by_account(browse, django_user_model):
    user = django_user_model.objects.create_user("alee", None, None, first_name="Ann", last_name="Lee")
    overview = mark_reviewed(make_overview(), user)
    status, html = browse("anonymous", overview.get_absolute_url())
    assert "Medically reviewed by Ann Lee." in html


@pytest.mark.parametrize("viewer", ["anonymous", "staff"])
def test_never_reviewed_overview_says_so(browse, viewer):
    overview = make_overview()
    status, html = browse(viewer, overview.get_absolute_url())
    assert status == 200
    assert "<p>Not yet medically reviewed.</p>" in html
    assert "Medically reviewed by" not in html and "Page last reviewed" not in html and "Last updated" not in html


def test_seed_page_is_live_and_not_yet_medically_reviewed(browse):
    call_command("loaddata", "seed", verbosity=0)
    overview = Overview.objects.get(slug=SEED_SLUG)
    assert overview.status == Status.PUBLISHED and overview.reviewed_by is None and overview.is_public
    status, html = browse("anonymous", overview.get_absolute_url())
    assert status == 200
    assert overview.title in html
    assert "<p>Not yet medically reviewed.</p>" in html
    assert "Medically reviewed by" not in html and "Preview" not in html
