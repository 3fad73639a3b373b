"""What every content admin shares: the Markdown editor, edit-conflict checks,
and history with a readable compare view.
"""

import copy
import difflib
import re

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from markdownx.models import MarkdownxField
from markdownx.widgets import AdminMarkdownxWidget
from simple_history.admin import SimpleHistoryAdmin

from .concurrency import VersionCheckedForm
from .markdown import READING_GRADE_TARGET, readability

# Every Markdown field gets the live-preview editor, in change forms and inlines alike.
MARKDOWN_EDITOR = {
    MarkdownxField: {"widget": AdminMarkdownxWidget},
    # A URL typed without a scheme is taken as https (Django 6's default).
    models.URLField: {"assume_scheme": "https"},
}

_TOKEN_RE = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(old, new):
    """Inline HTML diff of two texts, word by word: <del> for removed, <ins> for added."""
    old_words, new_words = _TOKEN_RE.findall(old or ""), _TOKEN_RE.findall(new or "")
    parts = []
    matcher = difflib.SequenceMatcher(a=old_words, b=new_words, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(escape("".join(old_words[a1:a2])))
            continue
        if op in ("delete", "replace"):
            parts.append(f"<del>{escape(''.join(old_words[a1:a2]))}</del>")
        if op in ("insert", "replace"):
            parts.append(f"<ins>{escape(''.join(new_words[b1:b2]))}</ins>")
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text is escaped above


def _version_id(request, name):
    """A version number from the query string; anything but digits is a version that does not exist (404)."""
    value = request.GET.get(name, "")
    if value and not (value.isascii() and value.isdigit()):
        raise Http404(f"No version {value!r}.")
    return int(value) if value else None


class ReadabilityAdminMixin:
    """Reading grade and reading time of every Markdown field: a list column and a change-form panel.

    The target is grade 8 or below; the live preview under each text box shows the same figures.
    """

    @admin.display(description=_("reading grade"))
    def reading_grade(self, obj):
        report = readability(getattr(obj, obj.markdown_fields[0]))
        if report is None:
            return "—"
        return f"{report.grade:.1f}" if report.on_target else f"{report.grade:.1f} (above {READING_GRADE_TARGET})"

    @admin.display(description=_("readability"))
    def readability_report(self, obj):
        if obj is None or obj.pk is None:
            return _("Shown after the first save, and live under each text box as you type.")
        rows = []
        for name in obj.markdown_fields:
            report = readability(getattr(obj, name))
            if report is not None:
                rows.append((obj._meta.get_field(name).verbose_name.capitalize(), str(report)))
        if not rows:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {}</li>", rows))


def _with_version_token(fieldsets):
    fieldsets = copy.deepcopy(list(fieldsets))
    name, options = fieldsets[0]
    options["fields"] = [*options["fields"], "version_token"]
    return fieldsets


class VersionTokenMixin:
    """Adds the hidden edit-conflict token to change forms and inline forms."""

    form = VersionCheckedForm

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        return _with_version_token(fieldsets)


class ContentAdmin(VersionTokenMixin, SimpleHistoryAdmin):
    formfield_overrides = MARKDOWN_EDITOR
    object_history_template = "admin/history/object_history.html"
    object_history_list_template = "admin/history/object_history_list.html"

    def get_urls(self):
        opts = self.model._meta
        compare = path(
            "<path:object_id>/history/compare/",
            self.admin_site.admin_view(self.history_compare_view),
            name=f"{opts.app_label}_{opts.model_name}_history_compare",
        )
        # Before simple-history's own "<id>/history/<version>/" pattern, which would swallow it.
        return [compare, *super().get_urls()]

    def history_compare_view(self, request, object_id):
        obj = get_object_or_404(self.model, pk=object_id)
        if not self.has_view_history_or_change_history_permission(request, obj):
            raise PermissionDenied
        records = obj.history.order_by("-history_date", "-history_id")
        newest = list(records[:2])
        new = get_object_or_404(records, history_id=_version_id(request, "new") or newest[0].history_id)
        old_id = _version_id(request, "old") or (newest[1].history_id if len(newest) > 1 else new.history_id)
        old = get_object_or_404(records, history_id=old_id)
        if old.history_date > new.history_date:
            old, new = new, old
        changes = []
        for change in new.diff_against(old, foreign_keys_are_objs=True).changes:
            field = self.model._meta.get_field(change.field)
            if isinstance(field, models.TextField | models.CharField) and not field.choices:
                rendered = word_diff(change.old, change.new)
                changes.append({"label": field.verbose_name, "diff": rendered, "old": None, "new": None})
            else:
                changes.append({"label": field.verbose_name, "diff": None, "old": change.old, "new": change.new})
        context = {
            **self.admin_site.each_context(request),
            "title": _("Compare versions of %(obj)s") % {"obj": obj},
            "opts": self.model._meta,
            "object": obj,
            "old": old,
            "new": new,
            "changes": changes,
            "records": records,
        }
        return TemplateResponse(request, "admin/history/compare.html", context)
