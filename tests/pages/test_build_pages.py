"""`manage.py build_pages`: the current version of every public page that has none for this release, rendered and
stored ahead of any visitor (after a deploy, a restore, or content written in bulk), and nothing else."""

import io
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from pages import publishing
from pages.models import Page, PageVersion
from tests.factories import make_drug, make_overview, make_regimen, make_section, make_trial
from treatments.caching import content_changed
from treatments.models import Drug, GlossaryTerm, Status

pytestmark = pytest.mark.django_db


def build(*args):
    out = io.StringIO()
    call_command("build_pages", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def content():
    GlossaryTerm.objects.create(term="pleura", slug="pleura", definition="The lining.", status="published")
    drug = make_drug(generic_name="pemetrexed", slug="pemetrexed", how_it_works="Blocks folate in the pleura.")
    trial = make_trial(title="The phase III study", slug="phase-iii", regimen=make_regimen(drug), patient_count=456)
    overview = make_overview(title="Stage IV", slug="stage-iv", intro="About the pleura.")
    make_section(overview, heading="Chemotherapy", body="Drugs kill cancer cells.").trials.add(trial)
    make_drug(generic_name="draftumab", slug="draftumab", status=Status.DRAFT)  # not public: never built
    return {"drug": drug, "trial": trial, "overview": overview}


PUBLIC = {"/", "/glossary/", "/drugs/", "/trials/", "/treatment/stage-iv/", "/drugs/pemetrexed/",
          "/trials/phase-iii/"}  # fmt: skip


def test_it_stores_every_public_page_once_then_visitors_get_them_without_a_render(content):
    assert set(publishing.public_paths()) == PUBLIC
    output = build()
    assert "7 pages, 0 already current; rendering 7." in output
    assert "Built 7 pages in" in output and "7 stored, 0 confirmed, 0 not public, 0 failed." in output
    assert set(Page.objects.exclude(current=None).values_list("path", flat=True)) == PUBLIC
    assert not Page.objects.filter(path="/drugs/draftumab/").exists()
    with mock.patch.object(publishing, "render", wraps=publishing.render) as render:
        for path in PUBLIC:
            response = Client().get(path)
            assert response.content == Page.objects.get(path=path).current.content.html
            assert response["X-Page-Cache"] == "hit"
    assert render.call_count == 0


def test_without_it_the_first_visitor_of_a_page_waits_for_its_render_and_is_told_so(content):
    first, again = Client().get("/drugs/pemetrexed/"), Client().get("/drugs/pemetrexed/")
    assert (first["X-Page-Cache"], again["X-Page-Cache"]) == ("miss", "hit")
    assert first.content == again.content == Page.objects.get(path="/drugs/pemetrexed/").current.content.html
    search = [Client().get("/search/", {"q": "pemetrexed"})["X-Page-Cache"] for _ in range(2)]  # the page cache
    assert search == ["miss", "hit"]
    assert "X-Page-Cache" not in Client().get("/healthz")


def test_it_is_idempotent(content):
    build()
    versions = set(PageVersion.objects.values_list("pk", "release", "generation"))
    with mock.patch.object(publishing, "render", wraps=publishing.render) as render:
        output = build()
    assert "7 pages, 7 already current; rendering 0." in output and "Built 0 pages" in output
    assert render.call_count == 0
    assert set(PageVersion.objects.values_list("pk", "release", "generation")) == versions


def test_after_a_release_it_renders_every_page_again_and_keeps_the_versions_whose_html_is_unchanged(content):
    build()
    versions = set(PageVersion.objects.values_list("pk", flat=True))
    with mock.patch.object(publishing, "current_release", return_value="next-release"):
        output = build()
        assert "7 pages, 0 already current; rendering 7." in output
        assert "0 stored, 7 confirmed, 0 not public, 0 failed." in output
        assert set(PageVersion.objects.values_list("pk", flat=True)) == versions
        assert set(PageVersion.objects.values_list("release", flat=True)) == {"next-release"}
        assert "7 already current" in build()


def test_after_content_written_in_bulk_only_the_pages_whose_html_changed_get_a_new_version(content):
    build()
    Drug.objects.filter(slug="pemetrexed").update(how_it_works="Blocks an enzyme.")  # no signals, as a bulk import
    assert "7 already current" in build()  # nothing said the content changed
    content_changed()  # what bulk writes call: every page is checked again
    output = build()
    assert "rendering 7." in output and "1 stored, 6 confirmed" in output
    drug_page = Page.objects.get(path="/drugs/pemetrexed/")
    assert drug_page.current.number == 2 and b"Blocks an enzyme." in drug_page.current.content.html


def test_a_page_no_longer_public_gets_its_last_version_and_answers_404(content):
    build()
    Drug.objects.filter(pk=content["drug"].pk).update(status=Status.ARCHIVED)
    content_changed()
    assert "/drugs/pemetrexed/" not in publishing.public_paths()
    output = build()  # the pages stored before are checked too
    assert "7 pages, 0 already current; rendering 7." in output and "0 failed." in output
    page = Page.objects.get(path="/drugs/pemetrexed/")
    assert page.current.number == 2 and page.current.is_gone
    assert Client().get("/drugs/pemetrexed/").status_code == 404
    assert b"pemetrexed" not in Client().get("/drugs/").content
    assert "7 pages, 7 already current" in build()


def test_only_the_addresses_given(content):
    output = build("/drugs/pemetrexed/", "/drugs/no-such-drug/")
    assert "2 pages, 0 already current; rendering 2." in output and "1 stored, 0 confirmed, 1 not public" in output
    assert list(Page.objects.values_list("path", flat=True)) == ["/drugs/pemetrexed/"]


@pytest.mark.django_db(transaction=True)
def test_several_processes_store_each_page_once():
    if connection.vendor != "postgresql":
        pytest.skip("--jobs renders in several processes on PostgreSQL only (SQLite takes one writer)")
    for n in range(30):
        make_drug(generic_name=f"drugamab{n:02d}", slug=f"drugamab{n:02d}", how_it_works=f"Text {n}.")
    with mock.patch("pages.management.commands.build_pages.CHUNK", 4):
        output = build("--jobs", "2")
    assert "34 stored, 0 confirmed, 0 not public, 0 failed." in output
    assert Page.objects.exclude(current=None).count() == 34  # the drugs, the home page, the lists, the glossary
    assert PageVersion.objects.count() == 34
    assert "34 already current" in build("--jobs", "2")
