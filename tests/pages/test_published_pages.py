"""Published pages (pages/): each public page is rendered once when what it shows goes live, stored as a numbered
version, and served to anonymous visitors as stored; a publish re-renders exactly the pages it changes."""

import datetime
import xml.etree.ElementTree as ET

import pytest
import time_machine
from django.test import Client

from editorial.workflow import approve, archive, editing
from pages.models import Page, PageContent, PageVersion
from tests.factories import make_drug, make_overview, make_regimen, make_section, make_trial, reviewer
from treatments.models import GlossaryTerm, ReviewerProfile

pytestmark = pytest.mark.django_db
ATOM = "{http://www.w3.org/2005/Atom}"


def get(url):
    return Client().get(url)


def versions(url):
    return list(PageVersion.objects.filter(page__path=url).order_by("number"))


def change(record, note="", minor=False, **fields):
    """An editor's draft of `record`, published at once by a medical reviewer; returns the revision."""
    with editing(None, record) as session:
        for name, value in fields.items():
            setattr(session.record, name, value)
        session.record.save()
    (revision,) = session.revisions
    approve([revision], ReviewerProfile.objects.get(display_name="Jane Doe").user, note=note, minor=minor)
    return revision


@pytest.fixture
def site():
    # The reviewer first: a change to an account is a change made outside the workflow, which re-checks every page.
    ReviewerProfile.objects.create(user=reviewer(), display_name="Jane Doe", credentials="MD", status="published")
    term = GlossaryTerm.objects.create(term="pleura", slug="pleura", definition="The lining.", status="published")
    unused = GlossaryTerm.objects.create(term="biopsy", slug="biopsy", definition="A sample.", status="published")
    drug = make_drug(generic_name="pemetrexed", slug="pemetrexed", how_it_works="Blocks folate.")
    trial = make_trial(title="The phase III study", regimen=make_regimen(drug), patient_count=456)
    overview = make_overview(title="Stage IV", slug="stage-iv", intro="About the pleura.")
    section = make_section(overview, heading="Chemotherapy", body="Drugs kill cancer cells.")
    section.trials.add(trial)
    other = make_overview(title="Another page", slug="another", intro="Nothing shared.")
    return {"term": term, "unused": unused, "drug": drug, "trial": trial, "overview": overview, "section": section,
            "other": other}  # fmt: skip


def test_the_first_request_stores_version_one_and_later_ones_are_served_without_rendering(
    site, django_assert_max_num_queries
):
    url = site["overview"].get_absolute_url()
    first = get(url)
    assert first.status_code == 200 and "Drugs kill cancer cells." in first.content.decode()
    (version,) = versions(url)
    assert version.number == 1 and version.content.html == first.content
    with django_assert_max_num_queries(1):  # the content generation (read per request without the listener)
        again = get(url)
    assert again.content == first.content


def test_a_publish_renders_the_pages_it_changes_once_and_they_are_served_as_stored(site):
    overview_url, other_url = site["overview"].get_absolute_url(), site["other"].get_absolute_url()
    for url in (overview_url, other_url, site["trial"].get_absolute_url()):
        get(url)
    with time_machine.travel(datetime.datetime(2027, 3, 3, 9, 0, tzinfo=datetime.UTC), tick=False):
        revision = change(site["section"], note="Explained how the drugs work.", body="The drugs stop cancer cells.")
    old, new = versions(overview_url)
    assert new.number == 2 and new.went_live_at == datetime.datetime(2027, 3, 3, 9, 0, tzinfo=datetime.UTC)
    assert new.reviewers == ["Jane Doe, MD"] and new.listed_notes == ["Explained how the drugs work."]
    assert list(new.revisions.all()) == [revision]
    served = get(overview_url)
    assert served.content == new.content.html and b"The drugs stop cancer cells." in served.content
    assert len(versions(other_url)) == 1  # a page that does not show the section was not touched
    assert len(versions(site["trial"].get_absolute_url())) == 1


def test_a_publish_that_changes_nothing_visible_makes_no_version(site):
    overview_url, trial_url = site["overview"].get_absolute_url(), site["trial"].get_absolute_url()
    get(overview_url), get(trial_url)
    change(site["trial"], design="Randomised, compared with cisplatin alone.")  # the overview's table leaves it out
    assert len(versions(trial_url)) == 2 and b"Randomised, compared" in get(trial_url).content
    assert len(versions(overview_url)) == 1


def test_a_drug_change_re_renders_the_drug_page_and_pages_that_show_the_drug_only(site):
    drug_url, overview_url = site["drug"].get_absolute_url(), site["overview"].get_absolute_url()
    get(drug_url), get(overview_url)
    change(site["drug"], how_it_works="Blocks an enzyme that cells need.")
    assert len(versions(drug_url)) == 2 and b"Blocks an enzyme" in get(drug_url).content
    assert len(versions(overview_url)) == 1  # the overview names the regimen, not what the drug does
    change(site["drug"], brand_names="Alimta")  # the name, as trial tables show it
    assert len(versions(drug_url)) == 3


def test_a_glossary_definition_re_renders_the_pages_that_use_the_term(site):
    overview_url, other_url = site["overview"].get_absolute_url(), site["other"].get_absolute_url()
    get(overview_url), get(other_url), get("/glossary/")
    change(site["term"], definition="The thin lining around the lungs.")
    assert len(versions(overview_url)) == 2 and b"The thin lining around the lungs." in get(overview_url).content
    assert len(versions("/glossary/")) == 2
    assert len(versions(other_url)) == 1  # it does not use the word
    change(site["unused"], definition="A small piece of tissue.")
    assert len(versions(overview_url)) == 2
    change(site["unused"], other_forms="cells")  # now a word the overview has: it is marked there
    assert len(versions(overview_url)) == 3 and b'href="#term-biopsy"' in get(overview_url).content


def test_a_new_record_appears_on_the_lists_that_show_it(site):
    get("/drugs/"), get("/")
    with editing(None) as session:
        site["drug"].__class__.objects.create(generic_name="newumab", slug="newumab")
    approve(session.revisions, reviewer("dr-lists"))
    assert b"newumab" in get("/drugs/").content and b"newumab" in get("/drugs/newumab/").content
    assert len(versions("/")) == 1  # the home page lists overview pages only


def test_one_publish_leaves_every_other_page_cached(site, django_assert_max_num_queries):
    pages = [site["other"].get_absolute_url(), site["drug"].get_absolute_url(), "/glossary/", "/drugs/"]
    for url in pages:
        get(url)
    change(site["trial"], patient_count=457)
    for url in pages:
        with django_assert_max_num_queries(2):  # the generation, then which pages changed: no render
            get(url)
    assert b"457" in get(site["trial"].get_absolute_url()).content


def test_taking_a_record_off_the_site_ends_its_page(site):
    url = site["drug"].get_absolute_url()
    get(url)
    site["trial"].regimen.regimen_drugs.all().delete()  # nothing live shows the drug any more
    archive(site["drug"], reviewer("dr-archive"))
    assert get(url).status_code == 404
    gone = versions(url)[-1]
    assert gone.is_gone and gone.number == 2


def test_nothing_of_a_draft_is_ever_stored(site, admin_client):
    url = site["overview"].get_absolute_url()
    with editing(None, site["section"]) as session:
        session.record.body = "An unreviewed sentence."
        session.record.save()
    assert b"An unreviewed sentence." in admin_client.get(url).content  # staff preview
    get(url), get("/glossary/")
    change(site["drug"], how_it_works="Reviewed words.")
    assert not any(b"An unreviewed sentence." in content.html for content in PageContent.objects.all())


def test_a_change_made_outside_the_workflow_is_seen_before_a_page_is_served(site):
    url = site["overview"].get_absolute_url()
    get(url)
    site["section"].body = "Loaded from a fixture."  # e.g. loaddata, restore_content, a registry sync
    site["section"].save()
    assert b"Loaded from a fixture." in get(url).content
    assert len(versions(url)) == 2


def test_the_archive_serves_each_version_exactly_and_answers_what_the_page_said_on_a_date(site, client, admin_user):
    admin_client = client
    url = site["overview"].get_absolute_url()
    with time_machine.travel(datetime.datetime(2027, 3, 1, 12, tzinfo=datetime.UTC), tick=False):
        served_first = get(url).content
    with time_machine.travel(datetime.datetime(2027, 3, 5, 12, tzinfo=datetime.UTC), tick=False):
        change(site["section"], note="New wording.", body="Chemotherapy drugs stop cancer cells growing.")
        served_second = get(url).content
    with time_machine.travel(datetime.datetime(2027, 3, 6, 12, tzinfo=datetime.UTC), tick=False):
        admin_client.force_login(admin_user)  # a session started before the clock moved would have expired
        listing = admin_client.get(f"{url}versions/").content.decode()
        assert "New wording." in listing and "Jane Doe, MD" in listing
        assert admin_client.get(f"{url}versions/1/", {"download": 1}).content == served_first
        assert admin_client.get(f"{url}versions/2/", {"download": 1}).content == served_second
        archived = admin_client.get(f"{url}versions/1/").content.decode()
        assert "Archived version 1" in archived and "Drugs kill cancer cells." in archived
        at = admin_client.get(f"{url}versions/", {"at": "2027-03-03"})
        assert at.status_code == 302 and at["Location"] == f"{url}versions/1/?at=2027-03-03"
        assert admin_client.get(f"{url}versions/", {"at": "2027-03-05"})["Location"].startswith(f"{url}versions/2/")
        assert (
            "had not been published yet" in admin_client.get(f"{url}versions/", {"at": "2027-02-01"}).content.decode()
        )
        diff = admin_client.get(f"{url}versions/diff/", {"from": 1, "to": 2}).content.decode()
        assert "<del>Drugs</del><ins>Chemotherapy</ins> <del>kill</del><ins>drugs stop</ins> cancer cells" in diff


def test_the_archive_is_for_staff_only(site):
    url = site["overview"].get_absolute_url()
    get(url)
    for address in (f"{url}versions/", f"{url}versions/1/", f"{url}versions/diff/?from=1&to=1"):
        response = get(address)
        assert response.status_code == 404 and b"/admin/" not in response.content


def test_feeds_are_atom_and_list_only_published_notes_that_are_not_minor(site, settings):
    url = site["overview"].get_absolute_url()
    get(url)
    change(site["section"], note="Added the results of the phase III study.", body="New results.")
    change(site["section"], minor=True, body="New results, fixed.")
    with editing(None, site["section"]) as session:  # a draft with a note nobody approved
        session.record.body = "Draft."
        session.record.save()
    for address in ("/updates.xml", f"{url}updates.xml"):
        response = get(address)
        assert response.status_code == 200 and response["Content-Type"].startswith("application/atom+xml")
        feed = ET.fromstring(response.content)
        assert feed.tag == f"{ATOM}feed" and feed.find(f"{ATOM}id") is not None
        entries = feed.findall(f"{ATOM}entry")
        assert len(entries) == 1
        entry = entries[0]
        assert "Added the results of the phase III study." in entry.find(f"{ATOM}title").text
        for tag in ("id", "updated", "link"):
            assert entry.find(f"{ATOM}{tag}") is not None
        assert entry.find(f"{ATOM}link").get("href") == f"{settings.SITE_URL}/treatment/stage-iv/"  # never the Host
    assert get("/treatment/no-such-page/updates.xml").status_code == 404


def test_latest_updates_on_the_page_newest_first_the_last_five_with_a_link_to_all(site):
    url = site["overview"].get_absolute_url()
    for n in range(7):
        with time_machine.travel(datetime.datetime(2027, 3, 1 + n, 9, tzinfo=datetime.UTC), tick=False):
            change(site["section"], note=f"Change number {n}.", body=f"Wording number {n}.")
    change(site["section"], minor=True, body="Wording number 6, with a spelling mistake fixed.")
    html = get(url).content.decode()
    block = html[html.index('id="updates-heading"') :]
    shown = [f"Change number {n}." for n in range(6, 1, -1)]
    assert [block.index(note) for note in shown] == sorted(block.index(note) for note in shown)  # newest first
    assert "Change number 1." not in block and "7 March 2027" in block and "spelling mistake" not in block
    assert f'href="{url}updates/"' in block and f'href="{url}updates.xml"' in block
    assert (
        f'<link rel="alternate" type="application/atom+xml" title="Updates to this page" href="{url}updates.xml">'
        in html
    )
    everything = get(f"{url}updates/").content.decode()
    assert all(f"Change number {n}." in everything for n in range(7)) and "spelling mistake" not in everything


def test_how_to_cite_each_overview_drug_and_trial_page(site, settings):
    settings.SITE_PUBLISHER = "MesoInfo"
    with time_machine.travel(datetime.datetime(2027, 3, 3, 9, tzinfo=datetime.UTC), tick=False):
        change(site["section"], note="New wording.", body="New wording.")
    url = site["overview"].get_absolute_url()
    html = get(url).content.decode()
    cite = html[html.index('id="cite-heading"') :]
    assert f"Stage IV. MesoInfo. Updated March 3, 2027. Accessed [date you read it]. {settings.SITE_URL}{url}" in cite
    ris = get(f"{url}cite.ris")
    assert ris["Content-Type"].startswith("application/x-research-info-systems")
    text = ris.content.decode()
    assert "TY  - ELEC" in text and "TI  - Stage IV" in text and "PB  - MesoInfo" in text
    assert f"UR  - {settings.SITE_URL}{url}" in text and "DA  - 2027/03/03" in text
    bib = get(f"{url}cite.bib").content.decode()
    assert bib.startswith("@misc{mesoinfo-overview-stage-iv,") and "Updated 03 March 2027" in bib
    for record in (site["drug"], site["trial"]):
        page = get(record.get_absolute_url()).content.decode()
        assert 'id="cite-heading"' in page and f"{settings.SITE_URL}{record.get_absolute_url()}" in page
        assert get(f"{record.get_absolute_url()}cite.ris").status_code == 200
    assert get("/drugs/no-such-drug/cite.ris").status_code == 404


def test_addresses_that_are_not_public_pages_leave_nothing_behind(site):
    for n in range(5):
        assert get(f"/drugs/made-up-{n}/").status_code == 404
    assert not Page.objects.filter(path__startswith="/drugs/made-up").exists()
