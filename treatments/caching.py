"""Whole-page caching for anonymous visitors that never serves stale content.

Cached pages are keyed by a "content generation" number kept in the database.
Every change to content bumps it inside the same transaction as the change,
so every app server and worker sees the new number exactly when it sees the
new content, whatever cache backend holds the pages (local memory per
process, or Redis shared by all).

``PageCacheMiddleware`` answers from the cache near the top of the middleware
stack, before sessions, CSRF, authentication and URL dispatch, so a cache hit
costs about what a static file costs: one small query for the generation and
one cache read. Only views marked with ``cache_public_page`` are cached, and
only for requests without a session cookie: staff and logged-in users always
get a fresh page, because their previews show drafts.
"""

import hashlib
import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.db.models import F
from django.http import HttpResponse
from django.urls import Resolver404, resolve

from .models import PageCacheGeneration

# Cookies that mean the response may be personal: a session (staff, or anyone logged in) or flash messages.
PERSONAL_COOKIES = ("messages",)


def _first_generation():
    # A new or restored database starts above any number a shared cache may hold from another one.
    return time.time_ns()


def content_generation():
    # A plain cursor: this runs on every cache hit, where the ORM's own overhead is a large share of the cost.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {PageCacheGeneration._meta.db_table} WHERE id = 1")
        row = cursor.fetchone()
    if row is None:
        return PageCacheGeneration.objects.get_or_create(pk=1, defaults={"value": _first_generation()})[0].value
    return row[0]


def content_changed(**_signal_kwargs):
    """Invalidate every cached page: connected to content models' signals; call it after bulk writes."""
    if not PageCacheGeneration.objects.filter(pk=1).update(value=F("value") + 1):
        PageCacheGeneration.objects.get_or_create(pk=1, defaults={"value": _first_generation()})


def cache_public_page(view):
    """Mark a public view's pages as cacheable for anonymous visitors (``PageCacheMiddleware`` does the work)."""

    @wraps(view)
    def page(request, *args, **kwargs):
        return view(request, *args, **kwargs)

    page.page_cacheable = True
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
        hit = cache.get(key)
        if hit is not None:
            content, headers = hit
            return HttpResponse(content, headers=headers)
        response = self.get_response(request)
        if response.status_code == 200 and not response.streaming and not response.cookies:
            cache.set(key, (response.content, list(response.items())), settings.PAGE_CACHE_SECONDS)
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
        try:
            generation = content_generation()
        except DatabaseError:
            return None  # the database is down: the view answers (with the friendly 503 page)
        digest = hashlib.sha256(request.get_full_path().encode()).hexdigest()
        return f"mesoinfo:page:{generation}:{digest}"
