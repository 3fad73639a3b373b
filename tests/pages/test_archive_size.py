"""Retention and size: versions are never deleted, so a page's archive grows with every publish that changes it.
Each version's HTML is stored compressed, and once however many versions have the same HTML.

The seed page is about 60 KB of HTML, about 15 KB compressed (43 KB and 11 KB before "Treatment today", the
questions to ask and the page dates): each publish adds at most BYTES_PER_PUBLISH, so 1,000 publishes of it keep
its archive under 1,000 × BYTES_PER_PUBLISH = 18 MB (`bench/archive_size.py` makes the 1,000 publishes on
PostgreSQL and measures it; docs/performance.md has the figure)."""

import datetime

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client

from editorial.workflow import approve, editing, submit
from pages.models import Page, PageContent
from tests.factories import reviewer
from treatments.models import Overview

pytestmark = pytest.mark.django_db

PUBLISHES = 100
BYTES_PER_PUBLISH = 18_000


def publish(overview, user, intro, note="", minor=False):
    with editing(user, overview) as session:
        session.record.intro = intro
        session.record.save()
    approve([submit(overview, user)], user, note=note, minor=minor)


@pytest.fixture
def seed():
    user = reviewer()
    call_command("load_seed", verbosity=0)
    overview = Overview.objects.get()
    assert Client().get(overview.get_absolute_url()).status_code == 200  # version 1
    return user, overview, Page.objects.get(path=overview.get_absolute_url())


def test_small_publishes_of_the_seed_page_add_at_most_18_kb_each(seed):
    user, overview, page = seed
    original = overview.intro
    for n in range(PUBLISHES):
        when = datetime.datetime(2027, 1, 1, 9, tzinfo=datetime.UTC) + datetime.timedelta(days=n)
        with time_machine.travel(when, tick=False):
            # A small change a day: a note for readers every third time, otherwise a correction.
            listed = n % 3 == 0
            publish(
                overview,
                user,
                f"{original}\n\nWording checked, time {n + 1}.",
                f"Wording {n + 1}." if listed else "",
                not listed,
            )
    assert page.versions.count() == PUBLISHES + 1  # each publish changed the page
    size = page.archive_bytes()
    assert size <= (PUBLISHES + 1) * BYTES_PER_PUBLISH, f"{size / (PUBLISHES + 1):,.0f} bytes a version"
    html = page.current.content
    assert html.size > 50_000 and len(bytes(html.compressed)) < html.size / 3  # stored compressed
    assert size <= (PUBLISHES + 1) * (len(bytes(html.compressed)) + 3_000)  # the page, compressed, and its notes


def test_a_version_with_the_html_of_an_earlier_one_stores_nothing_new(seed):
    user, overview, page = seed
    original = overview.intro
    with time_machine.travel(datetime.datetime(2027, 1, 1, 9, tzinfo=datetime.UTC), tick=False):
        for n in range(10):  # a correction, then its reversal, five times over
            publish(overview, user, f"{original}\n\nA wording under review." if n % 2 == 0 else original, minor=True)
    versions = page.versions.order_by("number")
    assert versions.count() == 11
    assert versions.order_by().values("content").distinct().count() == 3  # as loaded, and the two wordings
    assert PageContent.objects.filter(pk__in=versions.values("content")).count() == 3
