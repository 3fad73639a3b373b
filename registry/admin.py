"""Registry studies in the admin: read-only, as the sync wrote them.

The one thing staff may change is whether a study is on the public list: a
medical reviewer (change permission, see treatments/roles.py) can hide it,
with a reason that is kept, or show it again. Nobody adds or deletes studies
here; the sync does.
"""

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .models import OPEN_STATUSES, RegistryStudy, RegistrySync

DATA_FIELDS = [
    "nct_id", "brief_title", "official_title", "overall_status", "phases", "study_type", "conditions",
    "enrollment", "sponsor", "start_date", "last_update_posted", "minimum_age", "maximum_age", "sex",
    "eligibility_criteria", "intervention_list", "location_list", "registry_link", "fetched_at", "closed_at",
]  # fmt: skip


class PublicListFilter(admin.SimpleListFilter):
    title = _("public list")
    parameter_name = "listed"

    def lookups(self, request, model_admin):
        return [
            ("yes", _("On the public list")),
            ("hidden", _("Hidden by a reviewer")),
            ("closed", _("Closed (no longer in the open results)")),
            ("not-open", _("Not recruiting (kept for our trials)")),
        ]

    def queryset(self, request, queryset):
        match self.value():
            case "yes":
                return queryset.public()
            case "hidden":
                return queryset.filter(hidden=True)
            case "closed":
                return queryset.filter(closed_at__isnull=False)
            case "not-open":
                return queryset.filter(closed_at__isnull=True).exclude(overall_status__in=OPEN_STATUSES)
        return queryset


@admin.register(RegistryStudy)
class RegistryStudyAdmin(admin.ModelAdmin):
    list_display = ["nct_id", "brief_title", "overall_status", "phase_list", "last_update_posted", "listed"]
    list_filter = [PublicListFilter, "overall_status", "study_type", "interventions__type", "last_update_posted"]
    search_fields = ["nct_id", "brief_title", "official_title", "sponsor", "locations__country"]
    readonly_fields = [*DATA_FIELDS, "hidden_by", "hidden_at"]
    fieldsets = [
        (None, {"fields": ["nct_id", "registry_link", "brief_title", "official_title", "overall_status"]}),
        (
            _("Study"),
            {
                "fields": [
                    "phases",
                    "study_type",
                    "conditions",
                    "enrollment",
                    "sponsor",
                    "start_date",
                    "last_update_posted",
                    "intervention_list",
                    "location_list",
                ]  # fmt: skip
            },
        ),
        (_("Who can join"), {"fields": ["minimum_age", "maximum_age", "sex", "eligibility_criteria"]}),
        (_("Sync"), {"fields": ["fetched_at", "closed_at"]}),
        (
            _("Public list"),
            {
                "fields": ["hidden", "hidden_reason", "hidden_by", "hidden_at"],
                "description": _("Hide a study from “Find a clinical trial”, e.g. if it is not about mesothelioma."),
            },
        ),
    ]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("interventions", "locations")

    def save_model(self, request, obj, form, change):
        if "hidden" in form.changed_data and obj.hidden:
            obj.hidden_by, obj.hidden_at = request.user, timezone.now()
        super().save_model(request, obj, form, change)

    @admin.display(description=_("phases"))
    def phase_list(self, obj):
        return ", ".join(obj.phase_labels) or "—"

    @admin.display(description=_("on the public list"), boolean=True)
    def listed(self, obj):
        return obj.closed_at is None and not obj.hidden and obj.overall_status in OPEN_STATUSES

    @admin.display(description=_("enrollment"))
    def enrollment(self, obj):
        if obj.enrollment_count is None:
            return "—"
        return (
            f"{obj.enrollment_count} ({obj.get_enrollment_type_display()})"
            if obj.enrollment_type
            else obj.enrollment_count
        )

    @admin.display(description=_("interventions"))
    def intervention_list(self, obj):
        return (
            format_html_join("", "<div>{}: {}</div>", ((i.type_label, i.name) for i in obj.interventions.all())) or "—"
        )

    @admin.display(description=_("locations"))
    def location_list(self, obj):
        return format_html_join("", "<div>{}</div>", ((str(place),) for place in obj.locations.all())) or "—"

    @admin.display(description=_("on ClinicalTrials.gov"))
    def registry_link(self, obj):
        return format_html('<a href="{}">{}</a>', obj.registry_url, obj.registry_url)


@admin.register(RegistrySync)
class RegistrySyncAdmin(admin.ModelAdmin):
    list_display = ["started_at", "succeeded", "source", "studies", "added", "changed", "closed", "error"]
    list_filter = ["succeeded"]
    date_hierarchy = "started_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
