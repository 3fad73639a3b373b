import datetime

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from mesoinfo.admin import MARKDOWN_EDITOR, ContentAdmin, ReadabilityAdminMixin, VersionTokenMixin
from mesoinfo.concurrency import VersionCheckedForm
from references.admin import CitingAdminMixin

from .models import (
    Drug,
    GlossaryTerm,
    NextLink,
    Overview,
    Regimen,
    RegimenDrug,
    ReviewerProfile,
    Status,
    TreatmentOption,
    Trial,
    TrialOutcome,
)

REVIEW_FIELDS = ["status", "publish_at", "review_due", "reviewed_by", "reviewed_on", "last_published_at"]
# Fields only a medical reviewer may set; editors see them read-only.
REVIEWER_ONLY_FIELDS = ["status", "review_due"]
ALWAYS_READ_ONLY = ["reviewed_by", "reviewed_on", "last_published_at"]


def can_publish(request, model):
    opts = model._meta
    return request.user.has_perm(f"{opts.app_label}.publish_{opts.model_name}")


def stored_status(obj):
    if obj.pk is None:
        return None
    return type(obj).objects.filter(pk=obj.pk).values_list("status", flat=True).first()


def apply_workflow(request, obj, changed, *, submit=False, reverting=False):
    """Decide the status a save leaves `obj` in. The one place the publication rules live.

    - A reverted version always goes back to review: only a reviewer's publish makes it public.
    - A reviewer saving published content vouches for it: their review is recorded.
    - Anyone else's change to published or archived content sends it back to review.
    - "Send for review" moves a draft on to review.
    """
    reviewer = can_publish(request, type(obj))
    before = stored_status(obj)
    if reverting:
        obj.status = Status.IN_REVIEW
    elif obj.status == Status.PUBLISHED and reviewer and (changed or before != Status.PUBLISHED):
        obj.publish(request.user)
    elif not reviewer and changed and before in (Status.PUBLISHED, Status.ARCHIVED):
        obj.status = Status.IN_REVIEW
    if submit and obj.status == Status.DRAFT:
        obj.status = Status.IN_REVIEW


class ReviewStateFilter(admin.SimpleListFilter):
    title = _("medical review")
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [
            ("awaiting", _("Awaiting review")),
            ("overdue", _("Review overdue")),
            ("due-soon", _("Review due within 30 days")),
            ("never", _("Never reviewed")),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        match self.value():
            case "awaiting":
                return queryset.awaiting_review()
            case "overdue":
                return queryset.review_overdue()
            case "due-soon":
                return queryset.filter(review_due__gte=today, review_due__lte=today + datetime.timedelta(days=30))
            case "never":
                return queryset.filter(reviewed_on__isnull=True)
        return queryset


class WorkflowForm(VersionCheckedForm):
    submit_for_review = forms.BooleanField(
        label=_("Send for medical review when I save"),
        required=False,
        help_text=_("A medical reviewer then checks it and publishes it."),
    )


class PublishableAdmin(ReadabilityAdminMixin, CitingAdminMixin, ContentAdmin):
    """Admin for content with a publication status, enforcing who may publish on the server."""

    form = WorkflowForm
    list_filter = ["status", ReviewStateFilter]
    actions = ["send_for_review", "publish_selected", "archive_selected", "return_to_draft"]
    review_fieldset = (
        _("Publication and medical review"),
        {"fields": [*REVIEW_FIELDS, "submit_for_review"]},
    )

    def get_fieldsets(self, request, obj=None):
        cited = (_("References cited"), {"fields": ["cited_references"]})
        reading = (_("Readability (target: grade 8 or below)"), {"fields": ["readability_report"]})
        return [*super().get_fieldsets(request, obj), reading, cited, self.review_fieldset]

    def get_fields(self, request, obj=None):
        workflow = {*REVIEW_FIELDS, "submit_for_review", "version_token", "cited_references", "readability_report"}
        return [name for name in super().get_fields(request, obj) if name not in workflow]

    def get_readonly_fields(self, request, obj=None):
        readonly = [
            *super().get_readonly_fields(request, obj),
            *ALWAYS_READ_ONLY,
            "cited_references",
            "readability_report",
        ]
        if not can_publish(request, self.model):
            readonly += REVIEWER_ONLY_FIELDS
        return readonly

    def has_publish_permission(self, request):
        return can_publish(request, self.model)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.status == Status.PUBLISHED and not can_publish(request, self.model):
            messages.warning(
                request,
                _(
                    "This is live on the public site. If you save changes, it leaves the site until a "
                    "medical reviewer publishes it again."
                ),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        apply_workflow(
            request,
            obj,
            changed=not change or form.has_changed(),
            submit=form.cleaned_data.get("submit_for_review", False),
            reverting=getattr(request, "mesoinfo_reverting", False),
        )
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # A change made only in the parts (trial results, "Read next" links) is a change to the content too.
        parts_changed = any(fs.has_changed() for fs in formsets if not issubclass(fs.model, tuple(PUBLISHABLE)))
        if change and parts_changed and not form.has_changed():
            obj = form.instance
            before = (obj.status, obj.last_published_at)
            apply_workflow(request, obj, changed=True)
            if (obj.status, obj.last_published_at) != before:
                obj._change_reason = "Parts of it changed"
                obj.save()

    def save_formset(self, request, form, formset, change):
        # Inline parts that are publishable themselves (sections) follow the same rules.
        if not issubclass(formset.model, tuple(PUBLISHABLE)):
            return super().save_formset(request, form, formset, change)
        for inline_form in formset.forms:
            if inline_form in formset.deleted_forms or not inline_form.has_changed():
                continue
            apply_workflow(request, inline_form.instance, changed=True)
        return super().save_formset(request, form, formset, change)

    def _transition(self, request, queryset, change, reason):
        done = 0
        for obj in queryset:
            change(obj)
            obj._change_reason = reason
            obj._history_user = request.user
            obj.save()
            done += 1
        self.message_user(request, _("%(count)d item(s): %(reason)s.") % {"count": done, "reason": reason})

    @admin.action(description=_("Send for medical review"), permissions=["change"])
    def send_for_review(self, request, queryset):
        self._transition(
            request,
            queryset.filter(status=Status.DRAFT),
            lambda obj: setattr(obj, "status", Status.IN_REVIEW),
            "sent for medical review",
        )

    @admin.action(description=_("Publish — records your medical review"), permissions=["publish"])
    def publish_selected(self, request, queryset):
        self._transition(request, queryset, lambda obj: obj.publish(request.user), "published after medical review")

    @admin.action(description=_("Unpublish (archive)"), permissions=["publish"])
    def archive_selected(self, request, queryset):
        self._transition(request, queryset, lambda obj: setattr(obj, "status", Status.ARCHIVED), "archived")

    @admin.action(description=_("Return to draft"), permissions=["publish"])
    def return_to_draft(self, request, queryset):
        self._transition(request, queryset, lambda obj: setattr(obj, "status", Status.DRAFT), "returned to draft")


class TreatmentOptionInline(VersionTokenMixin, admin.StackedInline):
    model = TreatmentOption
    extra = 0
    formfield_overrides = MARKDOWN_EDITOR
    autocomplete_fields = ["drugs", "trials"]
    prepopulated_fields = {"slug": ["heading"]}
    fields = ["position", "modality", "heading", "slug", "status", "body", "drugs", "trials", "trials_caption"]
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return [] if can_publish(request, TreatmentOption) else ["status"]


class NextLinkInline(admin.TabularInline):
    model = NextLink
    fk_name = "overview"
    extra = 0
    autocomplete_fields = ["target"]
    fields = ["position", "label", "target"]


@admin.register(Overview)
class OverviewAdmin(PublishableAdmin):
    list_display = ["title", "stage_label", "status", "review_due", "reading_grade", "position", "section_count"]
    search_fields = ["title", "summary", "intro"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [TreatmentOptionInline, NextLinkInline]
    fieldsets = [
        (None, {"fields": ["title", "stage_label", "summary", "intro"]}),
        (_("Advanced options"), {"classes": ["collapse"], "fields": ["slug", "position"]}),
    ]

    @admin.display(description=_("sections"))
    def section_count(self, obj):
        return obj.sections.count()


@admin.register(TreatmentOption)
class TreatmentOptionAdmin(PublishableAdmin):
    list_display = ["heading", "overview", "modality", "status", "review_due", "reading_grade", "position"]
    list_filter = ["modality", "overview", *PublishableAdmin.list_filter]
    list_select_related = ["overview"]
    search_fields = ["heading", "body"]
    autocomplete_fields = ["overview", "drugs", "trials"]
    prepopulated_fields = {"slug": ["heading"]}
    fields = ["overview", "position", "modality", "heading", "slug", "body", "drugs", "trials", "trials_caption"]


@admin.register(Drug)
class DrugAdmin(PublishableAdmin):
    list_display = ["generic_name", "brands", "drug_class", "status", "review_due", "reading_grade"]
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
class RegimenAdmin(ContentAdmin):
    list_display = ["name", "is_standard", "drug_list"]
    list_filter = ["is_standard"]
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
        "status",
        "review_due",
        "reading_grade",
    ]
    list_filter = ["phase", "trial_status", *PublishableAdmin.list_filter]
    list_select_related = ["regimen"]
    search_fields = ["title", "nct_id", "design", "summary", "regimen__name", "drugs__generic_name"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["regimen", "drugs", "references"]
    inlines = [TrialOutcomeInline]
    fields = [
        "title", "slug", "nct_id", "phase", "design", "trial_status", "patient_count", "regimen", "drugs", "summary",
        "references",
    ]  # fmt: skip


@admin.register(GlossaryTerm)
class GlossaryTermAdmin(ReadabilityAdminMixin, CitingAdminMixin, ContentAdmin):
    list_display = ["term", "other_forms", "pronunciation", "reading_grade"]
    search_fields = ["term", "other_forms", "definition"]
    prepopulated_fields = {"slug": ["term"]}
    readonly_fields = ["cited_references", "readability_report"]
    fields = ["term", "slug", "other_forms", "pronunciation", "definition", "readability_report", "cited_references"]


@admin.register(ReviewerProfile)
class ReviewerProfileAdmin(SimpleHistoryAdmin):
    list_display = ["display_name", "credentials", "user"]
    search_fields = ["display_name", "credentials", "user__username"]
    autocomplete_fields = ["user"]


PUBLISHABLE = [Overview, TreatmentOption, Drug, Trial]
