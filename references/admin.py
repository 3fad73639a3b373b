from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from editorial.admin import DraftAdmin, WorkflowForm

from . import pending
from .importing import FORMAT_NAMES, decode, detect_format, find_existing, parse, plan_import, reference_import
from .integrity import admin_url, label
from .models import Reference

MAX_IMPORT_BYTES = 20 * 1024 * 1024


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


class ReferenceForm(WorkflowForm):
    def clean(self):
        cleaned_data = super().clean()
        fields = {name: cleaned_data.get(name) for name in ("title", "year", "pmid", "doi")}
        match = find_existing({k: v for k, v in fields.items() if v is not None}, exclude_pk=self.instance.pk)
        if match:
            rule, existing = match
            self.add_error(
                {"PMID": "pmid", "DOI": "doi"}.get(rule, "title"),
                format_html(
                    'The library already has this work (same {}): <a href="{}">{}</a>. '
                    "Edit or cite that reference instead of adding a copy.",
                    rule,
                    admin_url(existing),
                    existing.key,
                ),
            )
        return cleaned_data


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        required=False,
        help_text=_("A .nbib/.txt (PubMed), .ris or .bib file, UTF-8, up to 20 MB and 20,000 records."),
    )
    text = forms.CharField(
        label=_("…or paste the records"), required=False, widget=forms.Textarea(attrs={"rows": 12, "cols": 100})
    )
    format = forms.ChoiceField(
        label=_("Format"), choices=[("", _("Detect automatically")), *FORMAT_NAMES.items()], required=False
    )

    def clean(self):
        cleaned_data = super().clean()
        upload = cleaned_data.get("file")
        if upload is not None:
            if upload.size > MAX_IMPORT_BYTES:
                raise forms.ValidationError(_("The file is larger than 20 MB. Split it into smaller files."))
            try:
                cleaned_data["text"] = decode(upload.read())
            except ValueError as error:
                raise forms.ValidationError(str(error)) from error
        if not (cleaned_data.get("text") or "").strip():
            raise forms.ValidationError(_("Choose a file or paste some records."))
        try:
            cleaned_data["format"] = cleaned_data.get("format") or detect_format(cleaned_data["text"])
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error
        return cleaned_data


@admin.register(Reference)
class ReferenceAdmin(DraftAdmin):
    form = ReferenceForm
    change_list_template = "admin/references/reference/change_list.html"
    list_display = ["key", "short_title", "source", "year", "pmid", "doi", "state"]
    list_filter = [*DraftAdmin.list_filter, "year", "source"]
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

    def get_urls(self):
        opts = self.model._meta
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name=f"{opts.app_label}_{opts.model_name}_import"), *super().get_urls()]

    def import_view(self, request):
        """Upload or paste → preview of what will be created, what exists, what is malformed → confirm.

        The preview keeps the file server-side (references/pending.py); confirming names it, never re-posts it.
        """
        if not self.has_add_permission(request):
            raise PermissionDenied
        form, plan, token = ImportForm(request.POST or None, request.FILES or None), None, None
        if request.method == "POST" and "confirm" in request.POST:
            try:
                text, fmt = pending.take(request, request.POST.get("token"))
                plan = plan_import(parse(text, fmt))
                created = reference_import(plan, user=request.user)
            except ValueError as error:
                messages.error(request, str(error))
                return redirect("admin:references_reference_import")
            pending.discard(request, request.POST.get("token"))
            messages.success(
                request,
                _(
                    "Import finished: %(summary)s. The new references are drafts: a medical reviewer publishes them, "
                    "together with the pages that cite them."
                )
                % {"summary": plan.summary(len(created))},
            )
            return redirect("admin:references_reference_changelist")
        if request.method == "POST" and form.is_valid():
            text, fmt = form.cleaned_data["text"], form.cleaned_data["format"]
            try:
                plan = plan_import(parse(text, fmt))
            except ValueError as error:
                form.add_error(None, str(error))
            else:
                token = pending.keep(request, text, fmt) if plan.new else None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import references"),
            "opts": self.model._meta,
            "form": form,
            "plan": plan,
            "token": token,
            "max_file_mb": MAX_IMPORT_BYTES // (1024 * 1024),
            "max_paste_mb": settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024),
            "changelist_url": reverse("admin:references_reference_changelist"),
        }
        return TemplateResponse(request, "admin/references/reference/import.html", context)

    def get_deleted_objects(self, objs, request):
        """A cited reference cannot be deleted: the admin lists where it is cited instead."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for reference in objs:
            protected += [format_html("{} cites {}", label(user), reference.key) for user in reference.used_by()]
        return deleted, counts, perms_needed, protected
