"""Serving the current version of a published page to anonymous visitors, without rendering it.

Each process keeps a small map of address → current version id. It learns which pages changed from the content
generation (treatments/caching.py): when the generation moves on, one query lists the pages whose versions came
with it, with their new current versions. Every other page stays served from the cache: one publish does not
empty the page cache of the whole site. A version's HTML never changes, so it is cached under its id; the first
visitor of a changed page after a publish costs one query, for its HTML (and the first request after the publish
one more, the list of changed pages).
"""

import json
import threading
from functools import cache as once

from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection

from .models import Page, PageContent, PageVersion
from .publishing import first_version

# What a process keeps of a page's current version: its id, the generation it was last confirmed current at, and
# the release that rendered it; and whether it is public (its content).
CURRENT = ("current_id", "current__generation", "current__release", "current__content")


class CurrentVersions:
    def __init__(self):
        self.generation = None
        self.versions = {}  # path → (version id, the generation it was last confirmed current at, release)
        self.lock = threading.Lock()

    def forget_changed(self, generation, path=None):
        """Learn which pages have a version that went live (or was confirmed) since this process last looked, and
        their current versions, in one query; it also brings the HTML of `path` (the page asked for) if it is one
        of them, which it returns as (html, headers)."""
        fetched = None
        with self.lock:
            if self.generation is None or generation < self.generation:
                self.versions = {}
            elif generation > self.generation:
                with connection.cursor() as cursor:  # a plain cursor: this is on the first request after a publish
                    cursor.execute(_changed_pages_sql(), [path, self.generation, generation])
                    rows = cursor.fetchall()
                for page, version, confirmed, release, content, compressed, headers in rows:
                    if version is None or content is None:
                        self.versions.pop(page, None)  # not public now: the view answers
                        continue
                    self.versions[page] = (version, confirmed, release)
                    if compressed is not None and fetched is None:
                        fetched = _remember(version, compressed, headers)
            self.generation = generation
        return fetched

    def current(self, path, state, release):
        """(html, headers, rendered) of the page's current version, rendered now (`rendered` true) if it has none
        yet, if it was rendered by an earlier release of the code, or before content changed outside the editorial
        workflow; None if the page is not public (the view answers: a 404)."""
        fetched = None
        if state.generation != self.generation:
            fetched = self.forget_changed(state.generation, path)
        known = self.versions.get(path)
        if known is not None and known[1] >= state.outside_change and known[2] == release:
            content = fetched or _content(known[0])
            if content is not None:
                return (*content, False)
            # Gone from the database since (a restore): look again.
        found = self._look_up(path, release, state.outside_change)
        if found is None:
            self.versions.pop(path, None)
            return None
        self.versions[path], content, rendered = found
        return (*content, rendered)

    @staticmethod
    def _look_up(path, release, outside_change):
        """((version id, generation, release), (html, headers), rendered) of the page's current version, its HTML in
        the same query (a page this process has not served yet, or not since it changed, is not in its cache)."""
        columns = (*CURRENT, "current__content__compressed", "current__headers")
        row = Page.objects.filter(path=path).values_list(*columns).first()
        rendered = row is None or row[0] is None or row[2] != release or row[1] < outside_change
        if rendered:
            first_version(path)  # never rendered yet, rendered by an earlier release, or maybe out of date
            row = Page.objects.filter(path=path).values_list(*columns).first()
            if row is None or row[0] is None or row[2] != release:
                return None  # it could not be rendered now: the view answers
        version, confirmed, _release, content, compressed, headers = row
        if content is None:
            return None  # not public at this version: the view answers (404)
        return (version, confirmed, release), _remember(version, compressed, headers), rendered

    def clear(self):
        with self.lock:
            self.generation, self.versions = None, {}


current_versions = CurrentVersions()


@once
def _changed_pages_sql():
    """(path, current version, its generation, release, content id, and for one path its compressed HTML and
    headers) for each version whose generation is in a range (a page with several comes once for each)."""
    page, version, content = (model._meta.db_table for model in (Page, PageVersion, PageContent))
    return (
        f"SELECT p.path, p.current_id, cur.generation, cur.release, cur.content_id, c.compressed, "
        f"CASE WHEN c.id IS NULL THEN NULL ELSE cur.headers END FROM {version} v "
        f"JOIN {page} p ON p.id = v.page_id "
        f"LEFT JOIN {version} cur ON cur.id = p.current_id "
        f"LEFT JOIN {content} c ON c.id = cur.content_id AND p.path = %s "
        f"WHERE v.generation > %s AND v.generation <= %s"
    )


@once
def _content_sql():
    version, content = PageVersion._meta.db_table, PageContent._meta.db_table
    return f"SELECT c.compressed, v.headers FROM {version} v JOIN {content} c ON c.id = v.content_id WHERE v.id = %s"


def _key(version_id):
    return f"mesoinfo:page-version:{version_id}"


def _local():
    return caches["pages_local"] if "pages_local" in settings.CACHES else None


def _remember(version_id, compressed, headers):
    """A version's (html, headers), kept in the cache under its id: a version's HTML never changes."""
    if isinstance(headers, str):  # JSON, as a plain cursor reads it
        headers = json.loads(headers)
    hit = (PageContent.unpack(compressed), [tuple(header) for header in headers])
    cache.set(_key(version_id), hit, None)
    if (local := _local()) is not None:
        local.set(_key(version_id), hit, None)
    return hit


def _content(version_id):
    key, local = _key(version_id), _local()
    hit = local.get(key) if local is not None else None
    if hit is None:
        hit = cache.get(key)
        if hit is None:
            with connection.cursor() as cursor:
                cursor.execute(_content_sql(), [version_id])
                row = cursor.fetchone()
            if row is None:
                return None
            return _remember(version_id, *row)
        if local is not None:
            local.set(key, hit, None)
    return hit
