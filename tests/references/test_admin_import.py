from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mesoinfo.concurrency import token_of
from references.models import Reference
from tests.factories import make_reference

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).parent / "samples"
IMPORT = "/admin/references/reference/import/"


def reference_form(**fields):
    data = {
        "key": "new-2003", "authors": "New A", "title": "A new title", "source": "J Test", "year": 2003,
        "volume": "", "issue": "", "pages": "", "note": "", "pmid": "", "doi": "", "url": "",
    }  # fmt: skip
    data.update(fields)
    return data


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"pmid": "12860938"}, "pmid"),
        ({"doi": "10.1200/jco.2003.11.136"}, "doi"),
        ({"title": "PHASE III study of Pemetrexed!", "year": 2003}, "title"),
    ],
)
def test_admin_explains_and_links_the_duplicate(admin_client, fields, field):
    existing = make_reference(
        key="vogelzang-2003", title="Phase III study of pemetrexed", year=2003, pmid="12860938",
        doi="10.1200/JCO.2003.11.136",
    )  # fmt: skip
    response = admin_client.post(reverse("admin:references_reference_add"), reference_form(**fields))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors
    html = response.content.decode()
    assert reverse("admin:references_reference_change", args=[existing.pk]) in html
    assert "The library already has this work" in html
    assert Reference.objects.count() == 1


def test_editing_a_reference_does_not_flag_itself(admin_client):
    reference = make_reference(pmid="123", doi="10.1/x", title="Same title", year=2001)
    data = reference_form(key=reference.key, pmid="123", doi="10.1/x", title="Same title", year=2001,
                          version_token=token_of(reference))  # fmt: skip
    response = admin_client.post(reverse("admin:references_reference_change", args=[reference.pk]), data)
    assert response.status_code == 302


def test_import_page_preview_then_confirm(admin_client):
    make_reference(key="vogelzang-2003", pmid="12860938", title="Phase III study", year=2003)
    assert (
        "Import from PubMed, RIS or BibTeX"
        in admin_client.get(reverse("admin:references_reference_changelist")).content.decode()
    )
    upload = SimpleUploadedFile("pubmed.nbib", (SAMPLES / "pubmed.nbib").read_bytes())
    preview = admin_client.post(IMPORT, {"file": upload, "format": ""})
    assert preview.status_code == 200
    plan = preview.context["plan"]
    assert plan.existing and plan.existing[0].reference.key == "vogelzang-2003"
    assert plan.new
    html = preview.content.decode()
    assert "Will be created" in html and "Already in the library" in html
    before = Reference.objects.count()
    assert before == 1  # the preview saved nothing
    confirmed = admin_client.post(
        IMPORT, {"text": (SAMPLES / "pubmed.nbib").read_text(), "format": "medline", "confirm": "1"}
    )
    assert confirmed.status_code == 302
    assert Reference.objects.count() == before + len(plan.new)
    created = Reference.objects.exclude(key="vogelzang-2003").first()
    assert created.history.first().history_user.is_superuser


def test_import_page_shows_malformed_records_with_line_and_reason(admin_client):
    text = (SAMPLES / "partial.ris").read_text()
    preview = admin_client.post(IMPORT, {"text": text, "format": ""})
    plan = preview.context["plan"]
    assert plan.rejected
    html = preview.content.decode()
    for item in plan.rejected:
        assert f"line {item.record.line}" in html
    assert Reference.objects.count() == 0


def test_import_page_rejects_unreadable_input(admin_client):
    response = admin_client.post(IMPORT, {"text": "just some words", "format": ""})
    assert response.status_code == 200 and response.context["plan"] is None
    assert "Cannot tell the format" in response.content.decode()
    latin1 = SimpleUploadedFile("refs.ris", "TY  - JOUR\nTI  - Caf\xe9\nER  - \n".encode("latin-1"))
    response = admin_client.post(IMPORT, {"file": latin1, "format": ""})
    assert "not UTF-8" in response.content.decode()


def test_import_page_needs_add_permission(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("staff", password="pw-123456789", is_staff=True))
    assert client.get(IMPORT).status_code == 403
