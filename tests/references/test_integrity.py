import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from references.integrity import check_citations
from references.models import Reference
from tests.factories import make_overview, make_reference, make_section, make_trial
from treatments.models import TreatmentOption

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    try:
        call_command("check_citations", *args, stdout=out)
    except CommandError as error:
        return error.returncode, out.getvalue()
    return 0, out.getvalue()


def categories(findings):
    return sorted((f.level, f.category) for f in findings)


def test_clean_site_passes():
    reference = make_reference()
    make_section(make_overview(), body=f"Fact [@{reference.key}].")
    assert check_citations() == []
    code, out = run()
    assert code == 0 and "0 error(s), 0 warning(s)." in out


def test_unknown_key_saved_outside_the_admin_is_an_error_with_object_field_and_link():
    section = make_section(make_overview(), body="ok")
    TreatmentOption.objects.filter(pk=section.pk).update(body="Fact [@ghost-1999].")  # bypasses validation
    [finding] = check_citations()
    assert (finding.level, finding.category, finding.field) == ("error", "unknown-key", "body")
    assert "ghost-1999" in finding.message and section.heading in finding.object
    assert finding.admin_url == reverse("admin:treatments_treatmentoption_change", args=[section.pk])
    code, out = run()
    assert code == 1 and "ghost-1999" in out and finding.admin_url in out


def test_uncited_reference_is_a_warning_only():
    make_reference(key="lonely-2000")
    assert categories(check_citations()) == [("warning", "uncited")]
    code, out = run()
    assert code == 0 and "lonely-2000" in out


def test_reference_listed_by_a_trial_counts_as_cited():
    reference = make_reference()
    make_trial(references=[reference])
    assert check_citations() == []
    assert [type(obj).__name__ for obj in reference.used_by()] == ["Trial"]


def test_cited_reference_missing_citation_fields():
    reference = make_reference(authors="", source="", year=None)
    make_section(make_overview(), body=f"[@{reference.key}]")
    [finding] = check_citations()
    assert finding.category == "incomplete" and "authors, source, year" in finding.message


def test_same_title_with_different_formatting_is_duplicate():
    a = make_reference(key="a-2003", title="Phase III study of pemetrexed.")
    b = make_reference(key="b-2003", title="PHASE III Study of  Pemetrexed")
    make_section(make_overview(), body="[@a-2003] [@b-2003]")
    findings = check_citations()
    assert categories(findings) == [("error", "duplicate"), ("error", "duplicate")]
    assert all(a.key in f.message and b.key in f.message for f in findings)


def test_different_dois_are_different_works():
    make_reference(key="a-2003", doi="10.1200/JCO.2003.11.136")
    make_reference(key="b-2003", doi="https://doi.org/10.1200/jco.2003.11.137")
    make_section(make_overview(), body="[@a-2003] [@b-2003]")
    assert check_citations() == []


def test_same_doi_with_different_formatting_is_duplicate():
    make_reference(key="a-2003", doi="10.1200/JCO.2003.11.136")
    make_reference(key="b-2003", title="Other title", doi="doi:10.1200/jco.2003.11.136 ")
    make_section(make_overview(), body="[@a-2003] [@b-2003]")
    assert [f.category for f in check_citations()] == ["duplicate", "duplicate"]


def test_json_format():
    make_reference(key="lonely-2000")
    code, out = run("--format", "json")
    report = json.loads(out)
    assert code == 0 and report["errors"] == 0
    assert report["findings"][0]["category"] == "uncited" and report["findings"][0]["admin_url"]


def test_seed_content_has_no_citation_problems():
    call_command("loaddata", "seed", verbosity=0)
    assert check_citations() == []


def test_admin_shows_where_a_reference_is_cited_and_what_a_page_cites(admin_client):
    reference = make_reference(key="shown-2001")
    section = make_section(make_overview(), heading="Chemo section", body="[@shown-2001]")
    html = admin_client.get(reverse("admin:references_reference_change", args=[reference.pk])).content.decode()
    assert "Chemo section" in html and reverse("admin:treatments_treatmentoption_change", args=[section.pk]) in html
    html = admin_client.get(reverse("admin:treatments_treatmentoption_change", args=[section.pk])).content.decode()
    assert reverse("admin:references_reference_change", args=[reference.pk]) in html


def test_deleting_a_cited_reference_is_refused_with_where_it_is_cited(admin_client):
    reference = make_reference(key="needed-2001")
    make_section(make_overview(), heading="Needs it", body="[@needed-2001]")
    url = reverse("admin:references_reference_delete", args=[reference.pk])
    page = admin_client.get(url).content.decode()
    assert "Needs it" in page and "needed-2001" in page
    admin_client.post(url, {"post": "yes"})
    assert Reference.objects.filter(pk=reference.pk).exists()
    # The bulk delete action is refused the same way.
    admin_client.post(
        reverse("admin:references_reference_changelist"),
        {"action": "delete_selected", "_selected_action": [reference.pk], "post": "yes"},
    )
    assert Reference.objects.filter(pk=reference.pk).exists()


def test_uncited_reference_can_be_deleted_once_it_is_not_live(admin_client):
    reference = make_reference(status="draft")
    admin_client.post(reverse("admin:references_reference_delete", args=[reference.pk]), {"post": "yes"})
    assert not Reference.objects.filter(pk=reference.pk).exists()
