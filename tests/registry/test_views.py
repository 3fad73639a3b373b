"""“Find a clinical trial” and the registry's place on our own pages."""

import datetime
import json
import re

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mesoinfo.markdown import readability
from registry.models import RegistryIntervention, RegistryLocation, RegistryStudy, RegistrySync
from tests.factories import make_overview, make_section, make_trial
from treatments.caching import content_changed
from treatments.models import GlossaryTerm, TreatmentOption

pytestmark = pytest.mark.django_db

FIND = "/clinical-trials/find/"
NOW = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)


def make_study(
    n,
    *,
    phases=("PHASE2",),
    status="RECRUITING",
    updated=None,
    places=(("Lyon", "France"),),
    tested=(("DRUG", "Test drug"),),
    **fields,
):
    study = RegistryStudy.objects.create(
        nct_id=f"NCT9{n:07d}",
        brief_title=fields.pop("brief_title", f"Registry study {n}"),
        overall_status=status,
        phases=list(phases),
        last_update_posted=updated or datetime.date(2026, 1, 1) + datetime.timedelta(days=n),
        fetched_at=fields.pop("fetched_at", NOW),
        content_hash="x",
        **fields,
    )
    for position, (city, country) in enumerate(places):
        RegistryLocation.objects.create(study=study, city=city, country=country, position=position)
    for position, (kind, name) in enumerate(tested):
        RegistryIntervention.objects.create(study=study, type=kind, name=name, position=position)
    return study


def synced(at=NOW, **fields):
    return RegistrySync.objects.create(
        started_at=at, finished_at=at, data_fetched_at=at, source="test", succeeded=True, **fields
    )


def titles(html):
    return re.findall(r'<h3 id="NCT\d+-title"><a href="[^"]+">([^<]+)</a>', html)


@pytest.fixture
def page(client):
    def get(query=None):
        response = client.get(FIND, query or {})
        assert response.status_code == 200
        return response.content.decode()

    return get


@time_machine.travel(NOW, tick=False)
def test_open_studies_newest_update_first_with_attribution(page):
    synced()
    make_study(1, updated=datetime.date(2026, 3, 1))
    make_study(2, updated=datetime.date(2026, 9, 1), status="NOT_YET_RECRUITING")
    make_study(3, closed_at=NOW)
    make_study(4, hidden=True, hidden_reason="Not about mesothelioma")
    make_study(5, status="COMPLETED")
    html = page()
    assert titles(html) == ["Registry study 2", "Registry study 1"]
    assert "Information from ClinicalTrials.gov, updated 2 November 2026." in html
    assert 'href="https://clinicaltrials.gov/study/NCT90000002"' in html
    assert "Not yet recruiting" in html and "Recruiting now" in html
    assert "2 studies, newest update first." in html
    assert "may be out of date" not in html


def test_each_study_shows_status_phase_where_and_what(page):
    synced()
    make_study(
        1,
        phases=("PHASE1", "PHASE2"),
        places=[("Lyon", "France"), ("Paris", "France"), ("Lyon", "France"), ("Milan", "Italy")]
        + [(f"Town {n}", "Spain") for n in range(8)],
        tested=[("BIOLOGICAL", "Test antibody")],
        minimum_age="18 Years",
        maximum_age="80 Years",
        sex="FEMALE",
        sponsor="Example Sponsor",
    )
    html = page()
    assert "Phase 1 / Phase 2" in html
    assert "<li>France: Lyon, Paris</li>" in html and "<li>Italy: Milan</li>" in html
    assert "Spain: Town 0, Town 1, Town 2, Town 3, Town 4 and 3 more places" in html
    assert "Biological (for example a vaccine): Test antibody" in html
    assert "From 18 years to 80 years; female only." in html and "Example Sponsor" in html


def test_filters_without_javascript(page):
    synced()
    make_study(1, phases=["PHASE1", "PHASE2"], places=[("Lyon", "France")], tested=[("DRUG", "A")])
    make_study(2, phases=["EARLY_PHASE1"], places=[("Milan", "Italy")], tested=[("RADIATION", "B")])
    make_study(
        3, phases=["PHASE3"], status="NOT_YET_RECRUITING", places=[("Leeds", "United Kingdom")], tested=[("DRUG", "C")]
    )
    make_study(4, phases=[], places=[], tested=[])
    assert titles(page({"phase": "PHASE1"})) == ["Registry study 1"]  # not the early phase 1 study
    assert titles(page({"phase": "PHASE2"})) == ["Registry study 1"]  # a phase 1/2 study is phase 2 too
    assert titles(page({"phase": "EARLY_PHASE1"})) == ["Registry study 2"]
    assert titles(page({"status": "NOT_YET_RECRUITING"})) == ["Registry study 3"]
    assert titles(page({"country": "Italy"})) == ["Registry study 2"]
    assert titles(page({"intervention": "DRUG"})) == ["Registry study 3", "Registry study 1"]
    assert "2 studies match your choices" in page({"intervention": "DRUG"})
    assert titles(page({"intervention": "DRUG", "country": "France"})) == ["Registry study 1"]
    html = page({"country": "Italy"})
    assert "1 study matches your choices" in html and '<option value="Italy" selected>' in html
    assert 'method="get"' in html and "<script" not in html.split("<main", 1)[1]
    # Countries offered are those of listed studies only.
    assert re.findall(r'<option value="([^"]+)"', html.split('name="country"')[1].split("</select>")[0]) == [
        "France",
        "Italy",
        "United Kingdom",
    ]


def test_a_choice_not_on_offer_is_ignored_and_said(page):
    synced()
    make_study(1)
    html = page({"phase": "PHASE9", "country": "Atlantis"})
    assert titles(html) == ["Registry study 1"]
    assert "We did not understand one of the choices" in html


def test_pages_keep_the_filters(page):
    synced()
    for n in range(25):
        make_study(n, places=[("Lyon", "France")])
    make_study(99, places=[("Milan", "Italy")])
    html = page({"country": "France"})
    assert len(titles(html)) == 20 and "Page 1 of 2" in html
    assert 'href="?country=France&amp;page=2"' in html
    assert len(titles(page({"country": "France", "page": 2}))) == 5


def test_filtered_pages_are_cached_separately(client):
    synced()
    make_study(1, places=[("Lyon", "France")])
    make_study(2, places=[("Milan", "Italy")])
    assert titles(client.get(FIND, {"country": "Italy"}).content.decode()) == ["Registry study 2"]
    assert titles(client.get(FIND, {"country": "France"}).content.decode()) == ["Registry study 1"]
    assert len(titles(client.get(FIND).content.decode())) == 2


def test_a_stale_list_says_so(page):
    synced(at=NOW - datetime.timedelta(days=8))
    make_study(1)
    with time_machine.travel(NOW, tick=False):
        html = page()
    assert "This list may be out of date." in html and "more than 7 days" in html
    cache.clear()  # a cached page says what it said when rendered, for at most PAGE_CACHE_SECONDS
    with time_machine.travel(NOW - datetime.timedelta(days=6), tick=False):
        assert "out of date" not in page()


def test_stale_days_is_a_setting(page, settings):
    settings.REGISTRY_STALE_DAYS = 1
    synced(at=timezone.now() - datetime.timedelta(days=2))
    assert "more than 1 day." in page()


def test_before_the_first_sync(page):
    html = page()
    assert "The list of studies has not been loaded yet." in html and "Information from" not in html


def test_a_failed_sync_keeps_the_last_data_with_its_date(page):
    synced(at=NOW - datetime.timedelta(days=1))
    RegistrySync.objects.create(started_at=NOW, finished_at=NOW, source="api", succeeded=False, error="HTTP 503")
    make_study(1)
    html = page()
    assert titles(html) == ["Registry study 1"] and "updated 1 November 2026" in html


def test_registry_text_is_escaped_never_markdown_or_glossary(page):
    synced()
    GlossaryTerm.objects.create(term="immunotherapy", slug="immunotherapy", definition="Treatment that helps.")
    make_study(1, brief_title="Immunotherapy **bold** <script>alert(1)</script> [@key]", sponsor="<b>Sponsor</b>")
    html = page()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "**bold**" in html and "<strong>bold</strong>" not in html
    assert "[@key]" in html and 'class="term"' not in html and "&lt;b&gt;Sponsor&lt;/b&gt;" in html


def test_header_is_plain_words_with_glossary_links(page):
    html = page()
    header = html.split('id="about-trials-heading"')[1].split('id="studies-heading"')[0]
    for anchor in ("#clinical-trial", "#phase-i-trial", "#phase-ii-trial", "#phase-iii-trial"):
        assert f'href="/glossary/{anchor}"' in header
    text = re.sub(r"<[^>]+>", " ", header.split(">", 1)[1])
    report = readability(text)
    assert report.grade <= 8, report


def test_query_budget_at_5000_studies(client, django_assert_max_num_queries):
    synced()
    countries = ["France", "Italy", "Spain", "United Kingdom", "United States"]
    studies = RegistryStudy.objects.bulk_create(
        RegistryStudy(
            nct_id=f"NCT9{n:07d}",
            brief_title=f"Study {n}",
            overall_status="RECRUITING",
            phases=["PHASE2"],
            last_update_posted=datetime.date(2020, 1, 1) + datetime.timedelta(days=n),
            fetched_at=NOW,
            content_hash="x",
        )
        for n in range(5000)
    )
    RegistryLocation.objects.bulk_create(
        RegistryLocation(study=study, city=f"City {i}", country=countries[(study.pk + i) % 5], position=i)
        for study in studies
        for i in range(3)
    )
    RegistryIntervention.objects.bulk_create(RegistryIntervention(study=s, type="DRUG", name="A") for s in studies)
    content_changed()  # as a sync does, after its bulk writes
    for query in ({}, {"phase": "PHASE2", "country": "Italy", "intervention": "DRUG", "page": 3}):
        with django_assert_max_num_queries(10):
            response = client.get(FIND, query)
        assert response.status_code == 200 and len(titles(response.content.decode())) == 20
    assert "Study 4999" in client.get(FIND).content.decode()


def test_in_the_sitemap(client):
    html = client.get("/sitemap-pages.xml").content.decode()
    assert "/clinical-trials/find/</loc>" in html


def test_linked_from_research_sections_of_an_overview(client):
    overview = make_overview()
    make_section(overview, modality=TreatmentOption.Modality.RESEARCH, slug="new-drugs")
    make_section(overview, modality=TreatmentOption.Modality.SURGERY, slug="surgery")
    html = client.get(overview.get_absolute_url()).content.decode()
    assert html.count(f'href="{FIND}"') == 1
    research = html.split('id="new-drugs"')[1].split('id="surgery"')[0]
    assert f'href="{FIND}"' in research


# --- our trials ---------------------------------------------------------------------------------------------------


def test_a_trial_shows_its_number_and_its_registry_status(client, settings):
    settings.PUBLISHED_PAGES = False  # the query counts below are those of rendering the page
    trial = make_trial(title="KEYNOTE-028-like", nct_id="NCT90000007")
    unregistered = make_trial(title="From 2003")
    content_changed()
    with CaptureQueriesContext(connection) as without_number:
        client.get(unregistered.get_absolute_url())
    with CaptureQueriesContext(connection) as with_number:
        html = client.get(trial.get_absolute_url()).content.decode()
    assert len(with_number) == len(without_number) + 1  # one query for the registry record
    assert '<a href="https://clinicaltrials.gov/study/NCT90000007">NCT90000007</a>' in html
    assert "Status on ClinicalTrials.gov" not in html  # no registry record yet
    make_study(7, status="COMPLETED", fetched_at=datetime.datetime(2026, 10, 30, tzinfo=datetime.UTC))
    html = client.get(trial.get_absolute_url()).content.decode()
    assert "<dt>Status on ClinicalTrials.gov</dt>" in html
    assert "Completed, as of 30 October 2026." in html and f'href="{FIND}"' in html
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)[1])
    assert data["identifier"] == {
        "@type": "PropertyValue",
        "propertyID": "ClinicalTrials.gov",
        "value": "NCT90000007",
        "url": "https://clinicaltrials.gov/study/NCT90000007",
    }


def test_a_closed_registry_record_is_not_shown_as_current(client):
    trial = make_trial(nct_id="NCT90000008")
    make_study(8, closed_at=NOW)
    assert "Status on ClinicalTrials.gov" not in client.get(trial.get_absolute_url()).content.decode()


def test_trials_tables_link_the_registry_number(client):
    with_number = make_trial(title="Registered", nct_id="NCT90000009")
    make_trial(title="Older study")
    html = client.get(reverse("treatments:trial-list")).content.decode()
    assert '<th scope="col">ClinicalTrials.gov number</th>' in html
    assert f'<td><a href="{with_number.registry_url}">NCT90000009</a></td>' in html
    assert html.count("<td>—</td>") >= 1
    overview = make_overview()
    make_section(overview).trials.add(with_number)
    html = client.get(overview.get_absolute_url()).content.decode()
    assert f'<td><a href="{with_number.registry_url}">NCT90000009</a></td>' in html
