import datetime
from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

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
    assert "Vogelzang" not in html.split("<form", 1)[1]  # the confirm form names the kept file, not its text
    confirmed = admin_client.post(IMPORT, {"token": preview.context["token"], "confirm": "1"})
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


# --- large files: kept server-side between preview and confirm -----------------------------------------------


def generated_ris(records, abstract_words=60):
    abstract = " ".join(["Background words of an abstract about a made-up study."] * (abstract_words // 9))
    return "".join(
        f"TY  - JOUR\nAU  - Author{n}, Jane\nTI  - A made-up study number {n}\nJO  - J Test\nPY  - 2001\n"
        f"VL  - {n}\nSP  - 1\nEP  - 2\nAB  - {abstract}\nER  - \n\n"
        for n in range(1, records + 1)
    ).encode()


def test_a_multi_megabyte_file_previews_and_imports(admin_client):
    data = generated_ris(7_000)
    assert len(data) > 3 * 1024 * 1024  # past DATA_UPLOAD_MAX_MEMORY_SIZE: a re-post of the text would be a 400
    preview = admin_client.post(IMPORT, {"file": SimpleUploadedFile("big.ris", data), "format": ""})
    assert preview.status_code == 200 and len(preview.context["plan"].new) == 7_000
    form = preview.content.decode().split('<form method="post">', 1)[1]
    assert "Background words" not in form and 'name="token"' in form
    confirmed = admin_client.post(IMPORT, {"token": preview.context["token"], "confirm": "1"})
    assert confirmed.status_code == 302 and confirmed["Location"].endswith("/admin/references/reference/")
    assert Reference.objects.count() == 7_000
    # The kept file is gone: confirming again imports nothing and says why.
    again = admin_client.post(IMPORT, {"token": preview.context["token"], "confirm": "1"}, follow=True)
    assert "has expired" in again.content.decode() and Reference.objects.count() == 7_000


def test_a_kept_file_expires_after_an_hour(admin_client, settings):
    from references import pending

    upload = SimpleUploadedFile("refs.ris", generated_ris(3))
    with time_machine.travel(timezone.now(), tick=False) as clock:
        preview = admin_client.post(IMPORT, {"file": upload, "format": ""})
        kept = list((Path(settings.MEDIA_ROOT) / pending.FOLDER).iterdir())
        assert len(kept) == 1
        clock.shift(pending.EXPIRY + datetime.timedelta(minutes=1))
        response = admin_client.post(IMPORT, {"token": preview.context["token"], "confirm": "1"}, follow=True)
        assert "has expired" in response.content.decode()
        assert Reference.objects.count() == 0 and not kept[0].exists()
        admin_client.post(IMPORT, {"file": SimpleUploadedFile("b.ris", generated_ris(2)), "format": ""})
        clock.shift(pending.EXPIRY + datetime.timedelta(minutes=1))
        admin_client.get(IMPORT)  # any later use of the import page removes expired files
        admin_client.post(IMPORT, {"file": SimpleUploadedFile("c.ris", generated_ris(1)), "format": ""})
        assert len(list((Path(settings.MEDIA_ROOT) / pending.FOLDER).iterdir())) == 1


def test_a_kept_file_can_only_be_imported_by_the_session_that_uploaded_it(admin_client, client, django_user_model):
    preview = admin_client.post(IMPORT, {"file": SimpleUploadedFile("a.ris", generated_ris(2)), "format": ""})
    other = django_user_model.objects.create_superuser("other", "o@example.org", "pw-123456789")
    client.force_login(other)
    for token in (preview.context["token"], "../../etc/passwd", ""):
        response = client.post(IMPORT, {"token": token, "confirm": "1"}, follow=True)
        assert "has expired" in response.content.decode()
    assert Reference.objects.count() == 0


def test_over_the_limits_the_import_page_says_so(admin_client):
    too_big = SimpleUploadedFile("huge.ris", b"TY  - JOUR\n" + b"x" * (20 * 1024 * 1024))
    response = admin_client.post(IMPORT, {"file": too_big, "format": ""})
    assert response.status_code == 200 and "larger than 20 MB" in response.content.decode()
    admin_client.raise_request_exception = False
    pasted = admin_client.post(IMPORT, {"text": "TY  - JOUR\n" + "x" * (3 * 1024 * 1024), "format": ""})
    assert pasted.status_code == 400 and "too much text to send" in pasted.content.decode()
    assert "at most 2.5 MB" in pasted.content.decode() and "upload the file" in pasted.content.decode()
