"""Staff preview: public pages rendered with every working draft in place of the live version.

The drafts are written onto the rows in a savepoint that is always rolled back, so the public
views, templates and queries run unchanged and show exactly what publishing would show. While the
page renders, the records it reads are noted; the banner at the top lists those that differ from
live, with links to them in the admin.
"""

import re
from contextlib import contextmanager

from django.db import transaction
from django.http import HttpRequest, QueryDict
from django.template.loader import render_to_string
from django.urls import resolve, reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control

from . import registry, tracking
from .models import Status

_MAIN = re.compile(rb"<main\b[^>]*>")


@contextmanager
def drafts_applied():
    """Inside: every working draft is in place of its live version. Everything is rolled back after."""
    with transaction.atomic():
        savepoint = transaction.savepoint()
        try:
            for model in registry.publishable_models():
                live_with_draft = model._default_manager.filter(status=Status.PUBLISHED, draft_revision__isnull=False)
                for record in live_with_draft.select_related("draft_revision"):
                    record.skip_history_when_saving = True
                    registry.apply(record, record.draft_revision.data)
            yield
        finally:
            transaction.savepoint_rollback(savepoint)


def pending(keys):
    """The records among `keys` (label, pk) that differ from live: a working draft, or not live at all."""
    by_label = {}
    for label, pk in keys:
        by_label.setdefault(label, set()).add(pk)
    found = []
    for model in registry.publishable_models():
        pks = by_label.get(model._meta.label_lower)
        if pks:
            queryset = model._default_manager.filter(pk__in=pks).select_related("draft_revision")
            found += [record for record in queryset if record.draft_revision_id or record.status != Status.PUBLISHED]
    return found


def render(view, request, *args, **kwargs):
    """`view`'s response for a staff member: drafts shown, the changes listed, never cached anywhere."""
    with drafts_applied(), tracking.reading() as seen:
        response = view(request, *args, **kwargs)
        if callable(getattr(response, "render", None)) and not response.is_rendered:
            response.render()
        changes = [
            {
                "record": record,
                "kind": record._meta.verbose_name,
                "state": record.editorial_state,
                "url": admin_url(record),
            }
            for record in pending(seen.records)
        ]
    response.editorial_seen = seen
    if changes and "text/html" in response.get("Content-Type", "") and not response.streaming:
        banner = render_to_string("includes/_preview_changes.html", {"changes": changes}, request=request).encode()
        response.content = _MAIN.sub(lambda match: match.group(0) + banner, response.content, count=1)
    add_never_cache_headers(response)
    patch_cache_control(response, private=True)
    return response


def records_shown(path, request):
    """What the public page at `path` shows, drafts included (a `tracking.Reading`)."""
    match = resolve(path)
    page = HttpRequest()
    page.method, page.path, page.path_info = "GET", path, path
    page.META = {**request.META, "QUERY_STRING": "", "REQUEST_METHOD": "GET"}
    page.GET, page.COOKIES = QueryDict(), request.COOKIES
    page.user, page.session = request.user, getattr(request, "session", None)
    response = render(getattr(match.func, "public_view", match.func), page, *match.args, **match.kwargs)
    return response.editorial_seen


def admin_url(record):
    opts = record._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[record.pk])
