"""The dates pages show (treatments/dates.py): each section's study years and its notice when they are old by the
page's own date, the whole page's range, and "Page last reviewed · Next review due" or "Not yet medically reviewed"
with "Last updated" on overview, drug, trial and glossary pages. Time is frozen with time-machine: a page is
rendered when it goes live and served as stored, so nothing on it may depend on the day it is read."""

import datetime
import html as html_lib
import re

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from editorial.models import Status
from editorial.workflow import approve, editing, mark_reviewed
from pages.models import PageVersion
from tests.factories import make_drug, make_overview, make_reference, make_section, make_trial, publish_drafts, reviewer
from treatments.dates import Evidence, PageDates
from treatments.models import GlossaryTerm, Overview, ReviewerProfile

pytestmark = pytest.mark.django_db

NOTICE = "Treatment may have changed since then. Ask your doctor about today's options."


def at(year, month, day, hour=12):
    return time_machine.travel(datetime.datetime(year, month, day, hour, tzinfo=datetime.UTC), tick=False)


def text(html):
    words = html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))
    return re.sub(r" ([.,])", r"\1", words)


def get(url):
    response = Client().get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def section_html(html, slug):
    start = html.index(f'<section id="{slug}"')
    return html[start : html.index("</section>", start)]


@pytest.fixture
def jane():
    user = reviewer("jane")
    ReviewerProfile.objects.create(user=user, display_name="Jane Doe", credentials="MD", status=Status.PUBLISHED)
    return user


@pytest.fixture
def page():
    """A page (not yet live) whose chemotherapy section cites studies of 1996 and 2003 in its text and one of 2001 in
    its trials table, and whose immunotherapy section cites a study of 2017."""
    make_reference(key="ong-1996", year=1996)
    make_reference(key="vogelzang-2003", year=2003)
    make_reference(key="alley-2017", year=2017)
    trial = make_trial(references=[make_reference(key="table-2001", year=2001)])
    overview = make_overview(status=Status.DRAFT, slug="stage-iv", intro="An introduction.")
    chemo = make_section(
        overview,
        status=Status.DRAFT,
        slug="chemotherapy",
        body="One drug alone [@ong-1996]. Two drugs together [@vogelzang-2003; @ong-1996].",
    )
    chemo.trials.add(trial)
    immuno = make_section(overview, status=Status.DRAFT, slug="immunotherapy", body="A new kind of drug [@alley-2017].")
    return {"overview": overview, "chemo": chemo, "immuno": immuno}


def go_live(page, user):
    publish_drafts(page["overview"], page["chemo"], page["immuno"], by=user)
    return page["overview"].get_absolute_url()


# --- the years, computed ---------------------------------------------------------------------------------------


def test_evidence_is_the_range_of_the_cited_years():
    refs = [make_reference(year=2003), make_reference(year=1996), make_reference(year=None), make_reference(year=2001)]
    evidence = Evidence.of([*refs, refs[0]])  # a work cited twice counts once
    assert (evidence.first, evidence.last, evidence.count) == (1996, 2003, 3)
    assert str(evidence) == "1996–2003" and evidence.published == "published 1996–2003"
    assert evidence.span == "from 1996 to 2003"
    one = Evidence.of([refs[0]])
    assert str(one) == "2003" and one.published == "published in 2003" and one.span == "from 2003"
    assert Evidence.of([refs[2]]) is None and Evidence.of([]) is None


def test_each_section_shows_the_years_of_what_it_cites_and_the_page_its_whole_range(page, jane):
    with at(2004, 3, 1):
        url = go_live(page, jane)
    html = get(url)
    # The text cites 1996 and 2003, the trials table 2001: three studies, one range.
    assert "Based on studies published 1996–2003." in text(section_html(html, "chemotherapy"))
    assert "Based on a study published in 2017." in text(section_html(html, "immunotherapy"))
    header = html[html.index('<header class="page-header">') : html.index("On this page")]
    assert "This page is based on studies published 1996–2017." in text(header)


def test_a_section_without_citations_shows_no_years(jane):
    overview = make_overview(status=Status.DRAFT)
    section = make_section(overview, status=Status.DRAFT, slug="surgery", body="No study is cited here.")
    publish_drafts(overview, section, by=jane)
    html = get(overview.get_absolute_url())
    assert "Based on" not in section_html(html, "surgery") and "evidence-notice" not in html
    assert "This page is based on" not in html


def test_the_years_follow_the_references_never_typed_text(page, jane):
    with at(2004, 3, 1):
        url = go_live(page, jane)
        reference = page["chemo"].cites.get(key="vogelzang-2003")
        with editing(None, reference) as session:
            session.record.year = 2004  # a corrected year, published like any change
            session.record.save()
        approve(session.revisions, jane, minor=True)
    assert "Based on studies published 1996–2004." in text(section_html(get(url), "chemotherapy"))


# --- the notice, by the page's own date --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("published", "notice"),
    [
        ((2008, 12, 31), False),  # newest study 2003: 5 years older, not more
        ((2009, 1, 1), True),  # 6 years older
    ],
)
def test_the_notice_appears_when_the_newest_study_is_more_than_five_years_older_than_the_page(
    page, jane, published, notice
):
    with at(*published):
        url = go_live(page, jane)
    with at(2040, 1, 1):  # read much later: the page is judged by its own date, not by today
        chemo = section_html(get(url), "chemotherapy")
    assert ("The studies in this section are from 1996 to 2003. " + NOTICE in text(chemo)) is notice
    assert ('role="note"' in chemo) is notice
    # The 2017 study is recent for both pages.
    assert "evidence-notice" not in section_html(get(url), "immunotherapy")


def test_the_notice_is_marked_up_as_a_note_with_words_not_only_colour(page, jane):
    with at(2030, 6, 1):
        url = go_live(page, jane)
    immuno = section_html(get(url), "immunotherapy")
    assert re.search(
        r'<div class="evidence-notice" role="note" aria-label="About the age of this research">\s*'
        r"<p><strong>Older research\.</strong> The study in this section is from 2017\. ",
        immuno,
    )


def test_the_threshold_is_a_setting(page, jane, settings):
    settings.EVIDENCE_AGE_NOTICE_YEARS = 10
    with at(2013, 12, 31):
        url = go_live(page, jane)
    assert "evidence-notice" not in get(url)  # 2013 - 2003 = 10: not more than 10
    settings.EVIDENCE_AGE_NOTICE_YEARS = 9
    # A page rendered with another threshold is rendered again before it is served (pages/publishing.py).
    assert "evidence-notice" in section_html(get(url), "chemotherapy")
    assert PageVersion.objects.filter(page__path=url).count() == 2


def test_a_stored_page_stays_true_and_a_later_review_moves_its_date_on(page, jane):
    with at(2008, 6, 1):
        url = go_live(page, jane)
        first = get(url)
    with at(2030, 1, 1):
        assert get(url) == first  # served as stored, years later
        assert "evidence-notice" not in first
        overview = Overview.objects.get(pk=page["overview"].pk)
        overview.title = "Changed outside the workflow"  # e.g. a fixture load: the page is rendered again
        overview.save()
        rendered_again = get(url)
        assert "Changed outside the workflow" in rendered_again and "evidence-notice" not in rendered_again
        mark_reviewed([overview], jane)  # a medical review in 2030
        reviewed = get(url)
    assert "evidence-notice" in section_html(reviewed, "chemotherapy")
    assert re.search(r"Page last reviewed: <time datetime=\"2030-01-01\">1 January 2030</time>", reviewed)


def test_the_date_is_the_later_of_the_last_review_and_the_last_published_change():
    user = reviewer()
    overview = make_overview(last_published_at=datetime.datetime(2009, 5, 1, tzinfo=datetime.UTC))
    assert PageDates.of(overview).as_of == datetime.date(2009, 5, 1)
    overview.reviewed_by, overview.reviewed_on = user, datetime.date(2012, 2, 3)
    assert PageDates.of(overview).as_of == datetime.date(2012, 2, 3)
    later = datetime.datetime(2014, 1, 1, tzinfo=datetime.UTC)
    assert PageDates.of(overview, last_updated=later).as_of == datetime.date(2014, 1, 1)
    assert PageDates.of(make_overview()).as_of is None  # no date at all: no notice either
    assert not Evidence.of([make_reference(year=1990)]).is_old(None)


# --- the review dashboard ---------------------------------------------------------------------------------------


def test_the_dashboard_lists_exactly_the_sections_whose_page_shows_the_notice(page, jane, admin_client):
    with at(2010, 1, 1):
        url = go_live(page, jane)
        fresh = make_overview(status=Status.DRAFT, slug="fresh")
        recent = make_section(fresh, status=Status.DRAFT, slug="recent", body="Recent [@alley-2017].")
        publish_drafts(fresh, recent, by=jane)
    with at(2020, 1, 1):
        dashboard = admin_client.get(reverse("admin:index")).content.decode()
    listed = dashboard[
        dashboard.index("Sections with old research") : dashboard.index(
            "</table>", dashboard.index("Sections with old research")
        )
    ]
    assert "Sections with old research (1)" in listed
    chemo_admin = reverse("admin:treatments_treatmentoption_change", args=[page["chemo"].pk])
    assert f'href="{chemo_admin}"' in listed and f'href="{url}#chemotherapy"' in listed
    assert "studies published 1996–2003, page dated 1 Jan 2010" in listed
    assert "immunotherapy" not in listed and "recent" not in listed  # 2017 is not old by 2010, nor by 2010's page
    assert "evidence-notice" in section_html(get(url), "chemotherapy")
    assert "evidence-notice" not in get(fresh.get_absolute_url())


# --- page dates -------------------------------------------------------------------------------------------------


def test_drug_and_trial_pages_show_their_review_or_that_they_have_none(jane):
    with at(2026, 3, 3):
        drug = make_drug(status=Status.DRAFT, generic_name="pemetrexed", slug="pemetrexed")
        trial = make_trial(status=Status.DRAFT, slug="a-trial")
        publish_drafts(drug, by=jane)
        publish_drafts(trial, by=jane)
    reviewed = text(get(drug.get_absolute_url()))
    assert "Page last reviewed: 3 March 2026 · Next review due: 3 March 2027" in reviewed
    assert "Medically reviewed by Jane Doe, MD." in reviewed and "Last updated 3 March 2026." in reviewed
    assert "Page last reviewed: 3 March 2026 · Next review due: 3 March 2027" in text(get(trial.get_absolute_url()))
    loaded = make_drug(last_published_at=datetime.datetime(2026, 11, 29, tzinfo=datetime.UTC))  # as from a fixture
    unreviewed = text(get(loaded.get_absolute_url()))
    assert "Not yet medically reviewed. Last updated 29 November 2026." in unreviewed
    assert "Page last reviewed" not in unreviewed and "Next review due" not in unreviewed


def test_the_glossary_is_reviewed_when_every_term_is_as_of_the_oldest_review(jane):
    terms = [
        GlossaryTerm.objects.create(term=word, slug=word, definition=f"About {word}.", status=Status.DRAFT)
        for word in ("pleura", "biopsy")
    ]
    with at(2026, 1, 10):
        publish_drafts(terms[0], by=jane)
    with at(2026, 2, 20):
        alone = text(get("/glossary/"))  # biopsy is not live yet: neither shown nor counted
        publish_drafts(terms[1], by=jane)
    assert "Page last reviewed: 10 January 2026 · Next review due: 10 January 2027" in alone
    glossary = text(get("/glossary/"))
    assert "Page last reviewed: 10 January 2026 · Next review due: 10 January 2027" in glossary
    assert "Last updated 20 February 2026." in glossary and "Medically reviewed by" not in glossary
    GlossaryTerm.objects.create(term="cancer", slug="cancer", definition="A disease.", status=Status.PUBLISHED)
    assert "Not yet medically reviewed." in text(get("/glossary/"))


def test_the_dashboard_lists_pages_published_without_medical_review(jane, admin_client):
    overview = make_overview(title="A page nobody reviewed")
    drug = make_drug(generic_name="unreviewedamab")
    mark_reviewed([make_drug(generic_name="reviewedamab")], jane)
    make_drug(generic_name="draftamab", status=Status.DRAFT)
    GlossaryTerm.objects.create(term="pleura", slug="pleura", definition="The lining.", status=Status.PUBLISHED)
    dashboard = admin_client.get(reverse("admin:index")).content.decode()
    start = dashboard.index("Published without medical review")
    listed = dashboard[start : dashboard.index("</table>", start)]
    assert "Published without medical review (3)" in listed
    assert "A page nobody reviewed" in listed and "unreviewedamab" in listed and "Glossary" in listed
    assert "reviewedamab" not in listed.replace("unreviewedamab", "") and "draftamab" not in listed
    assert f'href="{overview.get_absolute_url()}"' in listed and f'href="{drug.get_absolute_url()}"' in listed
    review_screen = reverse("admin:editorial_revision_review")
    assert f"{review_screen}?page={overview.get_absolute_url()}&amp;record=treatments.overview:{overview.pk}" in listed
    assert "1 of 1 live terms" in listed
