"""Whole-page caching for anonymous visitors that never serves stale content.

Cached pages are keyed by a "content generation" number kept in the database.
Every change to content bumps it inside the same transaction as the change,
so every app server and worker sees the new number when it sees the new
content, whatever cache backend holds the pages (local memory per process, or
Redis shared by all).

On PostgreSQL each process keeps its own copy of the number, without a query
per request: a thread LISTENs on a channel that every bump NOTIFYs, and
PostgreSQL delivers the notification when the change commits. A process
learns of a change made elsewhere within milliseconds; the process that made
it forgets its copy as it commits. Whenever the copy is not known to be current (no
listener yet, its connection lost, SQLite), the number is read from the
database on each request, as before.

``PageCacheMiddleware`` answers from the cache near the top of the middleware
stack, before sessions, CSRF, authentication and URL dispatch, so a cache hit
costs about what a static file costs. Only views marked with
``cache_public_page`` are cached, and only for requests without a session
cookie: staff and logged-in users always get a fresh page, because their
previews show drafts.
"""

import datetime
import hashlib
import logging
import os
import select
import threading
import time
from functools import cache as once
from functools import wraps
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache, caches
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.http import HttpResponse
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from editorial import preview
from editorial.workflow import workflow_step
from pages.publishing import current_release
from pages.rendering import RENDERING
from pages.serving import current_versions

from .models import PageCacheGeneration

log = logging.getLogger(__name__)

# Cookies that mean the response may be personal: a session (staff, or anyone logged in) or flash messages.
PERSONAL_COOKIES = ("messages",)
# A query-string value longer than this is answered but never stored (search terms are clipped shorter anyway).
MAX_CACHED_PARAMETER_LENGTH = 100
CHANNEL = "mesoinfo_content"
CACHE_HEADER = "X-Page-Cache"
LISTENER_NAME = "mesoinfo page cache listener"  # its application_name in pg_stat_activity


# What pages are rendered with, besides content: a deploy that changes any of it gets new cache keys, so a shared
# cache (Redis) never serves pages rendered by the code, templates or stylesheet names of the previous release.
RENDERING_SOURCES = ("mesoinfo", "treatments", "references", "registry", "templates")


@once
def release_signature():
    """A hash of this release's Python code and templates, and the static files' manifest (hashed file names)."""
    digest = hashlib.sha256()
    root = Path(settings.BASE_DIR)
    for directory in RENDERING_SOURCES:
        for path in sorted((root / directory).rglob("*")):
            if path.suffix in (".py", ".html") and path.is_file():
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if manifest.is_file():
        digest.update(manifest.read_bytes())
    return digest.hexdigest()[:16]


def _first_generation():
    # A new or restored database starts above any number a shared cache may hold from another one.
    return time.time_ns()


class ContentState(NamedTuple):
    generation: int
    next_go_live: datetime.datetime | None = None  # the next scheduled go-live time
    outside_change: int = 0  # the generation of the last content change made outside the editorial workflow


def _read_state(cursor, wait=None):
    """The `ContentState` in the database, or None before the first change."""
    table = PageCacheGeneration._meta.db_table
    cursor.execute(f"SELECT value, next_go_live, outside_change FROM {table} WHERE id = 1")
    if wait is not None:  # an asynchronous connection (the listener's)
        wait()
    row = cursor.fetchone()
    if row is None:
        return None
    value, next_go_live, outside_change = row
    if isinstance(next_go_live, str):  # SQLite gives raw SQL its text
        next_go_live = parse_datetime(next_go_live)
    if next_go_live is not None and timezone.is_naive(next_go_live):
        next_go_live = timezone.make_aware(next_go_live, datetime.UTC)
    return ContentState(value, next_go_live, outside_change)


class GenerationWatcher:
    """This process's copy of the content generation, kept current by PostgreSQL LISTEN/NOTIFY.

    `value` is None whenever the copy is not known to be current; callers then read the database. Every
    RECHECK_SECONDS the listener reads the number again; each database call it makes gives up after
    TIMEOUT_SECONDS, so a connection that silently stops answering (dropped packets, socket still open) is
    treated as lost. A copy not confirmed within RECHECK_SECONDS + TIMEOUT_SECONDS is not used either.
    """

    RECHECK_SECONDS = 5  # also re-read the number this often, and notice a lost connection
    TIMEOUT_SECONDS = 2  # connecting, LISTEN or a re-read taking longer: the connection is lost
    RETRY_SECONDS = 2

    def __init__(self):
        self.value = None
        self.state = None
        self.confirmed_at = 0.0  # time.time() when the listener last confirmed `value`
        self._pid = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = None  # a pipe: written to make the listener read the number again at once
        self.thread = None
        self.backend_pid = None  # the listening connection's PostgreSQL backend (tests terminate exactly this one)

    def current(self):
        if not settings.PAGE_CACHE_LISTEN or connection.vendor != "postgresql":
            return None
        if self._pid != os.getpid():  # first use in this process (each gunicorn worker is a fork)
            with self._lock:
                if self._pid != os.getpid():
                    self._pid, self.value = os.getpid(), None
                    self._stop, self._wake = threading.Event(), os.pipe()
                    self.thread = threading.Thread(target=self._listen, name="page-cache-listener", daemon=True)
                    self.thread.start()
        return self.confirmed_value()

    def confirmed_value(self):
        """`value`, if the listener confirmed it recently enough; else None (unknown: read the database)."""
        value = self.value
        if value is None or time.time() - self.confirmed_at > self.RECHECK_SECONDS + self.TIMEOUT_SECONDS:
            return None
        return value

    def _confirm(self, state):
        """Keep the `ContentState` just read; the whole state first, so that whoever sees the new number also sees
        the schedule and the rest that came with it."""
        self.confirmed_at = time.time()
        self.state = state
        self.value = state.generation if state else None

    def refresh(self):
        """After this process committed a change: read the database until the listener has read the new number."""
        self.value = None
        if self._wake is not None and self._pid == os.getpid():
            os.write(self._wake[1], b".")

    def stop(self):
        """Stop listening (tests); the next `current()` in this process starts again."""
        self._stop.set()
        if self._wake is not None and self._pid == os.getpid():
            os.write(self._wake[1], b".")
        if self.thread is not None:
            self.thread.join(timeout=10)
        if self._wake is not None and self._pid == os.getpid():
            for end in self._wake:
                os.close(end)
        self._pid, self.value, self.thread, self._wake = None, None, None, None

    def _listen(self):
        import psycopg2

        stop, wake = self._stop, self._wake[0]
        while not stop.is_set():
            conn = None
            try:
                # Asynchronous mode: every call below is waited for with a timeout, never blocked on for good.
                params = {**connection.get_connection_params(), "application_name": LISTENER_NAME}
                conn = psycopg2.connect(**params, async_=True)
                _wait(conn, self.TIMEOUT_SECONDS)
                self.backend_pid = conn.get_backend_pid()
                cursor = conn.cursor()
                cursor.execute(f"LISTEN {CHANNEL}")
                _wait(conn, self.TIMEOUT_SECONDS)
                self._confirm(self._read(conn, cursor))  # after LISTEN, so no change can fall in between
                while not stop.is_set():
                    readable = select.select([conn, wake], [], [], self.RECHECK_SECONDS)[0]
                    if conn in readable:
                        conn.poll()
                    if wake in readable or not readable or conn.notifies:
                        # Asked to, every RECHECK_SECONDS, or notified: the row holds the newest number and the
                        # next scheduled go-live time, and is at least as new as any notification received.
                        if wake in readable:
                            os.read(wake, 512)
                        conn.notifies.clear()
                        self._confirm(self._read(conn, cursor))
            except (psycopg2.Error, OSError, ValueError) as error:
                log.warning("page cache: lost the content-change listener (%s); reading the database", error)
                self.value = None
                stop.wait(self.RETRY_SECONDS)
            finally:
                self.value = None
                if conn is not None:
                    conn.close()

    def _read(self, conn, cursor):
        return _read_state(cursor, wait=lambda: _wait(conn, self.TIMEOUT_SECONDS))


def _wait(conn, timeout):
    """Drive an asynchronous psycopg2 connection until its current operation is done; TimeoutError after
    `timeout` seconds without an answer."""
    from psycopg2.extensions import POLL_OK, POLL_READ

    deadline = time.monotonic() + timeout
    while (state := conn.poll()) != POLL_OK:
        remaining = deadline - time.monotonic()
        reading, writing = ([conn], []) if state == POLL_READ else ([], [conn])
        if remaining <= 0 or not any(select.select(reading, writing, [], remaining)[:2]):
            raise TimeoutError(f"no answer from the database within {timeout} s")


watcher = GenerationWatcher()


def generation_state():
    """The `ContentState`: this process's copy, else the database's."""
    value, state = watcher.current(), watcher.state
    if value is not None and state is not None and state.generation == value:
        return state
    # A plain cursor: this runs on every cache hit, where the ORM's own overhead is a large share of the cost.
    with connection.cursor() as cursor:
        state = _read_state(cursor)
    if state is None:
        row = PageCacheGeneration.objects.get_or_create(pk=1, defaults={"value": _first_generation()})[0]
        return ContentState(row.value, row.next_go_live, row.outside_change)
    return state


def content_generation():
    return generation_state()[0]


def content_changed(**_signal_kwargs):
    """Invalidate every cached page: connected to content models' signals; call it after bulk writes.

    A change made outside the editorial workflow's steps (a fixture load, a restore, a registry sync, a direct
    save) also marks every published page as needing to be checked again (pages/serving.py): only the workflow
    knows exactly which pages a change affects.
    """
    outside = {} if workflow_step() else {"outside_change": F("value") + 1}
    if not PageCacheGeneration.objects.filter(pk=1).update(value=F("value") + 1, **outside):
        first = _first_generation()
        PageCacheGeneration.objects.get_or_create(pk=1, defaults={"value": first, "outside_change": first})
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # delivered to every listener when this transaction commits
            table = PageCacheGeneration._meta.db_table
            cursor.execute(f"SELECT pg_notify(%s, value::text) FROM {table} WHERE id = 1", [CHANNEL])
    # Once this commits, this process reads the database until its listener has read the new number.
    transaction.on_commit(watcher.refresh)


def schedule_changed(next_go_live, **_signal_kwargs):
    """Keep the next scheduled go-live time beside the generation (editorial.workflow.schedule_changed)."""
    if not PageCacheGeneration.objects.filter(pk=1).update(next_go_live=next_go_live):
        PageCacheGeneration.objects.get_or_create(
            pk=1, defaults={"value": _first_generation(), "next_go_live": next_go_live}
        )
    content_changed()


def publish_what_is_due():
    """A request after a scheduled go-live time publishes what is due before any page is served."""
    from editorial.workflow import publish_due

    try:
        publish_due()
    except DatabaseError:
        raise
    except Exception:  # a patient's page must not fail because a publish did; the next request tries again
        log.exception("page cache: publishing scheduled changes failed")


def cache_public_page(view, params=(), versioned=False):
    """Mark a public view: cached for anonymous visitors (``PageCacheMiddleware`` does the work); rendered with
    the working drafts, never cached, for staff (editorial.preview).

    `params` names the query parameters the view reads (``?page=``, ``?q=``): only they are part of the cache key,
    so any other parameter (``?utm_source=``, ``?q=`` on a page that has no search) shares the page's one entry.

    `versioned` pages (without any of `params` in the request) are published pages (pages/): anonymous visitors
    get the version stored when it went live, and a publish re-renders exactly the pages it changes.
    """

    @wraps(view)
    def page(request, *args, **kwargs):
        if request.user.is_staff:
            return preview.render(view, request, *args, **kwargs)
        return view(request, *args, **kwargs)

    page.page_cacheable = True
    page.public_view = view
    page.page_cache_params = tuple(params)
    page.page_versioned = versioned
    return page


def _answered(response, hit):
    """Say how an anonymous visitor's public page was answered: from the page cache or a stored version ("hit"),
    or rendered for this request ("miss"). Not stored with the page; the load test counts it."""
    response[CACHE_HEADER] = "hit" if hit else "miss"
    return response


class PageCacheMiddleware:
    """Serve and store whole public pages for anonymous GET and HEAD requests.

    Listed right after whitenoise: headers added by the middlewares below it
    (X-Frame-Options, Vary) are stored with the page; those above it
    (security headers, Content-Security-Policy) are added to every response,
    cached or not. A page is stored only if its view is marked cacheable, it
    answered 200 and it set no cookie.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = self._public_view(request)
        if view is None or request.META.get(RENDERING):  # our own render of a page to publish goes to the view
            return self.get_response(request)
        request.get_host()  # a Host not in ALLOWED_HOSTS is refused (400) before the cache can answer it
        try:
            state = generation_state()
            if state.next_go_live is not None and timezone.now() >= state.next_go_live:
                publish_what_is_due()
                state = generation_state()
            if self._published_page(request, view):
                served = current_versions.current(request.path, state, current_release())
                if served is None:  # not a public page: the view answers (404)
                    return self.get_response(request)
                content, headers, rendered = served
                return _answered(HttpResponse(content, headers=headers), hit=not rendered)
        except DatabaseError:
            return self.get_response(request)  # the database is down: the view answers (with the friendly 503 page)
        key, variants = self._key(request, view, state.generation)
        if key is None:
            return self.get_response(request)  # personal (a session), or the page cache is off
        # With a shared cache (Redis), each process also keeps pages in local memory ("pages_local"). Keys
        # name the content generation, so neither copy can be stale.
        local = caches["pages_local"] if "pages_local" in settings.CACHES else None
        hit = local.get(key) if local is not None else None
        if hit is None:
            hit = cache.get(key)
            if hit is not None and local is not None:
                local.set(key, hit, settings.PAGE_CACHE_SECONDS)
        if hit is not None:
            content, headers = hit
            return _answered(HttpResponse(content, headers=headers), hit=True)
        response = self.get_response(request)
        if response.status_code == 200 and not response.streaming and not response.cookies:
            if variants is not None and not self._variant_allowed(variants):
                return _answered(response, hit=False)
            page = (response.content, list(response.items()))
            for store in (cache, local) if local is not None else (cache,):
                store.set(key, page, settings.PAGE_CACHE_SECONDS)
        return _answered(response, hit=False)

    @staticmethod
    def _public_view(request):
        """The public (page-cacheable) view a GET or HEAD request is for, or None."""
        if request.method not in ("GET", "HEAD"):
            return None
        try:
            view = resolve(request.path_info).func
        except Resolver404:
            return None
        return view if getattr(view, "page_cacheable", False) else None

    @staticmethod
    def _published_page(request, view):
        return (
            settings.PUBLISHED_PAGES
            and getattr(view, "page_versioned", False)
            and not any(name in request.GET for name in view.page_cache_params)
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
            and not any(cookie in request.COOKIES for cookie in PERSONAL_COOKIES)
        )

    @staticmethod
    def _variant_allowed(counter):
        """Whether one more variant (query-string value) of this page may be stored: at most PAGE_CACHE_VARIANTS
        per page and content generation, so made-up ``?q=`` values cannot fill the cache (and each process's
        local copy). The page without a query string is always stored; later variants are answered uncached."""
        cache.add(counter, 0, settings.PAGE_CACHE_SECONDS)
        try:
            return cache.incr(counter) <= settings.PAGE_CACHE_VARIANTS
        except ValueError:  # evicted in between
            return False

    @staticmethod
    def _key(request, view, generation):
        """(cache key, variant counter key or None), or (None, None) when this request is not cached."""
        if not settings.PAGE_CACHE_SECONDS:
            return None, None
        if settings.SESSION_COOKIE_NAME in request.COOKIES or any(c in request.COOKIES for c in PERSONAL_COOKIES):
            return None, None
        # Only the parameters this view reads are part of the key: tracking tags (?utm_source=…) or parameters
        # of other pages share the page's entry instead of filling the cache with copies of it.
        query = [(name, request.GET[name]) for name in view.page_cache_params if name in request.GET]
        if any(len(value) > MAX_CACHED_PARAMETER_LENGTH for _, value in query):
            return None, None
        release = f"{current_release()}:{generation}"  # the code and the settings pages show
        digest = hashlib.sha256(repr((settings.SITE_URL, request.path, query)).encode()).hexdigest()
        variants = f"mesoinfo:variants:{release}:{hashlib.sha256(request.path.encode()).hexdigest()}" if query else None
        return f"mesoinfo:page:{release}:{digest}", variants
