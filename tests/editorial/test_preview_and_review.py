"""Staff preview of drafts at public URLs (editorial/preview.py) and the review screen for a page's changes."""

import pytest
from django.test import Client
from django.urls import reverse

from editorial.models import Revision, Status
from editorial.workflow import editing, submit
from tests.factories import make_drug, make_overview, make_reference, make_regimen, make_section, make_trial
from treatments.models import GlossaryTerm, Overview, SearchDocument, TreatmentOption

pytestmark = pytest.mark.django_db


def draft_of(record, **fields):
    with editing(None, record) as session:
        for name, value in fields.items():
            setattr(session.record, name, value)
        session.record.save()
    return session.revisions[0]


@pytest.fixture
def page_with_drafts():
    """A live overview whose section, trial, drug, reference and a glossary term it uses all have drafts."""
    reference = make_reference(key="smith-2020", title="The live title of a study")
    term = GlossaryTerm.objects.create(term="pleura", slug="pleura", definition="Live definition.", status="published")
    unused = GlossaryTerm.objects.create(term="biopsy", slug="biopsy", definition="Unused.", status="published")
    overview = make_overview(intro="Live intro about the pleura.")
    section = make_section(overview, body="Live section text [@smith-2020].")
    drug = make_drug(generic_name="pemetrexed", slug="pemetrexed")
    trial = make_trial(title="Live trial title", references=[reference], regimen=make_regimen(drug))
    section.trials.add(trial)
    other_overview = make_overview(intro="Another page.")
    drafts = {
        "section": draft_of(section, body="Draft section text [@smith-2020]."),
        "trial": draft_of(trial, patient_count=4321),
        "regimen": draft_of(trial.regimen, name="pemetrexed then cisplatin"),
        "drug": draft_of(drug, brand_names="Alimta"),  # its page shows it; this page does not
        "reference": draft_of(reference, title="The corrected title of a study"),
        "term": draft_of(term, definition="Draft definition."),
        "unused": draft_of(unused, definition="Draft of an unused term."),
        "elsewhere": draft_of(other_overview, intro="A draft on another page."),
    }
    return overview, section, drafts


def test_staff_see_the_drafts_at_the_public_address_with_the_list_of_what_differs(admin_client, page_with_drafts):
    overview, section, drafts = page_with_drafts
    response = admin_client.get(overview.get_absolute_url())
    html = response.content.decode()
    for text in [
        "Draft section text",
        "<td>4321</td>",
        "pemetrexed then cisplatin",
        "The corrected title of a study",
        "Draft definition.",
    ]:
        assert text in html, text
    banner = html[html.index("preview-changes") : html.index("</div>", html.index("preview-changes"))]
    for record in [section, drafts["trial"], drafts["term"]]:
        record = record if not isinstance(record, Revision) else record.record
        url = reverse(f"admin:{record._meta.app_label}_{record._meta.model_name}_change", args=[record.pk])
        assert url in banner
    assert "biopsy" not in banner and "Another page" not in banner and "Alimta" not in banner  # not on this page
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_the_public_never_sees_drafts_even_after_a_staff_preview(admin_client, page_with_drafts):
    overview, section, _ = page_with_drafts
    admin_client.get(overview.get_absolute_url())
    for _ in range(2):  # uncached, then from the page cache
        html = Client().get(overview.get_absolute_url()).content.decode()
        assert "Live section text" in html and "The live title of a study" in html and "4321" not in html
        assert "Draft" not in html and "then cisplatin" not in html and "preview-changes" not in html
    assert TreatmentOption.objects.get(pk=section.pk).body == "Live section text [@smith-2020]."
    assert not SearchDocument.objects.filter(body__contains="Draft").exists()


def test_a_record_that_is_not_live_shows_only_to_staff_with_a_badge(admin_client):
    overview = make_overview()
    make_section(overview, heading="A section not yet live", status=Status.DRAFT)
    assert "A section not yet live" not in Client().get(overview.get_absolute_url()).content.decode()
    html = admin_client.get(overview.get_absolute_url()).content.decode()
    assert "A section not yet live" in html and "not public" in html


def test_the_page_review_screen_lists_every_pending_change_the_page_shows(admin_client, page_with_drafts):
    overview, section, drafts = page_with_drafts
    url = f"{reverse('admin:editorial_revision_review')}?page={overview.get_absolute_url()}"
    response = admin_client.get(url)
    assert response.status_code == 200
    listed = {change["revision"].pk for change in response.context["pending"]}
    wanted = {drafts[name].pk for name in ["section", "trial", "regimen", "reference", "term"]}
    assert listed == wanted
    html = response.content.decode()
    assert "<del>Live</del><ins>Draft</ins>" in html  # word-level compare with live
    for revision in drafts.values():
        if revision.pk in wanted:
            assert reverse("admin:editorial_revision_compare", args=[revision.pk]) in html

    published = admin_client.post(url, {"revision": sorted(wanted), "action": "publish", "note": "New wording."})
    assert published.status_code == 302
    html = Client().get(overview.get_absolute_url()).content.decode()
    for text in [
        "Draft section text",
        "<td>4321</td>",
        "then cisplatin",
        "The corrected title",
        "Draft definition.",
    ]:
        assert text in html, text
    assert Overview.objects.get(pk=drafts["elsewhere"].object_id).draft_revision is not None  # untouched
    assert Revision.objects.get(pk=drafts["drug"].pk).state == Revision.State.DRAFT


def test_the_compare_view_shows_a_word_diff_with_live_and_offers_revert_for_old_versions(admin_client):
    section = make_section(make_overview(), body="Chemotherapy uses drugs.")
    revision = draft_of(section, body="Chemotherapy uses strong medicines.")
    html = admin_client.get(reverse("admin:editorial_revision_compare", args=[revision.pk])).content.decode()
    assert "uses <del>drugs</del><ins>strong medicines</ins>." in html
    assert "Make this version the working draft" not in html  # it already is


def test_submitting_from_the_change_form_puts_the_draft_in_review(admin_client):
    section = make_section(make_overview())
    draft_of(section, body="x")
    submit(section)
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "Changes waiting to go live (1)" in page


def test_publishing_asks_for_a_note_for_readers_or_a_minor_correction_tick(admin_client):
    section = make_section(make_overview(), body="Old.")
    revision = draft_of(section, body="New.")
    url = f"{reverse('admin:editorial_revision_review')}?records=treatments.treatmentoption:{section.pk}"
    refused = admin_client.post(url, {"revision": [revision.pk], "action": "publish"})
    assert refused.status_code == 200 and "Write a short note for readers" in refused.content.decode()
    assert TreatmentOption.objects.get(pk=section.pk).body == "Old."
    assert admin_client.post(url, {"revision": [revision.pk], "action": "publish", "minor": "on"}).status_code == 302
    revision.refresh_from_db()
    assert revision.minor and revision.state == Revision.State.PUBLISHED
