"""Whole-page caching for anonymous visitors that never serves stale content.

Every cached page's key contains the current "content generation"; any change
to content (save, delete, many-to-many change, import) bumps the generation,
so the next request renders afresh. Staff and logged-in users are never served
from, or written to, the cache: their previews show drafts.
"""

import hashlib
import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

GENERATION_KEY = "mesoinfo:content-generation"


def _new_generation():
    # If the counter is ever evicted, restart above every number used before, never back at 1.
    return time.time_ns()


def content_generation():
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        cache.add(GENERATION_KEY, _new_generation(), timeout=None)
        generation = cache.get(GENERATION_KEY) or _new_generation()
    return generation


def content_changed(**_signal_kwargs):
    """Invalidate every cached page (connected to content models' signals; call after bulk writes)."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # evicted: any new generation is newer than all cached pages
        cache.set(GENERATION_KEY, _new_generation(), timeout=None)


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
