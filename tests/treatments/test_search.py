"""Search: the same interface and page on PostgreSQL (full text) and SQLite (fallback)."""

import pytest
from django.core.management import call_command
from django.db import connection

from tests.factories import make_drug, make_overview, make_section, make_trial
from treatments.models import SearchDocument
from treatments.search import search

pytestmark = pytest.mark.django_db


@pytest.fixture
def content():
    overview = make_overview(title="Stage IV mesothelioma", summary="For stage IV.")
    chemo = make_section(
        overview, heading="Chemotherapy", body="Pemetrexed (Alimta®) with cisplatin helps some people."
    )
    surgery = make_section(overview, heading="Surgery", body="Removing the pleura can ease breathing.")
    drug = make_drug(generic_name="pemetrexed", slug="pemetrexed", brand_names="Alimta", drug_class="Chemotherapy")
    trial = make_trial(title="Ranpirnase weekly", summary="A study of ranpirnase in 81 people.")
    return {"overview": overview, "chemo": chemo, "surgery": surgery, "drug": drug, "trial": trial}


def titles(results):
    return [result.title for result in results]


def test_brand_name_finds_the_drug_first(content):
    results = search("Alimta")
    assert results[0].obj == content["drug"]
    assert content["chemo"] in [r.obj for r in results]


def test_title_matches_rank_above_body_matches(content):
    make_section(content["overview"], heading="Other", body="Chemotherapy is mentioned once here.")
    results = search("chemotherapy")
    assert results[0].obj == content["chemo"]


def test_all_four_kinds_are_found_with_kinds_and_urls(content):
    assert search("ranpirnase")[0].obj == content["trial"]
    assert search("pleura")[0].obj == content["surgery"]
    assert search("stage")[0].obj == content["overview"]
    result = search("pemetrexed")[0]
    assert result.url == content["drug"].get_absolute_url() and result.kind == "Drug"


def test_snippets_highlight_and_escape(content):
    make_section(content["overview"], heading="Odd", body="Careful: `<script>alert(1)</script>` near ranpirnase.")
    results = search("ranpirnase")
    snippets = " ".join(str(r.snippet) for r in results)
    assert "<mark>" in snippets
    assert "<script>" not in snippets


def test_unpublished_content_is_never_found(content):
    make_drug(generic_name="secretamab", slug="secretamab", status="draft")
    make_section(make_overview(status="draft"), heading="Hidden page section", body="secretamab")
    assert search("secretamab") == []


def test_index_follows_edits(content):
    content["surgery"].body = "Now about talc instead."
    content["surgery"].save()
    assert search("talc")[0].obj == content["surgery"]
    assert content["surgery"] not in [r.obj for r in search("breathing")]


@pytest.mark.parametrize(
    "query",
    ["", "   ", '"', "'", "%", "_", "%_%", '"unclosed', "a & b | !c", "(", "\x00nul", "日本語 テスト", "ü" * 300,
     "x" * 10_000, "<script>alert(1)</script>", "-", "OR", "and or not"],
)  # fmt: skip
def test_odd_queries_never_fail(client, content, query):
    response = client.get("/search/", {"q": query})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html


def test_search_page(client, content):
    html = client.get("/search/", {"q": "Alimta"}).content.decode()
    assert "result" in html and content["drug"].get_absolute_url() in html and "<mark>" in html.lower()
    html = client.get("/search/", {"q": "nothingmatcheszzz"}).content.decode()
    assert "No results for" in html
    assert 'role="search"' in client.get("/").content.decode()


def test_rebuild_index_after_loaddata(client):
    call_command("loaddata", "seed", verbosity=0)
    assert not SearchDocument.objects.exists()
    call_command("rebuild_search_index", verbosity=0)
    results = search("Alimta")
    assert results and results[0].title == "pemetrexed (Alimta®)"
    assert any(r.kind == "Section" for r in results)
    if connection.vendor == "postgresql":
        assert SearchDocument.objects.filter(search_vector__isnull=False).count() == SearchDocument.objects.count()


def test_snippets_keep_the_trademark_sign(client, content):
    snippets = " ".join(str(result.snippet) for result in search("Alimta"))
    assert "<mark>Alimta</mark>®" in snippets
