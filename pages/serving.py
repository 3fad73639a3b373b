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
        self.versions = {}  # path → version id
        self.lock = threading.Lock()

    def forget_changed(self, generation):
        """Drop the pages whose versions went live since this process last looked."""
        with self.lock:
            if self.generation is None or generation < self.generation:
                self.versions = {}
            elif generation > self.generation:
                changed = PageVersion.objects.filter(generation__gt=self.generation, generation__lte=generation)
                for path in changed.values_list("page__path", flat=True).distinct():
                    self.versions.pop(path, None)
            self.generation = generation

    def current(self, path, generation, release):
        """(html, headers) of the page's current version, rendering its first one if it has none; None if it is
        not a public page (a 404: the view answers)."""
        if generation != self.generation:
            self.forget_changed(generation)
        version_id = self.versions.get(path)
        if version_id is None:
            version_id = self._look_up(path, release)
            if version_id is None:
                return None
            self.versions[path] = version_id
        return _content(version_id)

    @staticmethod
    def _look_up(path, release):
        row = Page.objects.filter(path=path).values_list("current_id", "current__release", "current__content").first()
        if row is None or row[0] is None or row[1] != release:
            version = first_version(path)  # never rendered yet, or by an earlier release of the code
            row = Page.objects.filter(path=path).values_list("current_id", "current__release", "current__content").first()
            if row is None or row[0] is None:
                return None
            if version is None and row[1] != release:
                return None  # it could not be rendered now: let the view answer
        return row[0] if row[2] is not None else None  # a version that is not public: the view answers (404)

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
            version = PageVersion.objects.select_related("content").get(pk=version_id)
            hit = (version.content.html, [tuple(header) for header in version.headers])
            cache.set(key, hit, None)
        if local is not None:
            local.set(key, hit, None)
    return hit
