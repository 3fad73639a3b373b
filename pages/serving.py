"""Serving the current version of a published page to anonymous visitors, without rendering it.

Each process keeps a small map of address → current version id. It learns which pages changed from the content
generation (treatments/caching.py): when the generation moves on, one query lists the pages whose versions came
with it, and only those are looked up again. Every other page stays served from the cache: one publish does not
empty the page cache of the whole site. A version's HTML never changes, so it is cached under its id.
"""

import threading

from django.conf import settings
from django.core.cache import cache, caches

from .models import Page, PageVersion
from .publishing import first_version


class CurrentVersions:
    def __init__(self):
        self.generation = None
        self.versions = {}  # path → (version id, the generation it was last confirmed current at, release)
        self.lock = threading.Lock()

    def forget_changed(self, generation):
        """Drop the pages whose versions went live since this process last looked."""
        with self.lock:
            if self.generation is None or generation < self.generation:
                self.versions = {}
            elif generation > self.generation:
                changed = PageVersion.objects.filter(generation__gt=self.generation, generation__lte=generation)
                for path in changed.order_by().values_list("page__path", flat=True).distinct():
                    self.versions.pop(path, None)
            self.generation = generation

    def current(self, path, state, release):
        """(html, headers) of the page's current version, rendered now if it has none yet, if it was rendered by
        an earlier release of the code, or before content changed outside the editorial workflow; None if the page
        is not public (the view answers: a 404)."""
        if state.generation != self.generation:
            self.forget_changed(state.generation)
        known = self.versions.get(path)
        if known is None or known[1] < state.outside_change or known[2] != release:
            known = self._look_up(path, release, state.outside_change)
            if known is None:
                return None
            self.versions[path] = known
        content = _content(known[0])
        if content is None:  # gone from the database since (a restore): look again
            self.versions.pop(path, None)
            known = self._look_up(path, release, state.outside_change)
            if known is None:
                return None
            self.versions[path] = known
            content = _content(known[0])
        return content

    @staticmethod
    def _look_up(path, release, outside_change):
        columns = ("current_id", "current__release", "current__content", "current__generation")
        row = Page.objects.filter(path=path).values_list(*columns).first()
        if row is None or row[0] is None or row[1] != release or row[3] < outside_change:
            first_version(path)  # never rendered yet, rendered by an earlier release, or maybe out of date
            row = Page.objects.filter(path=path).values_list(*columns).first()
            if row is None or row[0] is None or row[1] != release:
                return None  # it could not be rendered now: the view answers
        if row[2] is None:
            return None  # not public at this version: the view answers (404)
        return row[0], row[3], release

    def clear(self):
        with self.lock:
            self.generation, self.versions = None, {}


current_versions = CurrentVersions()


def _content(version_id):
    key = f"mesoinfo:page-version:{version_id}"
    local = caches["pages_local"] if "pages_local" in settings.CACHES else None
    hit = local.get(key) if local is not None else None
    if hit is None:
        hit = cache.get(key)
        if hit is None:
            version = PageVersion.objects.select_related("content").filter(pk=version_id).first()
            if version is None or version.content is None:
                return None
            hit = (version.content.html, [tuple(header) for header in version.headers])
            cache.set(key, hit, None)
        if local is not None:
            local.set(key, hit, None)
    return hit
