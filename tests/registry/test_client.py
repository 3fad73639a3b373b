"""registry/client.py: pages from the API (HTTP mocked with `responses`, nothing leaves the machine) and from files."""

import json

import pytest
import requests
import responses
from responses import matchers

from registry.client import API_URL, RegistryClient, RegistryError, file_pages, save_pages
from tests.registry.builders import SAMPLES, api_page, api_study, sample, write_pages

FIELDS = (
    "IdentificationModule|StatusModule|SponsorCollaboratorsModule|ConditionsModule|DesignModule|"
    "ArmsInterventionsModule|ContactsLocationsModule|EligibilityModule"
)


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def pauses():
    return []


@pytest.fixture
def client(pauses):
    # No real waiting in tests: the pause between pages is recorded, and retries do not back off.
    return RegistryClient(page_size=3, page_delay=1.5, backoff=0, sleep=pauses.append)


def test_search_follows_next_page_tokens_with_the_documented_parameters(http, client, pauses, settings):
    settings.REGISTRY_CONTACT = "registry@mesoinfo.example.org"
    client = RegistryClient(page_size=3, page_delay=1.5, backoff=0, sleep=pauses.append)
    first = {
        "query.cond": "mesothelioma",
        "filter.overallStatus": "RECRUITING|NOT_YET_RECRUITING",
        "pageSize": "3",
        "fields": FIELDS,
    }
    http.get(API_URL, json=sample("page1.json"), match=[matchers.query_param_matcher(first)])
    http.get(
        API_URL,
        json=sample("page2.json"),
        match=[matchers.query_param_matcher({**first, "pageToken": "ZVNj7o2Elu8o3lpoWsOhnQ"})],
    )
    pages = list(client.search_pages())
    assert [len(page["studies"]) for page in pages] == [3, 1]
    assert pauses == [1.5]  # a pause between the two pages, none before the first
    agent = http.calls[0].request.headers["User-Agent"]
    assert agent.startswith("MesoInfo-registry-sync/") and "registry@mesoinfo.example.org" in agent
    assert http.calls[0].request.headers["Accept"] == "application/json"


def test_our_trials_are_asked_for_by_number_whatever_their_status(http, client):
    http.get(
        API_URL,
        json=api_page([api_study(5, status="COMPLETED")]),
        match=[
            matchers.query_param_matcher({"filter.ids": "NCT02054806|NCT90000005", "pageSize": "3", "fields": FIELDS})
        ],
    )
    pages = list(client.id_pages({"NCT90000005", "NCT02054806"}))
    assert pages[0]["studies"][0]["protocolSection"]["statusModule"]["overallStatus"] == "COMPLETED"
    assert list(client.id_pages(set())) == []


def test_server_errors_are_retried(http, client):
    http.get(API_URL, status=503, body="busy")
    http.get(API_URL, status=502, body="bad gateway")
    http.get(API_URL, json=api_page([api_study(1)]))
    pages = list(client.search_pages())
    assert len(pages) == 1 and len(http.calls) == 3


def test_an_error_page_is_a_clear_one_line_error(http, client):
    http.get(API_URL, status=400, body="pageToken: invalid token\nat line 2", content_type="text/plain")
    with pytest.raises(RegistryError) as error:
        list(client.search_pages())
    assert (
        str(error.value)
        == "ClinicalTrials.gov answered HTTP 400 for page 1 from ClinicalTrials.gov: pageToken: invalid token"
    )


def test_retries_run_out_on_a_server_that_stays_down(http, client):
    for _ in range(4):  # the first try and three retries
        http.get(API_URL, status=503, body="Service Unavailable")
    with pytest.raises(RegistryError, match="HTTP 503"):
        list(client.search_pages())


def test_an_unreachable_registry_is_a_clear_error(http, client):
    http.get(API_URL, body=requests.ConnectionError("Name or service not known"))
    with pytest.raises(RegistryError, match="could not read page 1 from ClinicalTrials.gov: ConnectionError"):
        list(client.search_pages())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<html><body>Maintenance</body></html>", "is not valid JSON"),
        ('{"studies": [{"protocolSection": {"identificationModule": {"nctId": "NCT9', "is not valid JSON"),
        ("[]", "not a page of studies"),
        ('{"totalCount": 3}', 'has no "studies" list'),
        ('{"studies": [], "nextPageToken": 7}', "nextPageToken that is not text"),
    ],
)
def test_garbage_and_cut_short_pages_are_refused(http, client, body, message):
    http.get(API_URL, body=body, content_type="application/json")
    with pytest.raises(RegistryError, match=message):
        list(client.search_pages())


def test_a_token_that_repeats_stops_the_loop(http, client):
    http.get(API_URL, json=api_page([api_study(1)], token="same"))
    http.get(API_URL, json=api_page([api_study(2)], token="same"))
    with pytest.raises(RegistryError, match="same nextPageToken twice"):
        list(client.search_pages())


# --- files ------------------------------------------------------------------------------------------------------


def test_one_json_document_as_the_api_returns_it(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(sample("page2.json"), indent=2))
    assert [len(page["studies"]) for page in file_pages(path)] == [1]


def test_json_lines_of_pages_as_save_writes_them(tmp_path):
    path = tmp_path / "pages.jsonl"
    assert save_pages(iter([sample("page1.json"), sample("page2.json")]), path) == 2
    assert path.read_text().count("\n") == 2
    assert [len(page["studies"]) for page in file_pages(path)] == [3, 1]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("not json at all", "is not valid JSON"),
        ('{"studies": []}\n{"studies": [', r"line 2 is not valid JSON \(cut short\?\)"),
        ('{"studies": [], "nextPageToken": "abc"}\n', "ends with a page that has a nextPageToken"),
        ('{"studies": [], "nextPageToken": "abc"}\n{"items": []}\n', "line 2 is not a page of studies"),
    ],
)
def test_bad_files_are_refused(tmp_path, content, message):
    path = tmp_path / "pages.jsonl"
    path.write_text(content)
    with pytest.raises(RegistryError, match=message):
        list(file_pages(path))


def test_a_single_page_document_that_is_only_part_of_the_results_is_refused():
    with pytest.raises(RegistryError, match="holds only part of the results"):
        list(file_pages(SAMPLES / "page1.json"))


def test_binary_and_missing_files_are_refused(tmp_path):
    binary = tmp_path / "pages.gz"
    binary.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe")
    with pytest.raises(RegistryError, match="not a text file"):
        list(file_pages(binary))
    with pytest.raises(RegistryError, match="cannot read"):
        list(file_pages(tmp_path / "missing.json"))


def test_pages_are_read_one_at_a_time(tmp_path):
    path = write_pages(tmp_path / "pages.jsonl", [api_page([api_study(1)], "t"), api_page([api_study(2)])])
    with open(path, "a") as out:
        out.write("{cut short")
    pages = file_pages(path)
    assert next(pages)["studies"][0]["protocolSection"]["identificationModule"]["nctId"] == "NCT90000001"
    with pytest.raises(RegistryError, match="line 3"):
        next(pages)
