"""One way to load fixtures: plain `loaddata seed` gives the same site as `load_seed` (treatments/loading.py):
the dates travel in the fixtures, and when the load commits every loaded record gets its first history entry and
revision, and the search index its documents. Runs on SQLite and PostgreSQL (DATABASE_URL)."""

import datetime
import json
import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse

from editorial.models import Revision, Status
from editorial.registry import publishable_models
from pages.serving import current_versions
from references.models import Reference
from tests.factories import make_drug
from tools import fixture_dates
from treatments.management.commands.restore_content import delete_content
from treatments.models import Drug, GlossaryTerm, Overview, SearchDocument, TreatmentOption, Trial
from treatments.search import search

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SEED_URL = "/treatment/stage-iv-recurrent-pleural-mesothelioma/"


def public_pages():
    urls = ["/", "/drugs/", "/trials/", "/glossary/", "/sitemap.xml", SEED_URL, "/search/?q=Alimta"]
    urls += [f"{SEED_URL}references.ris", f"{SEED_URL}cite.bib"]
    urls += [drug.get_absolute_url() for drug in Drug.objects.all()]
    urls += [trial.get_absolute_url() for trial in Trial.objects.all()]
    pages = {}
    for url in urls:
        response = Client().get(url)
        assert response.status_code == 200, url
        pages[url] = response.content
    return pages


def records():
    """Each content record's dates, review, history and live revision, as the site keeps them."""
    found = {}
    for model in publishable_models():
        for record in model.objects.select_related("live_revision", "draft_revision"):
            history = list(record.history.values_list("history_type", "history_change_reason"))
            live = record.live_revision
            found[(model._meta.label_lower, record.pk)] = {
                "status": record.status,
                "last_published_at": record.last_published_at,
                "reviewed": (record.reviewed_by_id, record.reviewed_on, record.review_due),
                "history": history,
                "live": live and (live.number, live.state, live.published_at, live.data),
                "draft": record.draft_revision_id,
            }
    return found


def site():
    return {
        "pages": public_pages(),
        "records": records(),
        "alimta": [result.title for result in search("Alimta")],
        "documents": SearchDocument.objects.count(),
    }


def empty_the_database():
    with transaction.atomic():
        delete_content()
    cache.clear()
    current_versions.clear()
    assert not Overview.objects.exists() and not Revision.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_plain_loaddata_gives_the_same_site_as_load_seed():
    call_command("loaddata", "seed", verbosity=0)  # commits: the load is finished then
    loaded = site()
    empty_the_database()
    call_command("load_seed", verbosity=0)
    seeded = site()
    assert loaded["records"] == seeded["records"]
    assert [url for url in loaded["pages"] if loaded["pages"][url] != seeded["pages"][url]] == []
    assert loaded == seeded
    # And that site is complete: dated, searchable, with a history and a live version 1 of every record.
    assert loaded["alimta"][0] == "pemetrexed (Alimta®)"
    assert loaded["documents"] == sum(
        len(list(model.objects.all())) for model in (Overview, TreatmentOption, Drug, Trial)
    )
    for key, record in loaded["records"].items():
        assert record["status"] == Status.PUBLISHED, key
        assert record["last_published_at"] is not None, key
        assert record["reviewed"] == (None, None, None), key  # nobody has reviewed the seed yet
        assert record["history"] == [("+", "Loaded from a fixture")], key
        number, state, published_at, _data = record["live"]
        assert (number, state, published_at) == (1, Revision.State.PUBLISHED, record["last_published_at"]), key
    html = loaded["pages"][SEED_URL].decode()
    assert "<p>Not yet medically reviewed.</p>" in html
    assert re.search(r"<p>Last updated <time datetime=\"\d{4}-\d\d-\d\dT[^\"]+\">[^<]+</time>\.</p>", html)
    assert "This page is based on studies published" in html


def test_loaddata_finishes_what_it_loaded_when_it_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        call_command("loaddata", "seed", verbosity=0)
        assert not SearchDocument.objects.exists() and not Revision.objects.exists()  # the rows alone, until then
    assert callbacks
    assert search("Alimta")[0].title == "pemetrexed (Alimta®)"
    overview = Overview.objects.get()
    assert overview.history.count() == 1 and overview.live_revision.number == 1
    # Setting a trial's many-to-many fields recorded no partial history entries.
    assert all(trial.history.count() == 1 for trial in Trial.objects.all())


def test_a_failed_load_leaves_nothing_behind_for_the_next_one(tmp_path, django_capture_on_commit_callbacks):
    bad = tmp_path / "bad.json"
    bad.write_text(
        '[{"model": "treatments.drug", "pk": 1, "fields": {"generic_name": "x", "slug": "x", "status": "published"}},'
        ' {"model": "treatments.trial", "pk": 1, "fields": {"title": "T", "slug": "t", "regimen": 999}}]'
    )
    good = tmp_path / "good.json"
    good.write_text(
        '[{"model": "references.reference", "pk": 5, "fields": {"key": "ok-2000", "title": "Fine", "year": 2000,'
        ' "status": "published", "last_published_at": "2026-01-02T00:00:00Z"}}]'
    )
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(Exception, match="regimen|foreign key|FOREIGN KEY|999"):
            call_command("loaddata", str(bad), verbosity=0)
        drug = make_drug(pk=1)  # saved after the failed load, by other means: not the load's to finish
        call_command("loaddata", str(good), verbosity=0)
    assert not Revision.objects.filter(object_id=drug.pk, content_type__model="drug").exists()
    reference = Reference.objects.get(key="ok-2000")
    assert reference.live_revision.number == 1 and reference.history.count() == 1


def test_loading_again_over_the_same_records_makes_their_next_live_version(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("loaddata", "seed", verbosity=0)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("loaddata", "seed", verbosity=0)  # `make seed` on a database that has the content
    for term in GlossaryTerm.objects.all():
        assert term.live_revision.number == 2 and term.live_revision.state == Revision.State.PUBLISHED
        assert term.history.count() == 1


def test_the_seed_is_honestly_published_without_review(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("loaddata", "seed", verbosity=0)
    assert "<p>Not yet medically reviewed.</p>" in Client().get(SEED_URL).content.decode()
    dashboard = admin_client.get(reverse("admin:index")).content.decode()
    assert "Nothing is waiting for review." in dashboard  # nothing is in review: it is live without one
    start = dashboard.index("Published without medical review")
    listed = dashboard[start : dashboard.index("</table>", start)]
    assert f'<a href="{SEED_URL}">public page</a>' in listed
    assert "Stage IV and Recurrent Malignant Pleural Mesothelioma" in listed
    assert f"Published without medical review ({1 + Drug.objects.count() + Trial.objects.count() + 1})" in listed


# --- the fixtures carry their dates ----------------------------------------------------------------------------


def fixture(path):
    return json.loads((ROOT / path).read_text(encoding="utf-8"))


def test_every_live_record_of_the_seed_fixtures_carries_its_publication_date():
    publishable, _parts = fixture_dates.structure()
    for path in fixture_dates.FIXTURES:
        live = [r for r in fixture(path) if r["model"] in publishable and r["fields"].get("status") == "published"]
        assert live, path
        undated = [(r["model"], r["pk"]) for r in live if not r["fields"].get("last_published_at")]
        assert undated == [], f"{path}: run tools/fixture_dates.py and commit the dates"


def test_the_dating_tool_dates_only_what_changed_and_keeps_the_file_as_it_was():
    publishable, parts = fixture_dates.structure()
    text = (ROOT / "fixtures/seed.json").read_text(encoding="utf-8")
    assert json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n" == text  # it writes the same format
    before = json.loads(text)
    edited = json.loads(text)
    outcome = next(r for r in edited if r["model"] == "treatments.trialoutcome")
    outcome["fields"]["population"] = "the patients whose cancer stopped growing or shrank"
    section = next(r for r in edited if r["model"] == "treatments.treatmentoption")
    section["fields"]["body"] += " A new sentence."
    new = {"model": "treatments.drug", "pk": 999, "fields": {"status": "published", "generic_name": "new"}}
    edited.append(new)
    date = datetime.date(2027, 5, 6)
    dated = fixture_dates.date_records(edited, before, date, publishable, parts)
    assert sorted(dated) == sorted(
        [("treatments.trial", outcome["fields"]["trial"]), ("treatments.treatmentoption", section["pk"]),
         ("treatments.drug", 999)]
    )  # fmt: skip
    assert section["fields"]["last_published_at"] == "2027-05-06T00:00:00Z"
    assert list(new["fields"]) == ["status", "last_published_at", "generic_name"]
    unchanged = [r for r in edited if (r["model"], r["pk"]) not in dated and "last_published_at" in r["fields"]]
    assert all(r["fields"]["last_published_at"] != "2027-05-06T00:00:00Z" for r in unchanged)
    assert fixture_dates.date_records(edited, before, date, publishable, parts) == []  # run again: nothing to do
