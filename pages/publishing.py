"""Pages rendered at publish: which public pages a change to what is live affects, and their new versions.

Called in the transaction of every publish (editorial.workflow.live_changed): each affected page is rendered
once, as an anonymous visitor gets it, and stored as a new version only if its HTML changed. What a page depends
on comes from rendering it (editorial.tracking): the records it showed, and the kinds of record it lists.
"""

import hashlib
import logging
from collections import Counter, defaultdict

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from editorial import registry
from editorial.models import Status

from .models import Page, PageContent, PageDependency, PageVersion
from .rendering import render

log = logging.getLogger(__name__)


# The settings a page's HTML depends on, besides content and code.
RENDERING_SETTINGS = ("SITE_URL", "SITE_PUBLISHER", "EVIDENCE_AGE_NOTICE_YEARS")


def current_release():
    """What pages are rendered with besides content: the code, templates and static files (the page cache's release
    signature), and the settings that show on pages (the site's address, the age at which research is called old).
    A version rendered with other ones is rendered again before it is served."""
    from treatments.caching import release_signature

    rendering = "\0".join(str(getattr(settings, name)) for name in RENDERING_SETTINGS)
    return f"{release_signature()}:{hashlib.sha256(rendering.encode()).hexdigest()[:6]}"


def own_path(record):
    """The address of the public page that is `record` (a section's is its overview's), or None."""
    if record is None:
        return None
    entry = registry.entry_for(type(record))
    if entry is not None and entry.parent:
        return own_path(getattr(record, entry.parent))
    url = getattr(record, "get_absolute_url", None)
    return url().split("#")[0] if url else None


def _record(label, pk):
    return apps.get_model(label)._default_manager.filter(pk=pk).first()


def affected_pages(changes):
    """({path: {revision or None, …}}, {path of a changed record's own page}) for the pages a set of changes to
    what is live changes."""
    affected, own_pages = defaultdict(set), set()
    for change in changes:
        record, revision = change.record, change.revision
        label, pk = registry.record_key(record)
        for path in Page.objects.filter(dependencies__label=label, dependencies__object_id=pk).values_list(
            "path", flat=True
        ):
            affected[path].add(revision)
        own = own_path(record)
        if own:  # a first publication makes the page; taking a record off the site ends it
            affected[own].add(revision)
            own_pages.add(own)
        # The pages of what it links to, before and after, list what links to them (a drug page lists its trials).
        live = record.status == Status.PUBLISHED
        links_after = [registry.record_key(t) for _f, t in registry.links(record)] if live else []
        for target_label, target_pk in {*change.links_before, *links_after}:
            path = own_path(_record(target_label, target_pk))
            if path:
                affected[path].add(revision)
        after = registry.snapshot(record) if live else None
        for listing in PageDependency.objects.filter(label=label, object_id=None).select_related("page"):
            joined_or_left = change.before is None or after is None
            if joined_or_left or any(change.before["fields"].get(f) != after["fields"].get(f) for f in listing.fields):
                affected[listing.page.path].add(revision)
    return affected, own_pages


def reviewer_name(user):
    profile = getattr(user, "reviewer_profile", None)
    if profile is not None and profile.is_public:
        return str(profile)
    return user.get_full_name() or user.get_username()


def pages_after_publish(sender, changes, now, **kwargs):
    """Render and store every page the changes affect (editorial.workflow.live_changed)."""
    affected, own_pages = affected_pages(changes)
    if not affected:
        return
    from treatments.caching import content_changed
    from treatments.models import PageCacheGeneration

    content_changed()  # the versions carry this publish's generation, so every process learns they are new
    # Read in this transaction, which sees its own change: this process's copy of the generation (the page-cache
    # listener's) is the last one committed, and versions stored with it would look old to every process.
    generation = PageCacheGeneration.objects.values_list("value", flat=True).get(pk=1)
    for path in sorted(affected):
        revisions = [r for r in affected[path] if r is not None]
        store_version(path, now, generation, revisions, own_page=path in own_pages)


def store_version(path, now, generation, revisions=(), own_page=False, rendered=None):
    """Render `path` and make it the page's current version if its HTML (or whether it is public) changed.

    Returns the new version, or None when nothing visible changed (or the page has never been public and still
    is not). The version row exists while the page renders, so the page can list its own change notes. A page
    stored for the first time carries the notes and reviewers of `revisions` only if it is the page of a record
    they changed (`own_page`); a page that only links to one is merely recorded for the first time.
    """
    release = current_release()
    with transaction.atomic():
        page, _created = Page.objects.get_or_create(path=path)
        page = Page.objects.select_for_update(of=("self",)).select_related("current").get(pk=page.pk)
        current = page.current
        if current is None and not own_page:
            revisions = ()
        notes, seen_notes = [], set()
        for revision in revisions:
            if revision.change_note and revision.change_note not in seen_notes:
                seen_notes.add(revision.change_note)
                notes.append({"text": revision.change_note, "minor": revision.minor})
        reviewers = sorted({reviewer_name(r.approved_by) for r in revisions if r.approved_by})
        fields = {
            "page": page,
            "number": (current.number if current else 0) + 1,
            "went_live_at": now,
            "notes": notes,
            "listed": any(not note["minor"] for note in notes),
            "reviewers": reviewers,
            "generation": generation,
            "release": release,
        }
        # A page lists its own notes for readers: then its version row exists while it renders. Without such notes
        # the row makes no difference to the page, and is only written if the page changed.
        version = PageVersion.objects.create(**fields) if fields["listed"] else None
        response, seen = rendered or render(path)
        if response.status_code == 200 and not response.streaming:
            content = PageContent.store(response.content)
        elif response.status_code == 404:
            content = None  # no longer public
        else:
            log.error("pages: %s answered %s when rendered; its current version is kept", path, response.status_code)
            if version is not None:
                version.delete()
            return None
        unchanged = current is not None and current.content_id == (content.pk if content else None)
        if unchanged or (current is None and content is None):
            if version is not None:
                version.delete()
            if current is not None:  # confirmed current as of now, by this release
                PageVersion.objects.filter(pk=current.pk).update(release=release, generation=generation)
            _record_dependencies(page, seen)
            return None
        headers = [[name, value] for name, value in response.items()] if content else []
        if version is None:
            version = PageVersion.objects.create(**fields, content=content, headers=headers)
        else:
            version.content, version.headers = content, headers
            version.save(update_fields=["content", "headers"])
        if revisions:
            version.revisions.set(revisions)
        page.current = version
        page.save(update_fields=["current"])
        _record_dependencies(page, seen)
        return version


def first_version(path):
    """A page requested before any publish rendered it (a new deployment, a page nobody changed since): render it
    now and keep it as its first version. An address that is not a public page (a mistyped one) leaves nothing
    behind."""
    from treatments.caching import content_generation

    rendered = None
    if not Page.objects.filter(path=path).exists():
        rendered = render(path)
        if rendered[0].status_code != 200:
            return None
    return store_version(path, timezone.now(), content_generation(), rendered=rendered)


def public_paths():
    """The address of every public page served as published (the sitemap's pages whose view is versioned): the
    home page, the lists, the glossary, and each live overview, drug and trial."""
    from django.urls import resolve

    from treatments.sitemaps import SITEMAPS

    paths = []
    for sitemap_class in SITEMAPS.values():
        sitemap = sitemap_class()
        for item in sitemap.items():
            path = sitemap.location(item)
            if getattr(resolve(path).func, "page_versioned", False):
                paths.append(path)
    return paths


def pages_to_build(paths=None):
    """(addresses whose current version is not current for this release, how many are), in the order given: every
    public page and every page stored before, unless `paths` names them. A version is not current when it was
    rendered by another release, or before a change made outside the editorial workflow (serving.py renders such
    a page again before serving it)."""
    from treatments.caching import generation_state

    paths = list(
        dict.fromkeys([*public_paths(), *Page.objects.values_list("path", flat=True)] if paths is None else paths)
    )
    current = set(
        Page.objects.filter(
            current__release=current_release(), current__generation__gte=generation_state().outside_change
        ).values_list("path", flat=True)
    )
    return [path for path in paths if path not in current], len(current & set(paths))


def build_pages(paths):
    """Render and store the current version of each of `paths` (`pages_to_build`); returns a Counter of what
    happened: "stored" (a new version), "confirmed" (its HTML had not changed), "not public" (it answered 404 and
    has no version, or its last version says it is gone), "failed" (it answered another status; see the log)."""
    release, counts = current_release(), Counter()
    for path in paths:
        if first_version(path) is not None:
            counts["stored"] += 1
        else:
            row = Page.objects.filter(path=path).values_list("current__release", "current__content").first()
            if row is None or row[0] is None or row[1] is None:
                counts["not public"] += 1
            elif row[0] == release:
                counts["confirmed"] += 1
            else:
                counts["failed"] += 1
    return counts


def _record_dependencies(page, seen):
    """Keep what the page's current version showed: only the rows that differ from what it had are written (a page
    rendered again usually shows the same records)."""
    wanted = {(label, pk, ()) for label, pk in seen.records}
    wanted |= {(label, None, tuple(sorted(fields))) for label, fields in seen.lists.items()}
    kept, stale = set(), []
    for pk, label, object_id, fields in page.dependencies.values_list("pk", "label", "object_id", "fields"):
        key = (label, object_id, tuple(fields))
        if key in wanted and key not in kept:
            kept.add(key)
        else:
            stale.append(pk)
    if stale:
        PageDependency.objects.filter(pk__in=stale).delete()
    PageDependency.objects.bulk_create(
        PageDependency(page=page, label=label, object_id=pk, fields=list(fields))
        for label, pk, fields in sorted(wanted - kept, key=lambda key: (key[0], key[1] or 0, key[2]))
    )
