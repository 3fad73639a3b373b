"""Reader feedback for reviewers: read-only, by page and answer, with the counts for what is shown.

Seeing it needs the "view reader feedback" permission (the Medical reviewer group has it); deleting one (spam, or a
comment in which a reader wrote something personal) needs "delete reader feedback". Nobody adds or changes any.
"""

from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Feedback
from .pages import page_titles

MAX_PAGES_IN_FILTER = 500


def changelist_url(**filters):
    url = reverse("admin:feedback_feedback_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def answer_counts(queryset):
    return queryset.aggregate(
        yes=Count("pk", filter=Q(helpful=True)),
        no=Count("pk", filter=Q(helpful=False)),
        comments=Count("pk", filter=~Q(comment="")),
    )


class PageFilter(admin.SimpleListFilter):
    title = _("page")
    parameter_name = "page"

    def lookups(self, request, model_admin):
        paths = list(Feedback.objects.order_by("page").values_list("page", flat=True).distinct()[:MAX_PAGES_IN_FILTER])
        titles = page_titles(paths)
        return [(path, titles.get(path, path)) for path in paths]

    def queryset(self, request, queryset):
        return queryset.filter(page=self.value()) if self.value() else queryset


class CommentFilter(admin.SimpleListFilter):
    title = _("comment")
    parameter_name = "comment"

    def lookups(self, request, model_admin):
        return [("yes", _("With a comment")), ("no", _("Without a comment"))]

    def queryset(self, request, queryset):
        match self.value():
            case "yes":
                return queryset.exclude(comment="")
            case "no":
                return queryset.filter(comment="")
        return queryset


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ["created", "page_link", "answer", "comment"]
    list_filter = [PageFilter, "helpful", CommentFilter, "created"]
    search_fields = ["comment"]
    date_hierarchy = "created"
    fields = ["page", "helpful", "comment", "created"]
    list_per_page = 50

    @admin.display(description=_("page"), ordering="page")
    def page_link(self, obj):
        return format_html('<a href="{}">{}</a>', obj.page, obj.page)

    @admin.display(description=_("helpful?"), ordering="helpful")
    def answer(self, obj):
        return _("Yes") if obj.helpful else _("No")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:  # the counts of the answers the filters select, on every page of the list
            response.context_data["answer_counts"] = answer_counts(changelist.queryset)
        return response
