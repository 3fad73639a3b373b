"""Reading pages of studies from the ClinicalTrials.gov API v2, or from a file of saved pages.

One page is `GET https://clinicaltrials.gov/api/v2/studies?…`, answered with
`{"studies": [...], "nextPageToken": "..."}`; the last page has no
`nextPageToken`. Pages are read one at a time and never all held in memory:
`save_pages` writes them to a JSON Lines file (one page a line) as they arrive,
and `file_pages` reads them back one by one.

Requests use `requests` with urllib3's retry (connection errors, 429 and 5xx
answers, with exponential backoff and the server's Retry-After), connect and
read timeouts, a User-Agent that names MesoInfo and how to reach us
(REGISTRY_CONTACT), and a pause between pages (REGISTRY_PAGE_DELAY).
"""

import json
import time

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .mapping import MODULES
from .models import OPEN_STATUSES

API_URL = "https://clinicaltrials.gov/api/v2/studies"
CONDITION = "mesothelioma"
MAX_PAGES = 1000  # a runaway chain of page tokens stops here
IDS_PER_REQUEST = 100


class RegistryError(Exception):
    """Why a sync cannot go on, in one line for the operator."""

    def __init__(self, message):
        super().__init__(" ".join(str(message).split()))


def user_agent():
    contact = settings.REGISTRY_CONTACT or "no contact set (REGISTRY_CONTACT)"
    site = f" {settings.SITE_URL}" if settings.SITE_URL else ""
    return (
        f"MesoInfo-registry-sync/1.0 (mesothelioma patient information{site}; contact: {contact}) "
        f"python-requests/{requests.__version__}"
    )


def check_page(page, where):
    """A page as the API documents it, or a RegistryError saying what is wrong with it."""
    if not isinstance(page, dict):
        raise RegistryError(f"{where} is not a page of studies (a JSON {type(page).__name__}, not an object)")
    if not isinstance(page.get("studies"), list):
        raise RegistryError(f'{where} is not a page of studies (it has no "studies" list)')
    token = page.get("nextPageToken")
    if token is not None and not (isinstance(token, str) and token):
        raise RegistryError(f"{where} has a nextPageToken that is not text")
    return page


class RegistryClient:
    def __init__(self, page_size=None, page_delay=None, retries=3, backoff=2.0, timeout=(10, 60), sleep=time.sleep):
        self.page_size = page_size or settings.REGISTRY_PAGE_SIZE
        self.page_delay = settings.REGISTRY_PAGE_DELAY if page_delay is None else page_delay
        self.timeout = timeout
        self.sleep = sleep
        self.requests_made = 0
        retry = Retry(
            total=retries,
            backoff_factor=backoff,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            respect_retry_after_header=True,
            raise_on_status=False,  # the last answer comes back, and its status is reported below
        )
        self.session = requests.Session()
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.headers.update({"User-Agent": user_agent(), "Accept": "application/json"})

    def _params(self, **params):
        return {**params, "pageSize": self.page_size, "fields": "|".join(MODULES)}

    def search_pages(self):
        """The open mesothelioma studies: recruiting, or not yet recruiting."""
        statuses = "|".join(str(status) for status in OPEN_STATUSES)
        return self._pages(self._params(**{"query.cond": CONDITION, "filter.overallStatus": statuses}))

    def id_pages(self, nct_ids):
        """Studies by NCT number, whatever their status (our own trials' registry records)."""
        nct_ids = sorted(nct_ids)
        for start in range(0, len(nct_ids), IDS_PER_REQUEST):
            chunk = nct_ids[start : start + IDS_PER_REQUEST]
            yield from self._pages(self._params(**{"filter.ids": "|".join(chunk)}))

    def _pages(self, params):
        token, tokens = None, set()
        for _ in range(MAX_PAGES):
            page = self._get({**params, "pageToken": token} if token else params)
            yield page
            token = page.get("nextPageToken")
            if not token:
                return
            if token in tokens:
                raise RegistryError("ClinicalTrials.gov sent the same nextPageToken twice")
            tokens.add(token)
        raise RegistryError(f"ClinicalTrials.gov sent more than {MAX_PAGES} pages; stopped")

    def _get(self, params):
        if self.requests_made:
            self.sleep(self.page_delay)  # a polite pace between pages
        self.requests_made += 1
        where = f"page {self.requests_made} from ClinicalTrials.gov"
        try:
            response = self.session.get(API_URL, params=params, timeout=self.timeout)
        except requests.RequestException as error:
            # After the retries, the cause of the last failure (not the whole URL again).
            cause = getattr(error.args[0], "reason", None) if error.args else None
            raise RegistryError(f"could not read {where}: {type(error).__name__}: {cause or error}") from error
        if response.status_code != 200:
            detail = response.text.strip().splitlines()[0][:200] if response.text.strip() else response.reason
            raise RegistryError(f"ClinicalTrials.gov answered HTTP {response.status_code} for {where}: {detail}")
        try:
            page = response.json()
        except ValueError as error:
            raise RegistryError(f"{where} is not valid JSON (cut short?): {error}") from error
        return check_page(page, where)


def save_pages(pages, path):
    """Write pages to `path` as JSON Lines, one page a line, as they arrive. Returns how many were written."""
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for page in pages:
            out.write(json.dumps(page, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
            count += 1
    return count


def file_pages(path):
    """Pages from a file: one JSON document as the API returns it, or JSON Lines of such pages.

    The last page must have no nextPageToken: a file that stops in the middle of the results would otherwise
    close every study on the pages it lacks.
    """
    try:
        handle = open(path, encoding="utf-8")
    except OSError as error:
        raise RegistryError(f"cannot read {path}: {error.strerror}") from error
    with handle:
        try:
            yield from _pages_in(handle, path)
        except UnicodeDecodeError as error:
            raise RegistryError(f"{path} is not a text file (UTF-8): {error.reason}") from error


def _pages_in(handle, path):
    lines = ((number, line) for number, line in enumerate(handle, 1) if line.strip())
    number, first = next(lines, (0, ""))
    if not first:
        raise RegistryError(f"{path} is empty")
    try:
        page = json.loads(first)
    except ValueError:
        # Not a page on one line: the whole file is one JSON document (as saved from the API, perhaps indented).
        handle.seek(0)
        try:
            page = json.load(handle)
        except ValueError as error:
            raise RegistryError(f"{path} is not valid JSON (cut short?): {error}") from error
        yield _last(check_page(page, path), path)
        return
    previous = check_page(page, f"{path} line {number}")
    for number, line in lines:
        try:
            page = json.loads(line)
        except ValueError as error:
            raise RegistryError(f"{path} line {number} is not valid JSON (cut short?): {error}") from error
        yield previous
        previous = check_page(page, f"{path} line {number}")
    yield _last(previous, path)


def _last(page, path):
    if page.get("nextPageToken"):
        raise RegistryError(
            f"{path} ends with a page that has a nextPageToken: it holds only part of the results, "
            "and syncing it would close the studies on the pages it lacks"
        )
    return page
