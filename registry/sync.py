"""Bring the registry studies up to date from pages of API v2 results, in one transaction.

`sync_studies(pages, ...)` reads the pages one at a time (it never holds more
than one page of records), adds studies it has not seen, rewrites those whose
record changed, and marks closed (never deletes) the open studies that are no
longer in the results. Any error — a page or study that is not as the API
documents it, a study without an NCT number — rolls everything back. A dry
run does the same work and rolls it back, so it reports exactly what a real
sync would do.

What it holds in memory beyond the current page: one (id, fingerprint) pair
per stored study and one NCT number per study read — a few hundred bytes a
study (docs/deploy.md has the measured figures).
"""

import time
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from treatments.caching import content_changed

from .client import RegistryError
from .mapping import InvalidStudy, content_hash, study_fields
from .models import RegistryIntervention, RegistryLocation, RegistryStudy, RegistrySync

BATCH = 500
STUDY_FIELDS = [
    "brief_title", "official_title", "overall_status", "phases", "study_type", "conditions", "enrollment_count",
    "enrollment_type", "sponsor", "start_date", "last_update_posted", "minimum_age", "maximum_age", "sex",
    "eligibility_criteria", "fetched_at", "content_hash", "closed_at",
]  # fmt: skip


@dataclass
class SyncResult:
    pages: int = 0
    studies: int = 0
    unchanged: int = 0
    added: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    closed: list = field(default_factory=list)
    seconds: float = 0.0

    def summary(self):
        return (
            f"{self.studies} studies on {self.pages} page(s): {len(self.added)} added, {len(self.changed)} changed, "
            f"{len(self.closed)} closed, {self.unchanged} unchanged ({self.seconds:.1f} s)"
        )


def sync_studies(pages, *, fetched_at, source, dry_run=False, allow_empty=False):
    """Apply `pages` (API v2 pages, in order) to the registry studies; returns a SyncResult.

    Raises RegistryError, having changed nothing, if anything is wrong with the pages.
    """
    started, clock = timezone.now(), time.perf_counter()
    with transaction.atomic():
        result = _apply(pages, fetched_at, allow_empty)
        result.seconds = time.perf_counter() - clock
        if dry_run:
            transaction.set_rollback(True)
        else:
            RegistrySync.objects.create(
                started_at=started,
                finished_at=timezone.now(),
                source=source[:300],
                succeeded=True,
                data_fetched_at=fetched_at,
                pages=result.pages,
                studies=result.studies,
                added=len(result.added),
                changed=len(result.changed),
                closed=len(result.closed),
            )
            # Last, so the hot page-cache counter is locked only for the end of the transaction.
            content_changed()
    return result


def record_failure(source, started, error):
    """Log a failed sync for the review dashboard (the studies themselves were left as they were)."""
    RegistrySync.objects.create(
        started_at=started, finished_at=timezone.now(), source=source[:300], succeeded=False, error=str(error)
    )


@dataclass
class _Known:
    pk: int
    digest: str
    closed: bool


def _apply(pages, fetched_at, allow_empty):
    result = SyncResult()
    known = {
        nct_id: _Known(pk, digest, closed_at is not None)
        for nct_id, pk, digest, closed_at in RegistryStudy.objects.values_list(
            "nct_id", "pk", "content_hash", "closed_at"
        ).iterator(chunk_size=2000)
    }
    seen = set()
    for page in pages:
        result.pages += 1
        new, changed, unchanged = [], [], []
        for index, record in enumerate(page["studies"]):
            try:
                fields, interventions, locations = study_fields(record)
            except InvalidStudy as error:
                raise RegistryError(f"page {result.pages}, study {index + 1}: {error}") from error
            nct_id = fields["nct_id"]
            if nct_id in seen:  # listed twice (in the search, and as one of our trials): one record is enough
                continue
            seen.add(nct_id)
            result.studies += 1
            digest = content_hash(fields, interventions, locations)
            study = RegistryStudy(**fields, fetched_at=fetched_at, content_hash=digest, closed_at=None)
            stored = known.get(nct_id)
            if stored is None:
                new.append((study, interventions, locations))
                result.added.append(nct_id)
            elif stored.digest != digest or stored.closed:
                study.pk = stored.pk
                changed.append((study, interventions, locations))
                result.changed.append(nct_id)
            else:
                unchanged.append(stored.pk)
                result.unchanged += 1
        _write(new, changed, unchanged, fetched_at)

    closing = [(nct_id, stored.pk) for nct_id, stored in known.items() if nct_id not in seen and not stored.closed]
    if not result.studies and closing and not allow_empty:
        raise RegistryError(
            f"the results hold no studies at all; refusing to close all {len(closing)} open studies "
            "(use --allow-empty if that is right)"
        )
    now = timezone.now()
    for start in range(0, len(closing), BATCH):
        batch = closing[start : start + BATCH]
        RegistryStudy.objects.filter(pk__in=[pk for _, pk in batch]).update(closed_at=now)
    result.closed = sorted(nct_id for nct_id, _ in closing)
    return result


def _write(new, changed, unchanged, fetched_at):
    """One page's changes, in a few bulk queries."""
    if new:
        RegistryStudy.objects.bulk_create([study for study, _, _ in new], batch_size=BATCH)
    if changed:
        RegistryStudy.objects.bulk_update([study for study, _, _ in changed], STUDY_FIELDS, batch_size=BATCH)
        pks = [study.pk for study, _, _ in changed]
        RegistryIntervention.objects.filter(study__in=pks).delete()
        RegistryLocation.objects.filter(study__in=pks).delete()
    interventions, locations = [], []
    for study, study_interventions, study_locations in new + changed:
        interventions += [
            RegistryIntervention(study=study, position=n, **values) for n, values in enumerate(study_interventions)
        ]
        locations += [RegistryLocation(study=study, position=n, **values) for n, values in enumerate(study_locations)]
    RegistryIntervention.objects.bulk_create(interventions, batch_size=BATCH)
    RegistryLocation.objects.bulk_create(locations, batch_size=BATCH)
    if unchanged:
        RegistryStudy.objects.filter(pk__in=unchanged).update(fetched_at=fetched_at)
