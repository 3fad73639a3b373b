"""A publish made by a process whose page-cache listener is running (a gunicorn worker that has served pages, as in
production on PostgreSQL): the versions it stores carry the generation it commits, so every process, itself
included, serves them from its next request.

These tests commit (transactional_db): PostgreSQL delivers notifications only for committed changes.
"""

import time

import pytest
from django.db import connection  # noqa: F401 (the skipif condition)
from django.test import Client

from editorial.workflow import approve, editing, submit
from pages.models import Page
from pages.serving import current_versions
from tests.factories import make_overview, make_section, reviewer
from treatments import caching
from treatments.models import PageCacheGeneration

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="LISTEN/NOTIFY is PostgreSQL's"),
]


@pytest.fixture
def listening(settings):
    settings.PAGE_CACHE_LISTEN = True
    caching.watcher.stop()
    caching.content_generation()  # starts the listener in this process
    yield caching.watcher
    caching.watcher.stop()


def committed_generation():
    return PageCacheGeneration.objects.get(pk=1).value


def listener_has(value):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if caching.watcher.value == value:
            return True
        time.sleep(0.02)
    return False


def test_a_publish_is_served_at_once_by_the_process_that_made_it_and_by_the_others(listening):
    user = reviewer()
    overview = make_overview(slug="stage-iv")
    section = make_section(overview, body="Words before the publish.")
    url = overview.get_absolute_url()
    assert listener_has(committed_generation())
    assert b"Words before the publish." in Client().get(url).content  # version 1, known to this process
    other_process = (current_versions.generation, dict(current_versions.versions))  # another worker, serving it too

    with editing(user, section) as session:
        session.record.body = "Words after the publish."
        session.record.save()
    approve([submit(section, user)], user, note="New words.")

    version = Page.objects.get(path=url).current
    assert version.number == 2 and version.generation == committed_generation()
    assert b"Words after the publish." in Client().get(url).content  # this process
    current_versions.generation, current_versions.versions = other_process  # which learns of it by its listener
    assert listener_has(committed_generation())
    assert b"Words after the publish." in Client().get(url).content
