from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from mesoinfo.admin import ContentAdmin

from .integrity import admin_url, label
from .models import Reference


def linked_list(objects, empty):
    if not objects:
        return empty
    return format_html(
        "<ul>{}</ul>",
        format_html_join("", '<li><a href="{}">{}</a></li>', ((admin_url(obj), label(obj)) for obj in objects)),
    )


class CitingAdminMixin:
    """For admins of content that cites: shows the references its text cites."""

    @admin.display(description=_("references cited"))
    def cited_references(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return linked_list(list(obj.cites.all()), _("None yet. Cite with [@key] in the text boxes above."))


@admin.register(Reference)
class ReferenceAdmin(ContentAdmin):
    list_display = ["key", "short_title", "source", "year", "pmid", "doi"]
    list_filter = ["year", "source"]
    search_fields = ["key", "authors", "title", "source", "pmid", "doi"]
    readonly_fields = ["formatted_citation", "cited_in"]
    fieldsets = [
        (None, {"fields": ["key", "authors", "title", "source", "formatted_citation"]}),
        (_("Where it was published"), {"fields": ["year", "volume", "issue", "pages", "note"]}),
        (
            _("Identifiers"),
            {
                "fields": ["pmid", "doi", "url"],
                "description": _("Enter only identifiers you have checked in PubMed or at doi.org."),
            },
        ),
        (_("Where it is cited"), {"fields": ["cited_in"]}),
    ]

    @admin.display(description=_("title"))
    def short_title(self, obj):
        return obj.title if len(obj.title) <= 90 else f"{obj.title[:87]}…"

    @admin.display(description=_("as readers see it"))
    def formatted_citation(self, obj):
        return obj.citation() if obj.pk else "—"

    @admin.display(description=_("cited in"))
    def cited_in(self, obj):
        if obj.pk is None:
            return "—"
        return linked_list(obj.used_by(), _("Not cited anywhere yet."))

    def get_deleted_objects(self, objs, request):
        """A cited reference cannot be deleted: the admin lists where it is cited instead."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for reference in objs:
            protected += [format_html("{} cites {}", label(user), reference.key) for user in reference.used_by()]
        return deleted, counts, perms_needed, protected
