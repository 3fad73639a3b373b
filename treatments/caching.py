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

import hashlib
import logging
import os
import select
import threading
import time
from functools import cache as once
from functools import wraps
from pathlib import Path

from django.conf import settings
from django.core.cache import cache, caches
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.http import HttpResponse
from django.urls import Resolver404, resolve

from .models import PageCacheGeneration

log = logging.getLogger(__name__)

# Cookies that mean the response may be personal: a session (staff, or anyone logged in) or flash messages.
PERSONAL_COOKIES = ("messages",)
# The query parameters public pages read: ?page= (lists, drug pages), ?q= (search), ?p= (sitemaps).
PAGE_QUERY_PARAMETERS = ("page", "p", "q")
CHANNEL = "mesoinfo_content"
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


def _read_generation(cursor):
    cursor.execute(f"SELECT value FROM {PageCacheGeneration._meta.db_table} WHERE id = 1")
    row = cursor.fetchone()
    return row[0] if row else None


class GenerationWatcher:
    """This process's copy of the content generation, kept current by PostgreSQL LISTEN/NOTIFY.

    `value` is None whenever the copy is not known to be current; callers then read the database.
    """

    RECHECK_SECONDS = 5  # also re-read the number this often, and notice a lost connection
    RETRY_SECONDS = 2

    def __init__(self):
        self.value = None
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
        return self.value

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
            try:
                conn = psycopg2.connect(**{**connection.get_connection_params(), "application_name": LISTENER_NAME})
            except psycopg2.Error as error:
                log.warning("page cache: cannot listen for content changes (%s); reading the database", error)
                stop.wait(self.RETRY_SECONDS)
                continue
            try:
                conn.autocommit = True
                self.backend_pid = conn.get_backend_pid()
                with conn.cursor() as cursor:
                    cursor.execute(f"LISTEN {CHANNEL}")
                    self.value = _read_generation(cursor)  # after LISTEN, so no change can fall in between
                    while not stop.is_set():
                        readable = select.select([conn, wake], [], [], self.RECHECK_SECONDS)[0]
                        conn.poll()
                        if wake in readable or not readable:  # asked to, or every RECHECK_SECONDS
                            if wake in readable:
                                os.read(wake, 512)
                            conn.notifies.clear()  # the number read now is at least as new as these
                            self.value = _read_generation(cursor)
                        elif conn.notifies:
                            # Delivered in commit order: the last one is the newest number.
                            self.value = int(conn.notifies[-1].payload)
                            conn.notifies.clear()
            except (psycopg2.Error, OSError, ValueError) as error:
                log.warning("page cache: lost the content-change listener (%s); reading the database", error)
                self.value = None
                stop.wait(self.RETRY_SECONDS)
            finally:
                self.value = None
                conn.close()


watcher = GenerationWatcher()


def content_generation():
    generation = watcher.current()
    if generation is not None:
        return generation
    # A plain cursor: this runs on every cache hit, where the ORM's own overhead is a large share of the cost.
    with connection.cursor() as cursor:
        generation = _read_generation(cursor)
    if generation is None:
        return PageCacheGeneration.objects.get_or_create(pk=1, defaults={"value": _first_generation()})[0].value
    return generation


def content_changed(**_signal_kwargs):
    """Invalidate every cached page: connected to content models' signals; call it after bulk writes."""
    if not PageCacheGeneration.objects.filter(pk=1).update(value=F("value") + 1):
        PageCacheGeneration.objects.get_or_create(pk=1, defaults={"value": _first_generation()})
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # delivered to every listener when this transaction commits
            table = PageCacheGeneration._meta.db_table
            cursor.execute(f"SELECT pg_notify(%s, value::text) FROM {table} WHERE id = 1", [CHANNEL])
    # Once this commits, this process reads the database until its listener has read the new number.
    transaction.on_commit(watcher.refresh)


def cache_public_page(view, query_parameters=PAGE_QUERY_PARAMETERS):
    """Mark a public view's pages as cacheable for anonymous visitors (``PageCacheMiddleware`` does the work).

    `query_parameters`: the query string parameters the view reads; each value gets its own cache entry.
    """

    @wraps(view)
    def page(request, *args, **kwargs):
        return view(request, *args, **kwargs)

    page.page_cacheable = True
    page.page_query_parameters = query_parameters
    return page


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
        key = self._key(request)
        if key is None:
            return self.get_response(request)
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
            return HttpResponse(content, headers=headers)
        response = self.get_response(request)
        if response.status_code == 200 and not response.streaming and not response.cookies:
            page = (response.content, list(response.items()))
            for store in (cache, local) if local is not None else (cache,):
                store.set(key, page, settings.PAGE_CACHE_SECONDS)
        return response

    @staticmethod
    def _key(request):
        if not settings.PAGE_CACHE_SECONDS or request.method not in ("GET", "HEAD"):
            return None
        if settings.SESSION_COOKIE_NAME in request.COOKIES or any(c in request.COOKIES for c in PERSONAL_COOKIES):
            return None
        try:
            view = resolve(request.path_info).func
        except Resolver404:
            return None
        if not getattr(view, "page_cacheable", False):
            return None
        parameters = view.page_query_parameters
        try:
            generation = content_generation()
        except DatabaseError:
            return None  # the database is down: the view answers (with the friendly 503 page)
        # Only the parameters the public views read are part of the key: tracking tags (?utm_source=…) or made-up
        # parameters share the page's entry instead of filling the cache with copies of it.
        query = [(name, request.GET[name]) for name in parameters if name in request.GET]
        digest = hashlib.sha256(repr((settings.SITE_URL, request.path, query)).encode()).hexdigest()
        return f"mesoinfo:page:{release_signature()}:{generation}:{digest}"
