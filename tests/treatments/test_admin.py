import pytest
from django.urls import reverse

from mesoinfo.concurrency import token_of
from references.models import Reference
from tests.factories import (
    make_drug,
    make_overview,
    make_reference,
    make_regimen,
    make_section,
    make_trial,
    publish_drafts,
)
from treatments.models import Drug, Overview, Regimen, TreatmentOption, Trial

pytestmark = pytest.mark.django_db


@pytest.fixture
def content():
    reference = make_reference(key="vogelzang-2003")
    overview = make_overview()
    drug = make_drug()
    section = make_section(overview, body="Text [@vogelzang-2003]")
    section.drugs.add(drug)
    trial = make_trial(references=[reference], regimen=make_regimen(drug))
    return {
        Overview: overview,
        TreatmentOption: section,
        Drug: drug,
        Regimen: trial.regimen,
        Trial: trial,
        Reference: reference,
    }


def admin_url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


@pytest.mark.parametrize("model", [Overview, TreatmentOption, Drug, Regimen, Trial, Reference])
def test_admin_pages_for_every_model(admin_client, content, model):
    obj = content[model]
    changelist = admin_client.get(admin_url(model, "changelist"))
    assert changelist.status_code == 200
    assert admin_client.get(admin_url(model, "changelist"), {"q": "a"}).status_code == 200
    assert admin_client.get(admin_url(model, "add")).status_code == 200
    change = admin_client.get(admin_url(model, "change", obj.pk))
    assert change.status_code == 200
    html = change.content.decode()
    if hasattr(obj, "get_absolute_url"):
        assert "View on site" in html


@pytest.mark.parametrize("model", [Overview, TreatmentOption, Drug, Trial])
def test_markdown_fields_use_live_preview_editor(admin_client, content, model):
    html = admin_client.get(admin_url(model, "change", content[model].pk)).content.decode()
    assert "markdownx-editor" in html and 'data-markdownx-urls-path="/markdownx/markdownify/"' in html
    assert "markdownx-preview" in html


def test_help_text_explains_how_to_cite(admin_client, content):
    html = admin_client.get(admin_url(TreatmentOption, "change", content[TreatmentOption].pk)).content.decode()
    assert "[@vogelzang-2003]" in html


def section_form(section, **changes):
    data = {
        "overview": section.overview_id,
        "position": section.position,
        "modality": section.modality,
        "heading": section.heading,
        "slug": section.slug,
        "body": section.body,
        "drugs": [d.pk for d in section.drugs.all()],
        "trials": [],
        "trials_caption": "",
        "version_token": token_of(section),
    }
    data.update(changes)
    return data


def test_admin_edit_section_updates_page_and_cites(admin_client, content):
    section = content[TreatmentOption]
    new_ref = make_reference(key="alley-2017", title="KEYNOTE-028")
    response = admin_client.post(
        admin_url(TreatmentOption, "change", section.pk),
        section_form(section, body="New plain words [@alley-2017]."),
    )
    assert response.status_code == 302
    section.refresh_from_db()
    assert section.body == "Text [@vogelzang-2003]", "the live version waits for review"
    assert section.draft_revision.data["fields"]["body"] == "New plain words [@alley-2017]."
    page = admin_client.get(section.overview.get_absolute_url()).content.decode()
    assert "New plain words" in page and "KEYNOTE-028" in page, "staff preview shows the draft"
    publish_drafts(section)
    section.refresh_from_db()
    assert section.body == "New plain words [@alley-2017]."
    assert list(section.cites.all()) == [new_ref]


def test_admin_unknown_key_is_form_error_naming_it_and_keeps_text(admin_client, content):
    section = content[TreatmentOption]
    typed = "Careful new text [@no-such-ref-1999] that must not be lost."
    response = admin_client.post(admin_url(TreatmentOption, "change", section.pk), section_form(section, body=typed))
    assert response.status_code == 200
    html = response.content.decode()
    assert "no-such-ref-1999" in html and "Unknown reference key" in html
    assert "Careful new text" in html
    section.refresh_from_db()
    assert section.body == "Text [@vogelzang-2003]"


def test_overview_inline_sections_validate_citations(admin_client, content):
    overview = content[Overview]
    section = content[TreatmentOption]
    data = {
        "title": overview.title, "stage_label": "", "summary": overview.summary, "intro": "", "slug": overview.slug,
        "position": 0, "version_token": token_of(overview),
        "sections-TOTAL_FORMS": 1, "sections-INITIAL_FORMS": 1, "sections-MIN_NUM_FORMS": 0,
        "sections-MAX_NUM_FORMS": 1000,
        "sections-0-id": section.pk, "sections-0-overview": overview.pk, "sections-0-position": 1,
        "sections-0-modality": "surgery", "sections-0-heading": "Surgery", "sections-0-slug": "surgery",
        "sections-0-body": "Bad [@ghost-key]",
        "sections-0-version_token": token_of(section),
        "questions-TOTAL_FORMS": 0, "questions-INITIAL_FORMS": 0, "questions-MIN_NUM_FORMS": 0,
        "questions-MAX_NUM_FORMS": 1000,
        "next_links-TOTAL_FORMS": 0, "next_links-INITIAL_FORMS": 0, "next_links-MIN_NUM_FORMS": 0,
        "next_links-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    response = admin_client.post(admin_url(Overview, "change", overview.pk), data)
    assert response.status_code == 200 and "ghost-key" in response.content.decode()
    data["sections-0-body"] = "Good [@vogelzang-2003]"
    response = admin_client.post(admin_url(Overview, "change", overview.pk), data)
    assert response.status_code == 302
    section.refresh_from_db()
    assert section.heading != "Surgery", "a section edited on its page is a draft too"
    assert section.draft_revision.data["fields"]["heading"] == "Surgery"
    publish_drafts(section)
    section.refresh_from_db()
    assert section.heading == "Surgery" and section.modality == "surgery"


def test_autocomplete_finds_drugs_by_brand_name(admin_client, content):
    make_drug(generic_name="pemetrexed", slug="pemetrexed", brand_names="Alimta")
    response = admin_client.get(
        "/admin/autocomplete/",
        {"term": "alimta", "app_label": "treatments", "model_name": "treatmentoption", "field_name": "drugs"},
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["pemetrexed (Alimta®)"]


def test_admin_requires_login(client):
    response = client.get(admin_url(Overview, "changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
