"""`manage.py sync_registry_trials`: what a sync adds, changes and closes; atomic on every error; dry runs."""

import datetime
import io
import json
import os

import pytest
import responses
import time_machine
from django.core.management import base as management_base
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError

from registry.client import API_URL
from registry.models import RegistryIntervention, RegistryLocation, RegistryStudy, RegistrySync
from tests.factories import make_trial
from tests.registry.builders import SAMPLES, api_page, api_study, nct, paged, sample, write_pages
from treatments.models import PageCacheGeneration

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 2, 6, 0, tzinfo=datetime.UTC)


def sync(*args):
    out = io.StringIO()
    call_command("sync_registry_trials", *args, stdout=out)
    return out.getvalue()


def sync_file(tmp_path, pages, *args, name="pages.jsonl"):
    return sync("--from-file", str(write_pages(tmp_path / name, pages)), *args)


def snapshot():
    """Everything a sync may touch, to show that a failed or dry run changed nothing."""
    studies = list(RegistryStudy.objects.order_by("nct_id").values())
    children = list(RegistryLocation.objects.values()) + list(RegistryIntervention.objects.values())
    generation = list(PageCacheGeneration.objects.values_list("value", flat=True))
    return studies, children, generation


def test_the_sample_pages_are_added_with_their_parts(tmp_path):
    pages = [sample("page1.json"), sample("page2.json")]
    out = sync_file(tmp_path, pages)
    assert "4 studies on 2 page(s): 4 added, 0 changed, 0 closed, 0 unchanged" in out
    study = RegistryStudy.objects.get(nct_id="NCT90000001")
    assert [(i.type, i.name) for i in study.interventions.all()] == [
        ("DRUG", "Test Drug A"),
        ("RADIATION", "Radiation therapy"),
    ]
    assert [(place.city, place.country) for place in study.locations.all()] == [
        ("Lyon", "France"),
        ("Milan", "Italy"),
        ("Paris", "France"),
    ]
    log = RegistrySync.objects.get()
    assert log.succeeded and (log.pages, log.studies, log.added, log.changed, log.closed) == (2, 4, 4, 0, 0)


def test_a_second_sync_changes_closes_and_leaves_alone(tmp_path):
    sync_file(tmp_path, [api_page([api_study(1), api_study(2), api_study(3)])], name="first.jsonl")
    before = RegistryStudy.objects.get(nct_id=nct(3))
    changed = api_study(2, countries=("Spain",))
    out = sync_file(tmp_path, [api_page([api_study(1), changed, api_study(4)])], name="second.jsonl")
    assert "3 studies on 1 page(s): 1 added, 1 changed, 1 closed, 1 unchanged" in out
    assert list(RegistryStudy.objects.get(nct_id=nct(2)).locations.values_list("country", flat=True)) == ["Spain"] * 2
    closed = RegistryStudy.objects.get(nct_id=nct(3))  # kept, marked closed
    assert closed.closed_at is not None and closed.pk == before.pk
    assert not RegistryStudy.objects.public().filter(nct_id=nct(3)).exists()
    # Back in the results: open again, and counted as a change.
    out = sync_file(tmp_path, [api_page([api_study(1), changed, api_study(3), api_study(4)])], name="third.jsonl")
    assert "0 added, 1 changed, 0 closed, 3 unchanged" in out
    assert RegistryStudy.objects.get(nct_id=nct(3)).closed_at is None


def test_a_study_listed_twice_is_kept_once(tmp_path):
    out = sync_file(tmp_path, [api_page([api_study(1)], "t"), api_page([api_study(1), api_study(2)])])
    assert "2 studies on 2 page(s): 2 added" in out
    assert RegistryStudy.objects.count() == 2 and RegistryLocation.objects.count() == 4


def test_a_dry_run_reports_and_changes_nothing(tmp_path):
    sync_file(tmp_path, [api_page([api_study(1), api_study(2)])], name="first.jsonl")
    before, logs = snapshot(), RegistrySync.objects.count()
    out = sync_file(tmp_path, [api_page([api_study(2, phases=["PHASE3"]), api_study(5)])], "--dry-run")
    assert "Dry run, nothing was changed. Would apply 2 studies on 1 page(s): 1 added, 1 changed, 1 closed" in out
    assert f"add: {nct(5)}" in out and f"change: {nct(2)}" in out and f"close: {nct(1)}" in out
    assert snapshot() == before and RegistrySync.objects.count() == logs


def test_fetch_time_and_reviewer_choices_survive_a_sync(tmp_path, django_user_model):
    sync_file(tmp_path, [api_page([api_study(1)])], name="first.jsonl")
    reviewer = django_user_model.objects.create_user("rev")
    RegistryStudy.objects.filter(nct_id=nct(1)).update(
        hidden=True, hidden_reason="Not about mesothelioma", hidden_by=reviewer
    )
    path = write_pages(tmp_path / "second.jsonl", [api_page([api_study(1, phases=["PHASE3"])])])
    saved = datetime.datetime(2026, 10, 30, 12, 0, tzinfo=datetime.UTC)
    os.utime(path, (saved.timestamp(), saved.timestamp()))
    sync("--from-file", str(path))
    study = RegistryStudy.objects.get(nct_id=nct(1))
    assert study.phases == ["PHASE3"]
    assert (study.hidden, study.hidden_reason, study.hidden_by) == (True, "Not about mesothelioma", reviewer)
    assert study.fetched_at == saved  # a saved file's data is as old as the file
    assert RegistrySync.objects.first().data_fetched_at == saved


BAD_PAGES = {
    "study without an NCT number": json.dumps(api_page([{"protocolSection": {"statusModule": {}}}])) + "\n",
    "garbage": "<html>Service Unavailable</html>\n",
    "truncated": '{"studies": [{"protocolSection": {"identificationModule": {"nctId": "NCT9000',
    "not a page": '{"error": "quota"}\n',
}


@pytest.mark.parametrize("problem", BAD_PAGES)
def test_any_error_changes_nothing_exits_1_with_one_line(tmp_path, capsys, monkeypatch, problem):
    """A bad page after good ones: the good ones are rolled back too."""
    # As from a shell: manage.py's own error handling and exit status. (It closes the database connections when
    # done, which would end the test's transaction on PostgreSQL.)
    monkeypatch.setattr(management_base.connections, "close_all", lambda: None)
    sync_file(tmp_path, [api_page([api_study(1), api_study(2)])], name="first.jsonl")
    before = snapshot()
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps(api_page([api_study(1, phases=["PHASE3"]), api_study(7)], "t")) + "\n" + BAD_PAGES[problem]
    )
    with pytest.raises(SystemExit) as exit_status:
        execute_from_command_line(["manage.py", "sync_registry_trials", "--from-file", str(path)])
    assert exit_status.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("CommandError: Registry sync failed; nothing was changed.") and err.count("\n") == 1
    assert "Traceback" not in err
    assert snapshot() == before
    failure = RegistrySync.objects.first()  # the failure is logged for the review dashboard
    assert not failure.succeeded and failure.error in err


def test_the_error_names_the_page_and_study(tmp_path):
    bad = api_study(9)
    del bad["protocolSection"]["identificationModule"]["nctId"]
    with pytest.raises(
        CommandError, match=r"page 2, study 2: a study: protocolSection.identificationModule.nctId is missing"
    ):
        sync_file(tmp_path, [api_page([api_study(1)], "t"), api_page([api_study(2), bad])])


def test_empty_results_do_not_close_everything_unless_asked(tmp_path):
    sync_file(tmp_path, [api_page([api_study(1), api_study(2)])], name="first.jsonl")
    with pytest.raises(CommandError, match="refusing to close all 2 open studies"):
        sync_file(tmp_path, [api_page([])], name="empty.jsonl")
    assert RegistryStudy.objects.filter(closed_at__isnull=True).count() == 2
    assert "0 added, 0 changed, 2 closed" in sync_file(tmp_path, [api_page([])], "--allow-empty", name="empty2.jsonl")


def test_a_failed_dry_run_logs_nothing(tmp_path):
    with pytest.raises(CommandError):
        sync("--from-file", str(SAMPLES / "page1.json"), "--dry-run")  # ends with a nextPageToken
    assert not RegistrySync.objects.exists()


def test_options_are_checked(tmp_path):
    with pytest.raises(CommandError, match="between 1 and 1000"):
        sync("--page-size", "5000")
    with pytest.raises(CommandError, match="cannot be used with --from-file"):
        sync("--from-file", "x.json", "--save", "y.jsonl")
    with pytest.raises(CommandError, match="Cannot read"):
        sync("--from-file", str(tmp_path / "missing.json"))


# --- from the network (mocked) -----------------------------------------------------------------------------------


@pytest.fixture
def registry_api(settings):
    settings.REGISTRY_PAGE_DELAY = 0
    with responses.RequestsMock() as mock:
        yield mock


@time_machine.travel(NOW, tick=False)
def test_a_network_sync_reads_the_search_then_our_trials(registry_api, tmp_path):
    make_trial(title="Our trial", slug="our-trial", nct_id=nct(50))
    search = paged([api_study(n) for n in range(1, 6)], per_page=2)
    for page in search:
        registry_api.get(
            API_URL,
            json=page,
            match=[responses.matchers.query_param_matcher({"query.cond": "mesothelioma"}, strict_match=False)],
        )
    ours = api_page([api_study(50, status="COMPLETED")])
    registry_api.get(
        API_URL, json=ours, match=[responses.matchers.query_param_matcher({"filter.ids": nct(50)}, strict_match=False)]
    )
    saved = tmp_path / "fetched.jsonl"
    out = sync("--page-size", "2", "--save", str(saved))
    assert "6 studies on 4 page(s): 6 added" in out
    assert len(saved.read_text().splitlines()) == 4  # kept for a later --from-file
    ours = RegistryStudy.objects.get(nct_id=nct(50))
    assert ours.overall_status == "COMPLETED" and ours.fetched_at == NOW
    assert not RegistryStudy.objects.public().filter(nct_id=nct(50)).exists()  # not open: not on the public list
    assert RegistryStudy.objects.public().count() == 5


def test_a_network_error_midway_changes_nothing(registry_api):
    sync_before = snapshot()
    registry_api.get(API_URL, json=api_page([api_study(1)], "t"))
    registry_api.get(API_URL, status=400, body="pageToken: invalid token")
    with pytest.raises(CommandError, match="HTTP 400 for page 2 from ClinicalTrials.gov: pageToken: invalid token"):
        sync()
    assert snapshot() == sync_before


def test_a_sync_invalidates_cached_pages(tmp_path, client):
    sync_file(tmp_path, [api_page([api_study(1)])], name="first.jsonl")
    assert "Test study 1 in" in client.get("/clinical-trials/find/").content.decode()
    sync_file(tmp_path, [api_page([api_study(2)])], name="second.jsonl")
    page = client.get("/clinical-trials/find/").content.decode()
    assert "Test study 2 in" in page and "Test study 1 in" not in page


def test_a_sync_costs_a_few_queries_a_page_not_a_few_a_study(tmp_path, django_assert_max_num_queries):
    sync_file(tmp_path, [api_page([api_study(n, cities=5) for n in range(100)])], name="first.jsonl")
    moved = [api_study(n, cities=5, countries=("Spain",)) for n in range(100)]
    path = write_pages(tmp_path / "second.jsonl", [api_page(moved[:50], "t"), api_page(moved[50:])])
    with django_assert_max_num_queries(30):
        out = sync("--from-file", str(path))
    assert "100 changed" in out and RegistryLocation.objects.filter(country="Spain").count() == 500
