from django import template
from django.urls import reverse

from treatments.models import Drug, Overview, TreatmentOption, Trial

register = template.Library()

PUBLISHABLE = [Overview, TreatmentOption, Drug, Trial]


def _rows(objects):
    return [
        {
            "obj": obj,
            "kind": obj._meta.verbose_name,
            "url": reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk]),
        }
        for obj in objects
    ]


@register.inclusion_tag("admin/_editorial_dashboard.html")
def editorial_dashboard():
    """What needs a medical reviewer: content awaiting review, and published content past its review date."""
    awaiting, overdue = [], []
    for model in PUBLISHABLE:
        awaiting += _rows(model.objects.awaiting_review())
        overdue += _rows(model.objects.review_overdue())
    overdue.sort(key=lambda row: row["obj"].review_due)
    return {"awaiting": awaiting, "overdue": overdue}
