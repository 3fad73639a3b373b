from django import template
from django.conf import settings
from django.urls import reverse
from django.utils.timesince import timesince

from editorial import registry
from editorial.admin import review_url
from treatments.dates import sections_with_old_evidence
from treatments.models import Drug, GlossaryTerm, Overview, Trial

register = template.Library()

MAX_PENDING = 200  # the dashboard lists at most this many pending drafts


def _row(obj, **extra):
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return {"obj": obj, "kind": obj._meta.verbose_name, "url": url, **extra}


def _page_row(record, **extra):
    path = record.get_absolute_url().split("#")[0]
    return _row(record, path=path, review_url=review_url(record, page=path), **extra)


def published_without_review():
    """Public pages live without a medical review on record: overview, drug and trial pages (each can record one on
    its review screen), and the glossary while any of its live terms has none."""
    rows = []
    for model in (Overview, Drug, Trial):
        rows += [_page_row(record) for record in model.objects.published().filter(reviewed_on__isnull=True)]
    terms = GlossaryTerm.objects.published()
    unreviewed = terms.filter(reviewed_on__isnull=True).count()
    if unreviewed:
        changelist = reverse("admin:treatments_glossaryterm_changelist")
        rows.append(
            {
                "obj": "Glossary",
                "kind": f"{unreviewed} of {terms.count()} live terms",
                "url": f"{changelist}?review=never",
                "path": reverse("treatments:glossary"),
            }
        )
    return rows


def old_evidence():
    return [
        _row(section, path=section.get_absolute_url(), evidence=evidence, as_of=as_of)
        for section, evidence, as_of in sections_with_old_evidence()
    ]


@register.inclusion_tag("admin/_editorial_dashboard.html")
def editorial_dashboard():
    """What needs a medical reviewer: pending drafts by the public page that shows them (oldest wait first), live
    content past its review date, pages published without a medical review, and sections whose research is old."""
    pending = []
    for model in registry.publishable_models():
        pending += model.objects.with_drafts().select_related("draft_revision")[:MAX_PENDING]
    pending.sort(key=lambda obj: obj.draft_revision.submitted_at or obj.draft_revision.created_at)
    pages = {}
    for obj in pending[:MAX_PENDING]:
        revision = obj.draft_revision
        row = _row(obj, state=obj.editorial_state, age=timesince(revision.submitted_at or revision.created_at))
        for page in registry.pages_showing(obj) or [None]:
            path = page.get_absolute_url().split("#")[0] if page is not None else None
            if path not in pages:
                title = str(page) if page is not None else "Not shown on a page"
                pages[path] = {
                    "title": title,
                    "path": path,
                    "review_url": review_url(page, page=path) if path else None,
                    "rows": [],
                }
            pages[path]["rows"].append(row)
    overdue = []
    for model in registry.publishable_models():
        overdue += [_row(obj) for obj in model.objects.review_overdue()]
    overdue.sort(key=lambda row: row["obj"].review_due)
    return {
        "pages": list(pages.values()),
        "pending_count": len(pending),
        "overdue": overdue,
        "unreviewed": published_without_review(),
        "old_evidence": old_evidence(),
        "evidence_age": settings.EVIDENCE_AGE_NOTICE_YEARS,
    }
