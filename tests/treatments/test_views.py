import pytest
from django.urls import reverse

from pages.rendering import render
from tests.factories import (
    make_drug,
    make_overview,
    make_question,
    make_reference,
    make_regimen,
    make_section,
    make_trial,
    mark_reviewed,
)
from treatments.models import NextLink

pytestmark = pytest.mark.django_db


def build_overview(n_sections=2, n_trials=2):
    """An overview whose sections cite references and show trials tables: n sections × n trials, and n questions to
    ask."""
    intro_ref = make_reference()
    overview = make_overview(intro=f"Intro cites [@{intro_ref.key}].")
    for s in range(n_sections):
        shared = make_reference(key=f"shared-{overview.pk}-{s}")
        section = make_section(overview, body=f"Section {s} [@{shared.key}] and [@{intro_ref.key}].")
        drug = make_drug()
        section.drugs.add(drug)
        for _ in range(n_trials):
            regimen = make_regimen(make_drug(), make_drug())
            trial = make_trial(
                references=[make_reference()], outcomes=[("Alive at 1 year", "", "42%", True)], regimen=regimen
            )
            section.trials.add(trial)
        make_question(overview)
    NextLink.objects.create(overview=overview, label="A missing page", position=1)
    NextLink.objects.create(overview=overview, label="Existing", target=make_overview(title="Other page"), position=2)
    return overview


def test_home_lists_overviews(client):
    overview = make_overview(title="Stage IV page", summary="For people with stage IV.")
    response = client.get("/")
    assert response.status_code == 200
    assert overview.get_absolute_url() in response.content.decode()
    assert "For people with stage IV." in response.content.decode()


def test_overview_page_sections_citations_reference_list(client):
    a = make_reference(key="a-2001", title="Alpha study")
    make_reference(key="b-2002", title="Beta study", pmid="111", doi="10.1/beta")
    overview = make_overview(intro="Intro [@b-2002].")
    make_section(overview, heading="Chemotherapy", slug="chemotherapy", body="Chemo [@a-2001] again [@b-2002].")
    make_section(overview, heading="Surgery", slug="surgery", body="Surgery text.")
    html = client.get(overview.get_absolute_url()).content.decode()
    assert html.count("<h1>") == 1
    assert '<a href="#chemotherapy">Chemotherapy</a>' in html and '<a href="#surgery">Surgery</a>' in html
    # b is met first (intro), so it is 1; a is 2; b cited again keeps 1.
    assert html.index('id="ref-1"') < html.index('id="ref-2"')
    ref_list = html[html.index('id="references-heading"') :]
    assert ref_list.index("Beta study") < ref_list.index("Alpha study")
    assert "https://pubmed.ncbi.nlm.nih.gov/111/" in ref_list and "https://doi.org/10.1/beta" in ref_list
    assert html.count('href="#ref-1"') == 2 and html.count('href="#ref-2"') == 1
    assert "talk to your doctor" in html.lower()
    assert a.title in html


def test_overview_trials_table_rows_ordered_by_citation_number(client):
    r1, r2 = make_reference(key="first-cited"), make_reference(key="second-cited")
    overview = make_overview()
    section = make_section(overview, body="See [@first-cited; @second-cited].", trials_caption="Combination trials")
    late = make_trial(title="Zeta", references=[r2], patient_count=81, phase="2")
    early = make_trial(title="Alpha", references=[r1], outcomes=[("Stable disease", "", "35 of 81", True)])
    section.trials.set([late, early])
    html = client.get(overview.get_absolute_url()).content.decode()
    table = html[html.index("<caption>Combination trials</caption>") :]
    assert table.index(early.get_absolute_url()) < table.index(late.get_absolute_url())
    assert "Stable disease: 35 of 81" in table
    assert "<td>81</td>" in table and "Phase II" in table


def test_next_link_without_target_is_not_a_link(client):
    overview = build_overview(1, 1)
    html = client.get(overview.get_absolute_url()).content.decode()
    assert "A missing page" in html and "(page coming soon)" in html
    assert ">A missing page</a>" not in html
    other = NextLink.objects.get(label="Existing").target
    assert f'<a href="{other.get_absolute_url()}">Existing</a>' in html


def test_overview_query_count_is_fixed(client, django_assert_num_queries, django_assert_max_num_queries):
    """Rendering an overview page, as a publish does (pages/rendering.py), takes 11 queries at 1× and 50× the
    content; serving it to a visitor afterwards takes one (the content generation)."""
    small = build_overview(n_sections=1, n_trials=1)
    large = build_overview(n_sections=10, n_trials=5)  # 50 trials
    with django_assert_num_queries(11):
        assert render(small.get_absolute_url())[0].status_code == 200
    with django_assert_num_queries(11):
        response, _seen = render(large.get_absolute_url())
    assert response.status_code == 200
    client.get(large.get_absolute_url())  # stored as published
    with django_assert_max_num_queries(1):
        assert client.get(large.get_absolute_url()).content == response.content


def test_drug_pages(client):
    reference = make_reference(key="drug-ref", title="How the drug works study")
    drug = make_drug(
        generic_name="pemetrexed", slug="pemetrexed", brand_names="Alimta", drug_class="Chemotherapy",
        how_it_works="It works [@drug-ref].",
    )  # fmt: skip
    overview = make_overview(title="Stage IV")
    section = make_section(overview, heading="Chemotherapy", slug="chemo")
    section.drugs.add(drug)
    other = make_drug(generic_name="cisplatin", slug="cisplatin", brand_names="Platinol")
    trial = make_trial(title="Big phase III", regimen=make_regimen(drug, other), references=[reference])
    single = make_trial(title="Single-drug study")
    single.drugs.add(drug)

    listing = client.get(reverse("treatments:drug-list")).content.decode()
    assert "pemetrexed" in listing and "Alimta®" in listing and "Platinol®" in listing

    html = client.get(drug.get_absolute_url()).content.decode()
    assert "Alimta®" in html and "Chemotherapy" in html
    assert section.get_absolute_url() in html and "Stage IV" in html
    assert trial.get_absolute_url() in html and single.get_absolute_url() in html
    assert 'href="#ref-1"' in html and "How the drug works study" in html


def test_trial_pages(client):
    reference = make_reference(key="mikulski-2002", title="Ranpirnase trial report")
    drug = make_drug(generic_name="ranpirnase", slug="ranpirnase", brand_names="Onconase")
    trial = make_trial(
        title="Ranpirnase phase II", phase="2", patient_count=81, references=[reference],
        outcomes=[("Stable disease", "", "35 of 81", True), ("Alive at 2 years", "The 41 responders", "41%", False)],
        summary="A study [@mikulski-2002].",
    )  # fmt: skip
    trial.drugs.add(drug)
    listing = client.get(reverse("treatments:trial-list")).content.decode()
    assert trial.get_absolute_url() in listing and "Stable disease: 35 of 81" in listing and "ranpirnase" in listing
    html = client.get(trial.get_absolute_url()).content.decode()
    assert "Phase II" in html and "<dd>81</dd>" in html
    assert "The 41 responders" in html and "41%" in html and "35 of 81" in html
    assert "Onconase®" in html and drug.get_absolute_url() in html
    assert html.count('id="ref-1"') == 1 and "Ranpirnase trial report" in html


def test_trial_without_known_values_says_nothing(client):
    trial = make_trial(title="Abstract-only study")
    html = client.get(trial.get_absolute_url()).content.decode()
    for absent in ["Phase", "Patients", "Status", "Results", "None"]:
        assert f"<dt>{absent}</dt>" not in html
    assert "None" not in html


@pytest.mark.parametrize(
    "url", ["/treatment/no-such-page/", "/drugs/no-such-drug/", "/trials/no-such-trial/", "/nothing-here/"]
)
def test_unknown_pages_friendly_404(client, url):
    response = client.get(url)
    assert response.status_code == 404
    html = response.content.decode()
    assert "We could not find that page" in html and "Traceback" not in html


def test_server_error_shows_friendly_page(client, monkeypatch):
    from treatments import views

    def boom(*args, **kwargs):
        raise RuntimeError("database exploded")

    monkeypatch.setattr(views.Overview.objects, "all", boom)
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html and "exploded" not in html and "Traceback" not in html


def test_markdown_in_public_pages_is_sanitised(client):
    overview = make_overview(intro="<script>alert(1)</script>[x](javascript:alert(1))")
    make_section(overview, body='<img src=x onerror="alert(1)">')
    html = client.get(overview.get_absolute_url()).content.decode()
    assert "<script>alert" not in html and "onerror" not in html and "javascript:" not in html


@pytest.mark.parametrize("size", [1, 8])
def test_other_pages_query_counts_do_not_grow(client, django_assert_num_queries, size, settings):
    settings.PUBLISHED_PAGES = False  # the queries of rendering each page
    overview = build_overview(n_sections=size, n_trials=size)
    drug = overview.sections.first().drugs.first()
    trial = overview.sections.first().trials.first()
    trial.drugs.add(drug)
    # Each count includes the page cache's content-generation lookup; lists also count for pagination.
    for url, budget in [
        ("/", 2),
        (reverse("treatments:drug-list"), 3),
        (drug.get_absolute_url(), 6),
        (reverse("treatments:trial-list"), 5),
        (trial.get_absolute_url(), 8),
    ]:
        with django_assert_num_queries(budget):
            assert client.get(url).status_code == 200


def test_favicon_ico_redirects_to_the_site_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("favicon.svg")


def test_long_lists_are_paginated(client):
    for n in range(55):
        make_trial(title=f"Paged trial {n:02d}", slug=f"paged-{n:02d}")
    first = client.get(reverse("treatments:trial-list")).content.decode()
    assert "Paged trial 49" in first and "Paged trial 50" not in first and "Page 1 of 2" in first
    second = client.get(reverse("treatments:trial-list"), {"page": 2}).content.decode()
    assert "Paged trial 54" in second and 'rel="prev"' in second
    assert client.get(reverse("treatments:trial-list"), {"page": 99}).status_code == 404


def test_a_drug_pages_trials_are_paginated(client):
    drug = make_drug(generic_name="pagedamab", slug="pagedamab")
    for n in range(52):
        make_trial(title=f"Drug trial {n:02d}", slug=f"drug-trial-{n:02d}").drugs.add(drug)
    first = client.get(drug.get_absolute_url()).content.decode()
    assert "Drug trial 49" in first and "Drug trial 50" not in first
    assert "52 trials, 50 a page" in first and "Page 1 of 2" in first and 'rel="next"' in first
    second = client.get(drug.get_absolute_url(), {"page": 2}).content.decode()
    assert "Drug trial 51" in second and "Drug trial 00" not in second and "pagedamab" in second
    assert client.get(drug.get_absolute_url(), {"page": 3}).status_code == 404
    assert client.get(drug.get_absolute_url(), {"page": "x"}).status_code == 404


def test_reviewed_overview_keeps_the_query_budget(django_assert_num_queries, django_user_model):
    from treatments.models import ReviewerProfile

    reviewer = django_user_model.objects.create_user("reviewer", password="pw-123456789")
    ReviewerProfile.objects.create(user=reviewer, display_name="Jane Doe", credentials="MD", status="published")
    overview = build_overview(n_sections=3, n_trials=3)
    mark_reviewed(overview, reviewer)
    with django_assert_num_queries(11):
        html = render(overview.get_absolute_url())[0].content.decode()
    assert "Medically reviewed by Jane Doe, MD" in html
