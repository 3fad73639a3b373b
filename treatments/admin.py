from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from editorial.admin import DraftAdmin
from mesoinfo.admin import MARKDOWN_EDITOR, ReadabilityAdminMixin, VersionTokenMixin
from references.admin import CitingAdminMixin

from .models import (
    Drug,
    GlossaryTerm,
    NextLink,
    Overview,
    Question,
    Regimen,
    RegimenDrug,
    ReviewerProfile,
    TreatmentOption,
    Trial,
    TrialOutcome,
)


class PublishableAdmin(ReadabilityAdminMixin, CitingAdminMixin, DraftAdmin):
    """Admin for Markdown content that cites: drafts, review, readability and the references it cites."""

    def get_fieldsets(self, request, obj=None):
        cited = (_("References cited"), {"fields": ["cited_references"]})
        reading = (_("Readability (target: grade 8 or below)"), {"fields": ["readability_report"]})
        *content, review = super().get_fieldsets(request, obj)
        return [*content, reading, cited, review]

    def get_fields(self, request, obj=None):
        return [f for f in super().get_fields(request, obj) if f not in ("cited_references", "readability_report")]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "cited_references", "readability_report"]


class TreatmentOptionInline(VersionTokenMixin, admin.StackedInline):
    """Sections edited on their page: each saved section becomes its own draft, reviewed with the page."""

    model = TreatmentOption
    extra = 0
    formfield_overrides = MARKDOWN_EDITOR
    autocomplete_fields = ["drugs", "trials"]
    prepopulated_fields = {"slug": ["heading"]}
    fields = ["position", "modality", "heading", "slug", "state", "body", "drugs", "trials", "trials_caption"]
    readonly_fields = ["state"]
    show_change_link = True
    can_delete = False  # a medical reviewer deletes a section from its own page

    @admin.display(description=_("state"))
    def state(self, obj):
        return obj.editorial_state if obj.pk else _("New")


class QuestionInline(VersionTokenMixin, admin.TabularInline):
    """ "Questions to ask your care team", edited on their page: each saved question becomes its own draft."""

    model = Question
    extra = 0
    fields = ["position", "text", "state"]
    readonly_fields = ["state"]
    show_change_link = True
    can_delete = False  # a medical reviewer takes a question off the page (Questions to ask → Unpublish)

    @admin.display(description=_("state"))
    def state(self, obj):
        return obj.editorial_state if obj.pk else _("New")


class NextLinkInline(admin.TabularInline):
    model = NextLink
    fk_name = "overview"
    extra = 0
    autocomplete_fields = ["target"]
    fields = ["position", "label", "target"]


@admin.register(Overview)
class OverviewAdmin(PublishableAdmin):
    list_display = ["title", "stage_label", "state", "review_due", "reading_grade", "position", "section_count"]
    search_fields = ["title", "summary", "intro"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [TreatmentOptionInline, QuestionInline, NextLinkInline]
    fieldsets = [
        (None, {"fields": ["title", "stage_label", "summary", "intro"]}),
        (_("Advanced options"), {"classes": ["collapse"], "fields": ["slug", "position"]}),
    ]

    @admin.display(description=_("sections"))
    def section_count(self, obj):
        return obj.sections.count()


@admin.register(TreatmentOption)
class TreatmentOptionAdmin(PublishableAdmin):
    list_display = ["heading", "overview", "modality", "state", "review_due", "reading_grade", "position"]
    list_filter = ["modality", "overview", *PublishableAdmin.list_filter]
    list_select_related = ["overview", "draft_revision"]
    search_fields = ["heading", "body"]
    autocomplete_fields = ["overview", "drugs", "trials"]
    prepopulated_fields = {"slug": ["heading"]}
    fields = ["overview", "position", "modality", "heading", "slug", "body", "drugs", "trials", "trials_caption"]


@admin.register(Question)
class QuestionAdmin(DraftAdmin):
    list_display = ["text", "overview", "state", "review_due", "position"]
    list_filter = ["overview", *DraftAdmin.list_filter]
    list_select_related = ["overview", "draft_revision"]
    search_fields = ["text"]
    autocomplete_fields = ["overview"]
    fields = ["overview", "position", "text"]


@admin.register(Drug)
class DrugAdmin(PublishableAdmin):
    list_display = ["generic_name", "brands", "drug_class", "state", "review_due", "reading_grade"]
    search_fields = ["generic_name", "brand_names", "drug_class"]
    prepopulated_fields = {"slug": ["generic_name"]}
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
class RegimenAdmin(DraftAdmin):
    list_display = ["name", "is_standard", "drug_list", "state"]
    list_filter = ["is_standard", *DraftAdmin.list_filter]
    search_fields = ["name", "drugs__generic_name", "drugs__brand_names"]
    inlines = [RegimenDrugInline]
    fields = ["name", "is_standard", "note"]

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
class TrialAdmin(PublishableAdmin):
    list_display = [
        "title",
        "phase",
        "trial_status",
        "patient_count",
        "regimen",
        "state",
        "review_due",
        "reading_grade",
    ]
    list_filter = ["phase", "trial_status", *PublishableAdmin.list_filter]
    list_select_related = ["regimen", "draft_revision"]
    search_fields = ["title", "nct_id", "design", "summary", "regimen__name", "drugs__generic_name"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["regimen", "drugs", "references"]
    inlines = [TrialOutcomeInline]
    fields = [
        "title", "slug", "nct_id", "phase", "design", "trial_status", "patient_count", "regimen", "drugs", "summary",
        "references",
    ]  # fmt: skip


@admin.register(GlossaryTerm)
class GlossaryTermAdmin(PublishableAdmin):
    list_display = ["term", "other_forms", "pronunciation", "state", "reading_grade"]
    search_fields = ["term", "other_forms", "definition"]
    prepopulated_fields = {"slug": ["term"]}
    fields = ["term", "slug", "other_forms", "pronunciation", "definition"]


@admin.register(ReviewerProfile)
class ReviewerProfileAdmin(DraftAdmin):
    list_display = ["display_name", "credentials", "user", "state"]
    search_fields = ["display_name", "credentials", "user__username"]
    autocomplete_fields = ["user"]
    fields = ["user", "display_name", "credentials"]
