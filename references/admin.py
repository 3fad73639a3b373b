from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from mesoinfo.admin import ContentAdmin

from .models import Reference


@admin.register(Reference)
class ReferenceAdmin(ContentAdmin):
    list_display = ["key", "short_title", "source", "year", "pmid", "doi"]
    list_filter = ["year", "source"]
    search_fields = ["key", "authors", "title", "source", "pmid", "doi"]
    readonly_fields = ["formatted_citation"]
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
    ]

    @admin.display(description=_("title"))
    def short_title(self, obj):
        return obj.title if len(obj.title) <= 90 else f"{obj.title[:87]}…"

    @admin.display(description=_("as readers see it"))
    def formatted_citation(self, obj):
        return obj.citation() if obj.pk else "—"
