from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from markdownx.models import MarkdownxField
from markdownx.widgets import AdminMarkdownxWidget

from .models import Drug, NextLink, Overview, Regimen, RegimenDrug, TreatmentOption, Trial, TrialOutcome

# Every Markdown field gets the live-preview editor, in change forms and inlines alike.
MARKDOWN_EDITOR = {MarkdownxField: {"widget": AdminMarkdownxWidget}}


class TreatmentOptionInline(admin.StackedInline):
    model = TreatmentOption
    extra = 0
    formfield_overrides = MARKDOWN_EDITOR
    autocomplete_fields = ["drugs", "trials"]
    prepopulated_fields = {"slug": ["heading"]}
    fields = ["position", "modality", "heading", "slug", "body", "drugs", "trials", "trials_caption"]
    show_change_link = True


class NextLinkInline(admin.TabularInline):
    model = NextLink
    fk_name = "overview"
    extra = 0
    autocomplete_fields = ["target"]
    fields = ["position", "label", "target"]


@admin.register(Overview)
class OverviewAdmin(admin.ModelAdmin):
    list_display = ["title", "stage_label", "position", "section_count"]
    list_editable = ["position"]
    search_fields = ["title", "summary", "intro"]
    prepopulated_fields = {"slug": ["title"]}
    formfield_overrides = MARKDOWN_EDITOR
    inlines = [TreatmentOptionInline, NextLinkInline]
    fieldsets = [
        (None, {"fields": ["title", "stage_label", "summary", "intro"]}),
        (_("Advanced options"), {"classes": ["collapse"], "fields": ["slug", "position"]}),
    ]

    @admin.display(description=_("sections"))
    def section_count(self, obj):
        return obj.sections.count()


@admin.register(TreatmentOption)
class TreatmentOptionAdmin(admin.ModelAdmin):
    list_display = ["heading", "overview", "modality", "position"]
    list_filter = ["modality", "overview"]
    list_select_related = ["overview"]
    search_fields = ["heading", "body"]
    autocomplete_fields = ["overview", "drugs", "trials"]
    prepopulated_fields = {"slug": ["heading"]}
    formfield_overrides = MARKDOWN_EDITOR
    fields = ["overview", "position", "modality", "heading", "slug", "body", "drugs", "trials", "trials_caption"]


@admin.register(Drug)
class DrugAdmin(admin.ModelAdmin):
    list_display = ["generic_name", "brands", "drug_class"]
    search_fields = ["generic_name", "brand_names", "drug_class"]
    prepopulated_fields = {"slug": ["generic_name"]}
    formfield_overrides = MARKDOWN_EDITOR
    fields = ["generic_name", "brand_names", "slug", "drug_class", "how_it_works", "approval_note"]

    @admin.display(description=_("brand names"))
    def brands(self, obj):
        return ", ".join(obj.brand_names_display) or "—"


class RegimenDrugInline(admin.TabularInline):
    model = RegimenDrug
    extra = 0
    autocomplete_fields = ["drug"]
    fields = ["position", "drug"]


@admin.register(Regimen)
class RegimenAdmin(admin.ModelAdmin):
    list_display = ["name", "is_standard", "drug_list"]
    list_filter = ["is_standard"]
    search_fields = ["name", "drugs__generic_name", "drugs__brand_names"]
    inlines = [RegimenDrugInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("regimen_drugs__drug")

    @admin.display(description=_("drugs, in order"))
    def drug_list(self, obj):
        return " + ".join(item.drug.generic_name for item in obj.regimen_drugs.all())


class TrialOutcomeInline(admin.TabularInline):
    model = TrialOutcome
    extra = 0
    fields = ["position", "measure", "population", "value", "is_key_result"]


@admin.register(Trial)
class TrialAdmin(admin.ModelAdmin):
    list_display = ["title", "phase", "status", "patient_count", "regimen"]
    list_filter = ["phase", "status"]
    list_select_related = ["regimen"]
    search_fields = ["title", "design", "summary", "regimen__name", "drugs__generic_name"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["regimen", "drugs", "references"]
    formfield_overrides = MARKDOWN_EDITOR
    inlines = [TrialOutcomeInline]
    fields = [
        "title",
        "slug",
        "phase",
        "design",
        "status",
        "patient_count",
        "regimen",
        "drugs",
        "summary",
        "references",
    ]
