"""Registry studies in the admin: read-only; a reviewer hides a study with a reason; the dashboard's sync line."""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from registry.models import RegistryStudy, RegistrySync
from tests.registry.test_views import make_study

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def staff(django_user_model, client):
    def login(name, group=None, superuser=False):
        if superuser:
            user = django_user_model.objects.create_superuser(name, f"{name}@example.org", None)
        else:
            user = django_user_model.objects.create_user(name, f"{name}@example.org", None, is_staff=True)
            if group:
                user.groups.add(Group.objects.get(name=group))
        client.force_login(user)
        return user

    return login


def change_url(study):
    return reverse("admin:registry_registrystudy_change", args=[study.pk])


def hide(client, study, reason, hidden=True):
    data = {"hidden": "on", "hidden_reason": reason} if hidden else {"hidden_reason": reason}
    return client.post(change_url(study), data)


def test_a_reviewer_hides_a_study_with_a_reason_that_is_kept(client, staff):
    reviewer = staff("dr_rev", "Medical reviewer")
    study = make_study(1)
    assert client.get(change_url(study)).status_code == 200
    refused = hide(client, study, "")
    assert refused.status_code == 200 and "Give the reason for hiding this study" in refused.content.decode()
    assert not RegistryStudy.objects.get(pk=study.pk).hidden

    assert hide(client, study, "Not about mesothelioma").status_code == 302
    study.refresh_from_db()
    assert (study.hidden, study.hidden_reason, study.hidden_by) == (True, "Not about mesothelioma", reviewer)
    assert study.hidden_at is not None
    assert "Registry study 1" not in client.get("/clinical-trials/find/").content.decode()

    assert hide(client, study, "Not about mesothelioma", hidden=False).status_code == 302
    study.refresh_from_db()
    assert not study.hidden and study.hidden_reason == "Not about mesothelioma"  # kept on record


def test_registry_data_cannot_be_edited_added_or_deleted(client, staff):
    staff("root", superuser=True)
    study = make_study(1, brief_title="As the registry wrote it")
    response = client.post(
        change_url(study), {"brief_title": "Edited", "overall_status": "COMPLETED", "hidden_reason": ""}
    )
    assert response.status_code == 302
    study.refresh_from_db()
    assert (study.brief_title, study.overall_status) == ("As the registry wrote it", "RECRUITING")
    assert client.get(reverse("admin:registry_registrystudy_add")).status_code == 403
    assert (
        client.post(reverse("admin:registry_registrystudy_delete", args=[study.pk]), {"post": "yes"}).status_code == 403
    )
    assert RegistryStudy.objects.filter(pk=study.pk).exists()
    sync = RegistrySync.objects.create(started_at=NOW, finished_at=NOW, source="t", succeeded=True)
    assert (
        client.post(reverse("admin:registry_registrysync_delete", args=[sync.pk]), {"post": "yes"}).status_code == 403
    )


def test_an_editor_sees_studies_but_cannot_hide_one(client, staff):
    staff("ed", "Editor")
    study = make_study(1)
    listing = client.get(reverse("admin:registry_registrystudy_changelist"))
    assert listing.status_code == 200 and "NCT90000001" in listing.content.decode()
    assert hide(client, study, "I would rather not").status_code == 403
    assert not RegistryStudy.objects.get(pk=study.pk).hidden


def test_staff_without_a_role_see_nothing(client, staff):
    staff("nobody")
    study = make_study(1)
    assert client.get(reverse("admin:registry_registrystudy_changelist")).status_code == 403
    assert hide(client, study, "x").status_code == 403


def test_list_filters(client, staff):
    staff("root", superuser=True)
    make_study(1)
    make_study(2, closed_at=NOW)
    make_study(3, hidden=True, hidden_reason="Off topic")
    url = reverse("admin:registry_registrystudy_changelist")
    for value, expected in [("yes", "NCT90000001"), ("closed", "NCT90000002"), ("hidden", "NCT90000003")]:
        html = client.get(url, {"listed": value}).content.decode()
        shown = {f"NCT9000000{n}" for n in (1, 2, 3) if f">NCT9000000{n}<" in html}
        assert shown == {expected}, value
    assert client.get(url, {"overall_status__exact": "RECRUITING", "interventions__type": "DRUG"}).status_code == 200


def test_the_review_dashboard_shows_the_last_sync_and_its_result(client, staff):
    staff("dr_rev", "Medical reviewer")
    index = reverse("admin:index")
    assert "No sync yet" in client.get(index).content.decode()
    RegistrySync.objects.create(
        started_at=NOW - datetime.timedelta(days=1),
        finished_at=NOW - datetime.timedelta(days=1),
        data_fetched_at=NOW - datetime.timedelta(days=1),
        source="ClinicalTrials.gov API v2",
        succeeded=True,
        studies=120,
        added=3,
        changed=5,
        closed=2,
    )
    html = client.get(index).content.decode()
    assert "1 Nov 2026, 09:00: 120 studies: 3 added, 5 changed, 2 closed" in html
    RegistrySync.objects.create(started_at=NOW, finished_at=NOW, source="api", succeeded=False, error="HTTP 503")
    html = client.get(index).content.decode()
    assert "<strong>failed: HTTP 503</strong>" in html and "Last successful sync" in html
