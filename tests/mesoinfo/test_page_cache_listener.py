"""The page cache's LISTEN/NOTIFY copy of the content generation (PostgreSQL only).

These tests commit (transactional_db): PostgreSQL delivers notifications only for committed changes.
"""

import time

import psycopg2
import pytest
from django.db import connection

from tests.factories import make_overview
from tests.reliability.test_database_outage import TCPProxy
from treatments import caching
from treatments.models import PageCacheGeneration

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="LISTEN/NOTIFY is PostgreSQL's"),
]


@pytest.fixture
def listening(settings, monkeypatch):
    monkeypatch.setattr(caching.GenerationWatcher, "RETRY_SECONDS", 0.2)
    settings.PAGE_CACHE_LISTEN = True
    caching.watcher.stop()
    caching.content_generation()  # starts the listener in this process
    yield caching.watcher
    caching.watcher.stop()


def wait_for(condition, seconds=5):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def committed_elsewhere(sql=None):
    """A change committed by another process outside the editorial workflow (as `caching.content_changed` records
    it: a new generation that also marks stored pages for checking): its own connection and transaction, NOTIFY."""
    table = PageCacheGeneration._meta.db_table
    with psycopg2.connect(**connection.get_connection_params()) as other, other.cursor() as cursor:
        if sql:
            cursor.execute(sql)
        cursor.execute(f"UPDATE {table} SET value = value + 1, outside_change = value + 1 WHERE id = 1 RETURNING value")
        value = cursor.fetchone()[0]
        cursor.execute("SELECT pg_notify(%s, %s)", [caching.CHANNEL, str(value)])
    other.close()
    return value


def database_generation():
    return PageCacheGeneration.objects.get(pk=1).value


def test_cache_hits_run_no_query_while_the_copy_is_current(client, listening, django_assert_num_queries):
    overview = make_overview(intro="Listening words.")
    assert wait_for(lambda: listening.value == database_generation())
    client.get(overview.get_absolute_url())
    with django_assert_num_queries(0):
        assert "Listening words." in client.get(overview.get_absolute_url()).content.decode()


def test_a_change_committed_by_another_process_reaches_this_one(client, listening):
    overview = make_overview(intro="Before the change.")
    url = overview.get_absolute_url()
    assert wait_for(lambda: listening.value == database_generation())
    assert "Before the change." in client.get(url).content.decode()
    table = overview._meta.db_table
    new = committed_elsewhere(f"UPDATE {table} SET intro = 'After the change.' WHERE id = {overview.pk}")
    assert wait_for(lambda: listening.value == new), "the notification did not arrive"
    assert "After the change." in client.get(url).content.decode()


def test_a_change_made_here_is_seen_at_once(client, listening):
    overview = make_overview(intro="Old text here.")
    url = overview.get_absolute_url()
    assert wait_for(lambda: listening.value == database_generation())
    client.get(url)
    overview.intro = "New text here."
    overview.save()  # forgets the copy at once: no waiting for the notification
    assert "New text here." in client.get(url).content.decode()


def test_a_rolled_back_change_notifies_nobody(listening):
    from django.db import transaction

    make_overview()
    assert wait_for(lambda: listening.value == database_generation())
    before = listening.value
    with pytest.raises(RuntimeError), transaction.atomic():
        caching.content_changed()
        raise RuntimeError("rolled back")
    assert wait_for(lambda: listening.value == before)  # read again from the database: unchanged
    time.sleep(0.3)
    assert listening.value == before == database_generation()


def test_the_listener_recovers_when_its_connection_is_lost(client, listening, monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(caching.GenerationWatcher, "RETRY_SECONDS", 2)  # time to look while there is none
    overview = make_overview(intro="Still served.")
    assert wait_for(lambda: listening.value == database_generation())
    client.get("/")
    with connection.cursor() as cursor:
        # Only this process's listener: other instances on the same server keep theirs.
        cursor.execute("SELECT pg_terminate_backend(%s)", [listening.backend_pid])
        assert cursor.fetchone() == (True,)
    assert wait_for(lambda: listening.value is None, seconds=10), "the lost connection went unnoticed"
    with django_assert_num_queries(1):  # the generation, from the database, while there is no listener
        client.get("/")
    assert wait_for(lambda: listening.value == database_generation(), seconds=10), "no new listener"
    assert "Still served." in client.get(overview.get_absolute_url()).content.decode()


def test_a_listener_connection_that_stops_answering_is_noticed_and_the_database_read_meanwhile(
    client, settings, monkeypatch
):
    params = connection.get_connection_params()
    proxy = TCPProxy((params.get("host") or "127.0.0.1", int(params.get("port") or 5432)))
    proxy.start()
    real_connect = psycopg2.connect

    def connect_through_proxy(*args, **kwargs):  # only the listener's connection goes through the proxy
        if kwargs.get("application_name") == caching.LISTENER_NAME:
            kwargs.update(host="127.0.0.1", port=proxy.port)
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(psycopg2, "connect", connect_through_proxy)
    for name, seconds in [("RECHECK_SECONDS", 0.3), ("TIMEOUT_SECONDS", 0.3), ("RETRY_SECONDS", 0.2)]:
        monkeypatch.setattr(caching.GenerationWatcher, name, seconds)
    settings.PAGE_CACHE_LISTEN = True
    caching.watcher.stop()
    try:
        overview = make_overview(intro="Before the change.")
        caching.content_generation()
        assert wait_for(lambda: caching.watcher.value == database_generation())
        assert "Before the change." in client.get(overview.get_absolute_url()).content.decode()

        proxy.frozen.set()  # packets dropped, sockets open: the notification below never arrives
        table = overview._meta.db_table
        new = committed_elsewhere(f"UPDATE {table} SET intro = 'After the change.' WHERE id = {overview.pk}")
        assert wait_for(lambda: caching.watcher.current() is None, seconds=3), "the frozen connection went unnoticed"
        assert caching.content_generation() == new  # unknown, so read per request
        assert "After the change." in client.get(overview.get_absolute_url()).content.decode()

        proxy.frozen.clear()
        assert wait_for(lambda: caching.watcher.current() == new, seconds=5), "the listener did not come back"
    finally:
        caching.watcher.stop()
        proxy.stop()
