"""Deleting never changes a live page: live records are unpublished first, and what live content shows stays."""

import pytest
from django.urls import reverse

from editorial.models import Status
from tests.factories import make_drug, make_overview, make_section
from treatments.models import Drug

pytestmark = pytest.mark.django_db


def delete_url(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_delete", args=[obj.pk])


def test_a_live_record_cannot_be_deleted_until_it_is_unpublished(admin_client):
    drug = make_drug(generic_name="liveumab")
    response = admin_client.post(delete_url(drug), {"post": "yes"})
    assert "is live: unpublish it first" in response.content.decode()
    assert Drug.objects.filter(pk=drug.pk).exists()
    drug.status = Status.ARCHIVED
    drug.save()
    assert admin_client.post(delete_url(drug), {"post": "yes"}).status_code == 302
    assert not Drug.objects.filter(pk=drug.pk).exists()


def test_what_live_content_shows_cannot_be_deleted(admin_client):
    drug = make_drug(generic_name="shownumab", status=Status.ARCHIVED)
    section = make_section(make_overview(), heading="A live section")
    section.drugs.add(drug)
    response = admin_client.post(delete_url(drug), {"post": "yes"})
    assert "A live section" in response.content.decode()
    assert Drug.objects.filter(pk=drug.pk).exists() and list(section.drugs.all()) == [drug]
