"""Studies from the ClinicalTrials.gov registry, as the last sync found them.

Everything here is third-party text, stored as plain text (registry/mapping.py
strips any markup) and shown escaped, attributed to ClinicalTrials.gov with the
date we fetched it. It is never run through our Markdown, citation or glossary
processing. The sync (registry/sync.py) is the only writer, except a medical
reviewer's decision to hide a study from the public list.
"""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mesoinfo.nct import nct_url, validate_nct_id


class OverallStatus(models.TextChoices):
    """The registry's recruitment statuses (API v2 enum `Status`), in plain words."""

    RECRUITING = "RECRUITING", _("Recruiting now")
    NOT_YET_RECRUITING = "NOT_YET_RECRUITING", _("Not yet recruiting")
    ENROLLING_BY_INVITATION = "ENROLLING_BY_INVITATION", _("Enrolling by invitation only")
    ACTIVE_NOT_RECRUITING = "ACTIVE_NOT_RECRUITING", _("Active, not recruiting")
    SUSPENDED = "SUSPENDED", _("Suspended")
    TERMINATED = "TERMINATED", _("Terminated")
    COMPLETED = "COMPLETED", _("Completed")
    WITHDRAWN = "WITHDRAWN", _("Withdrawn")
    AVAILABLE = "AVAILABLE", _("Available")
    NO_LONGER_AVAILABLE = "NO_LONGER_AVAILABLE", _("No longer available")
    TEMPORARILY_NOT_AVAILABLE = "TEMPORARILY_NOT_AVAILABLE", _("Temporarily not available")
    APPROVED_FOR_MARKETING = "APPROVED_FOR_MARKETING", _("Approved for marketing")
    WITHHELD = "WITHHELD", _("Withheld")
    UNKNOWN = "UNKNOWN", _("Unknown status")


# The studies a patient could ask to join: what the sync asks the registry for, and what the public list shows.
OPEN_STATUSES = (OverallStatus.RECRUITING, OverallStatus.NOT_YET_RECRUITING)


class Phase(models.TextChoices):
    """API v2 enum `Phase`. A study may list two (phase 1/2)."""

    EARLY_PHASE1 = "EARLY_PHASE1", _("Early phase 1")
    PHASE1 = "PHASE1", _("Phase 1")
    PHASE2 = "PHASE2", _("Phase 2")
    PHASE3 = "PHASE3", _("Phase 3")
    PHASE4 = "PHASE4", _("Phase 4")
    NA = "NA", _("No phase (not a drug study)")


class StudyType(models.TextChoices):
    INTERVENTIONAL = "INTERVENTIONAL", _("Interventional (tests a treatment)")
    OBSERVATIONAL = "OBSERVATIONAL", _("Observational (watches, does not treat)")
    EXPANDED_ACCESS = "EXPANDED_ACCESS", _("Expanded access")


class EnrollmentType(models.TextChoices):
    ACTUAL = "ACTUAL", _("actual")
    ESTIMATED = "ESTIMATED", _("estimated")


class InterventionType(models.TextChoices):
    """API v2 enum `InterventionType`."""

    DRUG = "DRUG", _("Drug")
    BIOLOGICAL = "BIOLOGICAL", _("Biological (for example a vaccine)")
    RADIATION = "RADIATION", _("Radiation")
    PROCEDURE = "PROCEDURE", _("Procedure or surgery")
    DEVICE = "DEVICE", _("Device")
    BEHAVIORAL = "BEHAVIORAL", _("Behavioral")
    GENETIC = "GENETIC", _("Genetic")
    DIETARY_SUPPLEMENT = "DIETARY_SUPPLEMENT", _("Dietary supplement")
    COMBINATION_PRODUCT = "COMBINATION_PRODUCT", _("Combination product")
    DIAGNOSTIC_TEST = "DIAGNOSTIC_TEST", _("Diagnostic test")
    OTHER = "OTHER", _("Other")


class Sex(models.TextChoices):
    ALL = "ALL", _("All")
    FEMALE = "FEMALE", _("Female")
    MALE = "MALE", _("Male")


def label(choices, value):
    """The plain-words label of a registry code; a code we do not know yet is shown as the registry writes it."""
    try:
        return str(choices(value).label)
    except ValueError:
        return value.replace("_", " ").capitalize()


class RegistryStudyQuerySet(models.QuerySet):
    def public(self):
        """What the find page lists: open studies from the last sync, unless a reviewer hid them."""
        return self.filter(closed_at__isnull=True, hidden=False, overall_status__in=OPEN_STATUSES)

    def with_country(self, country):
        return self.filter(Exists(RegistryLocation.objects.filter(study=OuterRef("pk"), country=country)))

    def with_intervention_type(self, kind):
        return self.filter(Exists(RegistryIntervention.objects.filter(study=OuterRef("pk"), type=kind)))

    def with_phase(self, phase):
        # `phases` is a JSON list of codes; no code is a part of another once quoted ("PHASE1" vs "EARLY_PHASE1"),
        # and a text match works alike on SQLite and PostgreSQL (JSON containment does not exist on SQLite).
        return self.filter(phases__icontains=f'"{phase}"')


class RegistryStudy(models.Model):
    """One study on ClinicalTrials.gov, mapped from its API v2 record (registry/mapping.py)."""

    nct_id = models.CharField(_("NCT number"), max_length=11, unique=True, validators=[validate_nct_id])
    brief_title = models.CharField(_("brief title"), max_length=500)
    official_title = models.TextField(_("official title"), blank=True)
    overall_status = models.CharField(_("overall status"), max_length=40, choices=OverallStatus)
    phases = models.JSONField(_("phases"), default=list, blank=True)
    study_type = models.CharField(_("study type"), max_length=40, choices=StudyType, blank=True)
    conditions = models.JSONField(_("conditions"), default=list, blank=True)
    enrollment_count = models.PositiveIntegerField(_("enrollment"), null=True, blank=True)
    enrollment_type = models.CharField(_("enrollment type"), max_length=20, choices=EnrollmentType, blank=True)
    sponsor = models.CharField(_("lead sponsor"), max_length=500, blank=True)
    start_date = models.CharField(
        _("start date"), max_length=10, blank=True, help_text=_("As the registry gives it: year and month, or a date.")
    )
    last_update_posted = models.DateField(_("last update posted"), null=True, blank=True)
    minimum_age = models.CharField(_("minimum age"), max_length=40, blank=True)
    maximum_age = models.CharField(_("maximum age"), max_length=40, blank=True)
    sex = models.CharField(_("sex"), max_length=10, choices=Sex, blank=True)
    eligibility_criteria = models.TextField(_("eligibility criteria"), blank=True, help_text=_("Plain text."))

    fetched_at = models.DateTimeField(_("fetched"), help_text=_("When this record was last read from the registry."))
    content_hash = models.CharField(max_length=64, editable=False, help_text=_("Tells the sync what changed."))
    closed_at = models.DateTimeField(
        _("closed"),
        null=True,
        blank=True,
        help_text=_(
            "When the study dropped out of the registry's open mesothelioma studies. Closed studies are kept, "
            "off the public list."
        ),
    )

    hidden = models.BooleanField(
        _("hidden from the public list"),
        default=False,
        help_text=_("A medical reviewer may hide a study from “Find a clinical trial”. Syncs keep this choice."),
    )
    hidden_reason = models.TextField(
        _("reason for hiding"),
        blank=True,
        help_text=_("Required to hide a study. Kept on record when the study is shown again."),
    )
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("hidden by"),
    )
    hidden_at = models.DateTimeField(_("hidden on"), null=True, blank=True, editable=False)

    objects = RegistryStudyQuerySet.as_manager()

    class Meta:
        ordering = ["-last_update_posted", "nct_id"]
        indexes = [models.Index(fields=["-last_update_posted", "nct_id"], name="registry_study_newest_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(hidden=False) | ~Q(hidden_reason=""),
                name="hidden_study_has_reason",
                violation_error_message=_("Give the reason for hiding this study: it is kept on record."),
            ),
        ]
        verbose_name = _("registry study")
        verbose_name_plural = _("registry studies")

    def __str__(self):
        return f"{self.nct_id}: {self.brief_title}"

    @property
    def registry_url(self):
        return nct_url(self.nct_id)

    @property
    def status_label(self):
        return label(OverallStatus, self.overall_status)

    @property
    def phase_labels(self):
        return [label(Phase, code) for code in self.phases]

    @property
    def is_open(self):
        return self.closed_at is None


class RegistryIntervention(models.Model):
    """What a study tests: `armsInterventionsModule.interventions[]` (type and name)."""

    study = models.ForeignKey(RegistryStudy, on_delete=models.CASCADE, related_name="interventions")
    type = models.CharField(_("type"), max_length=40, choices=InterventionType, db_index=True)
    name = models.CharField(_("name"), max_length=500)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        verbose_name = _("intervention")
        verbose_name_plural = _("interventions")

    def __str__(self):
        return f"{self.type_label}: {self.name}"

    @property
    def type_label(self):
        return label(InterventionType, self.type)


class RegistryLocation(models.Model):
    """Where a study runs: `contactsLocationsModule.locations[]` (no contact people are kept)."""

    study = models.ForeignKey(RegistryStudy, on_delete=models.CASCADE, related_name="locations")
    facility = models.CharField(_("facility"), max_length=500, blank=True)
    city = models.CharField(_("city"), max_length=200, blank=True)
    state = models.CharField(_("state or region"), max_length=200, blank=True)
    country = models.CharField(_("country"), max_length=200, blank=True, db_index=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        verbose_name = _("location")
        verbose_name_plural = _("locations")

    def __str__(self):
        return ", ".join(part for part in (self.facility, self.city, self.country) if part)


class RegistrySyncQuerySet(models.QuerySet):
    def succeeded(self):
        return self.filter(succeeded=True)


class RegistrySync(models.Model):
    """One run of `sync_registry_trials` that was meant to change data (dry runs are not recorded)."""

    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"))
    source = models.CharField(_("source"), max_length=300)
    succeeded = models.BooleanField(_("succeeded"))
    data_fetched_at = models.DateTimeField(
        _("data fetched"), null=True, blank=True, help_text=_("When the registry data was read (a file: when saved).")
    )
    pages = models.PositiveIntegerField(_("pages"), default=0)
    studies = models.PositiveIntegerField(_("studies read"), default=0)
    added = models.PositiveIntegerField(_("added"), default=0)
    changed = models.PositiveIntegerField(_("changed"), default=0)
    closed = models.PositiveIntegerField(_("closed"), default=0)
    error = models.TextField(_("error"), blank=True)

    objects = RegistrySyncQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        get_latest_by = "started_at"
        verbose_name = _("registry sync")
        verbose_name_plural = _("registry syncs")

    def __str__(self):
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.result}"

    @property
    def result(self):
        if not self.succeeded:
            return f"failed: {self.error}"
        return f"{self.studies} studies: {self.added} added, {self.changed} changed, {self.closed} closed"

    def is_stale(self, now=None):
        """Older than REGISTRY_STALE_DAYS: the public page then says the list may be out of date."""
        fetched = self.data_fetched_at or self.finished_at
        return (now or timezone.now()) - fetched > datetime.timedelta(days=settings.REGISTRY_STALE_DAYS)
