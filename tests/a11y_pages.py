"""The public page types that the accessibility (axe-core) and HTML validity (Nu HTML Checker) tests visit.

Both checkers come from node_modules (package.json pins them; `npm ci` installs them). Like the browser
tests, a missing tool skips its tests, unless REQUIRE_BROWSER=1 (CI), where it fails them.
"""

import io
import json
import os
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from editorial.workflow import editing, submit
from treatments.models import Overview, Status

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
AXE_JS = NODE_MODULES / "axe-core" / "axe.min.js"
VNU_JAR = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"

# Pages from the seed (fixtures/seed.json): the richest drug and trial pages it has.
OVERVIEW_SLUG = "stage-iv-recurrent-pleural-mesothelioma"
PAGES = {
    "home": "/",
    "overview": f"/treatment/{OVERVIEW_SLUG}/",
    "drug": "/drugs/pemetrexed/",
    "trial": "/trials/pemetrexed-cisplatin-vs-cisplatin/",
    "drug-list": "/drugs/",
    "trial-list": "/trials/",
    "glossary": "/glossary/",
    "search": "/search/?q=pemetrexed",
    "search-empty": "/search/?q=",
    "find-trials": "/clinical-trials/find/",
    "find-trials-filtered": "/clinical-trials/find/?country=France&phase=PHASE2",
    "feedback-thanks": f"/feedback/thanks/?page=/treatment/{OVERVIEW_SLUG}/",
    "404": "/no-such-page/",
}
NOT_FOUND = {"404"}
# What shows the page has its content (so a page is never checked empty by mistake).
CONTENT = {
    "overview": "main section.treatment-option",
    "feedback-thanks": 'main a[href="/treatment/stage-iv-recurrent-pleural-mesothelioma/"]',
    "drug": "main section.references",
    "trial": "main table",
    "glossary": "main dl dt",
    "search": 'main a[href="/drugs/pemetrexed/"]',
    "find-trials": "main ol.study-list article",
    "find-trials-filtered": "main ol.study-list article",
}


def missing_tool(reason):
    # Same convention as tests/browser/conftest.py: CI (REQUIRE_BROWSER=1) fails instead of skipping.
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


def load_seed():
    """The seed page, and the registry's sample pages (tests/registry/samples) for "Find a clinical trial"."""
    call_command("load_seed", stdout=io.StringIO(), verbosity=0)
    samples = ROOT / "tests" / "registry" / "samples"
    with tempfile.TemporaryDirectory() as folder:
        pages = Path(folder) / "pages.jsonl"
        pages.write_text(
            "".join(
                json.dumps(json.loads((samples / name).read_text())) + "\n" for name in ("page1.json", "page2.json")
            )
        )
        call_command("sync_registry_trials", "--from-file", str(pages), stdout=io.StringIO())


STAFF_PASSWORD = "staff-preview-password-for-tests"


def set_up_staff_preview():
    """Give the seed overview a draft in review, take its first section off the site, and return a staff user
    who previews it: the draft shows under a banner listing what differs from live, with "not public" badges."""
    overview = Overview.objects.get(slug=OVERVIEW_SLUG)
    with editing(None, overview) as session:
        session.record.summary += " A sentence waiting for review."
        session.record.save()
    submit(overview)
    overview.sections.filter(pk=overview.sections.order_by("position").values("pk")[:1]).update(status=Status.DRAFT)
    return get_user_model().objects.create_user("previewer", password=STAFF_PASSWORD, is_staff=True)


def session_cookie_for(user):
    """The session cookie of `user`, logged in, for a browser to send."""
    client = Client()
    client.force_login(user)
    return settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value
