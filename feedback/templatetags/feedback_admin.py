from django import template
from django.db.models import Count, Max, Q

from ..admin import changelist_url
from ..models import Feedback
from ..pages import page_titles

register = template.Library()

MAX_PAGES = 20  # the pages with the most recent feedback


@register.inclusion_tag("admin/_feedback_summary.html")
def feedback_summary():
    """For the admin home: per page, how many readers found it helpful or not and how many commented, newest
    first, with links to the page and to its feedback."""
    rows = list(
        Feedback.objects.values("page")
        .annotate(
            yes=Count("pk", filter=Q(helpful=True)),
            no=Count("pk", filter=Q(helpful=False)),
            comments=Count("pk", filter=~Q(comment="")),
            latest=Max("created"),
        )
        .order_by("-latest")[:MAX_PAGES]
    )
    titles = page_titles([row["page"] for row in rows])
    for row in rows:
        row["title"] = titles.get(row["page"], row["page"])
        row["feedback_url"] = changelist_url(page=row["page"])
        row["comments_url"] = changelist_url(page=row["page"], comment="yes")
    return {"rows": rows, "all_url": changelist_url(), "total": Feedback.objects.count()}
