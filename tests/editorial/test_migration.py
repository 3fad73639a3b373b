"""The data migration to live and draft (treatments 0008: today's content becomes live version 1 of each record)
keeps every public page of the seed byte-identical.

The migration's function runs again here on the seed, from the state it starts from (no revisions; regimens,
glossary terms, references and reviewer profiles without a live status), with today's models: migrating the
database backwards instead would also undo later migrations and the data they hold.
"""

import importlib

import pytest
from django.apps import apps
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from editorial.models import Revision, Status
from editorial.registry import publishable_models
from treatments.models import Drug, Overview, Regimen, Trial

pytestmark = pytest.mark.django_db

migration = importlib.import_module("treatments.migrations.0008_live_version_one")
# Before live and draft, these had no status at all: everything of them was public.
HAD_NO_STATUS = {"treatments.regimen", "treatments.glossaryterm", "treatments.reviewerprofile", "references.reference"}


def public_pages():
    urls = ["/", "/drugs/", "/trials/", "/glossary/", "/sitemap.xml", "/sitemap-drugs.xml", "/sitemap-trials.xml"]
    for overview in Overview.objects.all():
        url = overview.get_absolute_url()
        urls += [url, f"{url}references.ris", f"{url}references.bib"]
    urls += [drug.get_absolute_url() for drug in Drug.objects.all()]
    urls += [trial.get_absolute_url() for trial in Trial.objects.all()]
    pages = {}
    for url in urls:
        cache.clear()
        response = Client().get(url)
        assert response.status_code == 200, url
        pages[url] = response.content
    return pages


def test_the_seed_pages_are_byte_identical_after_the_migration_to_live_version_one():
    call_command("load_seed", verbosity=0)
    before = public_pages()
    # Back to where the migration starts: one row per record, no revisions, the newly reviewed kinds without status.
    Revision.objects.all().delete()
    for model in publishable_models():
        model.objects.update(live_revision=None, draft_revision=None)
        if model._meta.label_lower in HAD_NO_STATUS:
            model.objects.update(status=Status.DRAFT)
    assert not Regimen.objects.published().exists()

    migration.live_version_one(apps, schema_editor=None)

    after = public_pages()
    assert sorted(after) == sorted(before)
    assert [url for url in before if before[url] != after[url]] == []
    # Every record is now live version 1, with nothing waiting.
    assert Revision.objects.count() == sum(model.objects.count() for model in publishable_models())
    assert set(Revision.objects.values_list("state", "number")) == {("published", 1)}
    assert not Regimen.objects.exclude(status=Status.PUBLISHED).exists()
    overview = Overview.objects.get()
    assert overview.live_revision.data["fields"]["title"] == overview.title
