"""Registry information on pages of other apps: a trial's status on ClinicalTrials.gov, the last sync for staff."""

from django import template

from registry.models import RegistryStudy, RegistrySync

register = template.Library()


@register.inclusion_tag("registry/_trial_status.html")
def registry_status(trial):
    """'Status on ClinicalTrials.gov: Completed, as of 3 March 2026' for one of our trials (one query)."""
    study = None
    if trial.nct_id:
        study = RegistryStudy.objects.filter(nct_id=trial.nct_id, closed_at__isnull=True).first()
    return {"study": study}


@register.inclusion_tag("registry/_sync_status.html")
def registry_sync_status():
    """The review dashboard's line on the registry: the last sync, and the last good one if that failed."""
    last = RegistrySync.objects.first()
    last_good = last if last is None or last.succeeded else RegistrySync.objects.succeeded().first()
    return {"last": last, "last_good": last_good}
