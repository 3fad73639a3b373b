"""JSON-LD, sitemap, robots.txt, canonical URLs and Open Graph."""

import datetime
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from editorial.workflow import approve, ensure_draft
from tests.factories import (
    make_drug,
    make_overview,
    make_reference,
    make_regimen,
    make_section,
    make_trial,
    mark_reviewed,
    reviewer,
)
from treatments.models import Drug, Overview, ReviewerProfile, Trial

pytestmark = pytest.mark.django_db
SEED = "/treatment/stage-iv-recurrent-pleural-mesothelioma/"


def jsonld(html):
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert len(blocks) == 1, blocks
    return json.loads(blocks[0])


def test_overview_is_a_medical_web_page_with_citations_and_review(client):
    reviewer = get_user_model().objects.create_user("rev", password="pw-123456789")
    ReviewerProfile.objects.create(user=reviewer, display_name="Jane Doe", credentials="MD", status="published")
    make_reference(key="vog-2003", title="Phase III study", doi="10.1200/JCO.2003.11.136", pmid="12860938", year=2003)
    overview = make_overview(title="Stage IV page", summary="For stage IV.", intro="Fact [@vog-2003].")
    mark_reviewed(overview, reviewer)
    data = jsonld(client.get(overview.get_absolute_url()).content.decode())
    assert data["@context"] == "https://schema.org" and data["@type"] == "MedicalWebPage"
    assert data["name"] == "Stage IV page" and data["about"]["@type"] == "MedicalCondition"
    assert data["medicalAudience"]["audienceType"] == "Patient"
    assert data["lastReviewed"] == overview.reviewed_on.isoformat()
    assert data["reviewedBy"] == {"@type": "Person", "name": "Jane Doe, MD"}
    [article] = data["citation"]
    assert article["@type"] == "ScholarlyArticle" and article["headline"] == "Phase III study"
    assert article["sameAs"] == ["https://doi.org/10.1200/JCO.2003.11.136", "https://pubmed.ncbi.nlm.nih.gov/12860938/"]
    assert data["url"].endswith(overview.get_absolute_url())


def test_unreviewed_page_claims_no_review(client):
    data = jsonld(client.get(make_overview().get_absolute_url()).content.decode())
    assert "lastReviewed" not in data and "reviewedBy" not in data


def test_drug_and_trial_types(client):
    drug = make_drug(generic_name="pemetrexed", slug="pemetrexed", brand_names="Alimta", drug_class="Chemotherapy")
    data = jsonld(client.get(drug.get_absolute_url()).content.decode())
    assert (data["@type"], data["nonProprietaryName"], data["proprietaryName"]) == ("Drug", "pemetrexed", "Alimta")
    assert data["drugClass"] == {"@type": "DrugClass", "name": "Chemotherapy"}
    trial = make_trial(title="Big trial", phase="3", regimen=make_regimen(drug), references=[make_reference()])
    data = jsonld(client.get(trial.get_absolute_url()).content.decode())
    assert (data["@type"], data["phase"]) == ("MedicalTrial", "Phase III")
    assert (
        data["drug"] == [{"@type": "Drug", "name": "pemetrexed"}] and data["citation"][0]["@type"] == "ScholarlyArticle"
    )


def test_every_public_page_has_valid_jsonld(client):
    call_command("load_seed", verbosity=0)
    urls = ["/", "/drugs/", "/trials/", "/glossary/", SEED]
    urls += [d.get_absolute_url() for d in Drug.objects.all()] + [t.get_absolute_url() for t in Trial.objects.all()]
    for url in urls:
        data = jsonld(client.get(url).content.decode())
        assert data["@context"] == "https://schema.org", url


def test_jsonld_is_escaped_against_script_injection(client):
    overview = make_overview(title="</script><script>alert(1)</script>", summary="a & b <i>")
    html = client.get(overview.get_absolute_url()).content.decode()
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1)
    assert "<" not in block and ">" not in block
    assert json.loads(block)["name"] == "</script><script>alert(1)</script>"


def test_sitemap_lists_only_public_content(client):
    public = make_overview(slug="public-page")
    make_overview(slug="draft-page", status="draft")
    make_section(public)
    make_drug(slug="public-drug")
    make_drug(slug="secret-drug", status="archived")
    scheduled = make_trial(slug="future-trial", status="draft")
    approve([ensure_draft(scheduled)], reviewer(), go_live_at=timezone.now() + datetime.timedelta(days=365))
    index = client.get("/sitemap.xml")
    assert index.status_code == 200
    sections = re.findall(r"<loc>http://testserver(/sitemap-[a-z]+\.xml)</loc>", index.content.decode())
    assert sorted(sections) == [f"/sitemap-{name}.xml" for name in ("drugs", "overviews", "pages", "trials")]
    xml = "".join(client.get(section).content.decode() for section in sections)
    assert "/treatment/public-page/" in xml and "/drugs/public-drug/" in xml and "/glossary/" in xml
    for hidden in ["draft-page", "secret-drug", "future-trial"]:
        assert hidden not in xml
    assert Overview.objects.count() == 2


def test_sitemaps_split_into_pages_of_at_most_the_limit(client, monkeypatch):
    from treatments.sitemaps import TrialSitemap

    monkeypatch.setattr(TrialSitemap, "limit", 2)
    import datetime

    for number in range(5):
        make_trial(slug=f"trial-{number}")
    latest = datetime.datetime(2026, 5, 4, 12, 0, tzinfo=datetime.UTC)
    Trial.objects.update(last_published_at=latest - datetime.timedelta(days=30))
    Trial.objects.filter(slug="trial-3").update(last_published_at=latest)
    index = client.get("/sitemap.xml").content.decode()
    assert "<lastmod>2026-05-04T12:00:00+00:00</lastmod>" in index  # the newest trial dates the trials' sitemaps
    assert "/sitemap-trials.xml</loc>" in index and "/sitemap-trials.xml?p=3</loc>" in index
    assert "?p=4" not in index
    pages = [client.get(f"/sitemap-trials.xml?p={page}").content.decode() for page in (1, 2, 3)]
    assert [page.count("<url>") for page in pages] == [2, 2, 1]
    assert client.get("/sitemap-trials.xml?p=4").status_code == 404
    assert client.get("/sitemap-nothing.xml").status_code == 404


def test_robots_txt_points_to_sitemap_and_never_names_the_admin(client, settings):
    settings.ADMIN_URL = "staff-7f3a/"
    text = client.get("/robots.txt").content.decode()
    assert "Sitemap: http://testserver/sitemap.xml" in text and "Disallow: /markdownx/" in text
    assert "admin" not in text and "staff-7f3a" not in text


def test_canonical_and_open_graph(client, settings):
    overview = make_overview(title="Stage IV page", summary="Short summary.")
    html = client.get(overview.get_absolute_url() + "?utm_source=x").content.decode()
    assert f'<link rel="canonical" href="http://testserver{overview.get_absolute_url()}">' in html
    assert '<meta property="og:title" content="Stage IV page">' in html
    assert '<meta property="og:description" content="Short summary.">' in html
    settings.SITE_URL = "https://mesoinfo.example.org"
    html = client.get(overview.get_absolute_url()).content.decode()
    assert f'href="https://mesoinfo.example.org{overview.get_absolute_url()}"' in html


@pytest.mark.parametrize("url", ["/sitemap.xml", "/sitemap-drugs.xml", "/sitemap-pages.xml", "/robots.txt", "/"])
def test_absolute_urls_come_from_site_url_whatever_host_asked_first(client, settings, url):
    settings.SITE_URL = "https://mesoinfo.example.org"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "internal-lb.local"]
    make_drug(generic_name="sitemapumab", slug="sitemapumab")
    first = client.get(url, HTTP_HOST="internal-lb.local").content.decode()
    later = client.get(url).content.decode()
    for text in (first, later):
        assert "internal-lb.local" not in text and "testserver" not in text
        assert "https://mesoinfo.example.org/" in text


def test_a_cached_page_is_not_served_to_a_host_that_is_not_allowed(client):
    overview = make_overview()
    assert client.get(overview.get_absolute_url()).status_code == 200  # now cached
    client.raise_request_exception = False
    assert client.get(overview.get_absolute_url(), HTTP_HOST="evil.example").status_code == 400
    assert client.get("/sitemap.xml", HTTP_HOST="evil.example").status_code == 400
