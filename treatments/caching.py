"""Whole-page caching for anonymous visitors that never serves stale content.

Cached pages are keyed by a "content generation" number kept in the database.
Every change to content bumps it inside the same transaction as the change,
so every app server and worker sees the new number exactly when it sees the
new content, whatever cache backend holds the pages (local memory per
process, or Redis shared by all). Staff and logged-in users are never served
from, or written to, the cache: their previews show drafts.
"""

import hashlib
import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.http import HttpResponse

from .models import PageCacheGeneration


def _first_generation():
    # A new or restored database starts above any number a shared cache may hold from another one.
    return time.time_ns()


def content_generation():
    generation = PageCacheGeneration.objects.values_list("value", flat=True).first()
    if generation is None:
        generation = PageCacheGeneration.objects.get_or_create(pk=1, defaults={"value": _first_generation()})[0].value
    return generation


def content_changed(**_signal_kwargs):
    """Invalidate every cached page: connected to content models' signals; call it after bulk writes."""
    if not PageCacheGeneration.objects.filter(pk=1).update(value=F("value") + 1):
        PageCacheGeneration.objects.get_or_create(pk=1, defaults={"value": _first_generation()})


def cache_public_page(view):
    @wraps(view)
    def cached_view(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD") or request.user.is_authenticated:
            return view(request, *args, **kwargs)
        digest = hashlib.sha256(request.get_full_path().encode()).hexdigest()
        key = f"mesoinfo:page:{content_generation()}:{digest}"
        hit = cache.get(key)
        if hit is not None:
            content, headers = hit
            return HttpResponse(content, headers=headers)
        response = view(request, *args, **kwargs)
        if response.status_code == 200 and not response.streaming:
            if hasattr(response, "render"):
                response.render()
            headers = {name: response[name] for name in ("Content-Type", "Content-Disposition") if name in response}
            cache.set(key, (response.content, headers), settings.PAGE_CACHE_SECONDS)
        return response

    return cached_view
