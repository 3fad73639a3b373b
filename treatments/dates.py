"""The dates a public page shows: its medical review, its last update, and the years of the research it cites.

All of them come from the records, never from text typed by hand, and none of them from today's date: a page is
rendered once when it goes live and served as stored (pages/), so what it says must stay true for as long as that
version is served. The one moving part is judged against a fixed date of the page itself (`PageDates.as_of`):
research counts as old when its newest study is more than `EVIDENCE_AGE_NOTICE_YEARS` years older than the page's
last medical review or last published change.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone

from references.models import Reference

from .models import Overview, TreatmentOption, Trial


def last_published(records):
    """The latest published change among the live records a page is made of (an overview and its sections)."""
    return max((r.last_published_at for r in records if r.is_public and r.last_published_at), default=None)


@dataclass(frozen=True)
class PageDates:
    """ "Page last reviewed … · Next review due …" (or "Not yet medically reviewed") and "Last updated …"."""

    reviewed_on: datetime.date | None = None
    review_due: datetime.date | None = None
    reviewer: str = ""  # as the page names them; empty when unknown, or the page is many records' (the glossary)
    last_updated: datetime.datetime | None = None

    @classmethod
    def of(cls, record, last_updated=None):
        """The dates of a page that is `record` (an overview, a drug, a trial): its own medical review, and
        `last_updated`, the latest published change to what the page shows (the record's own by default)."""
        last_updated = last_updated or record.last_published_at
        if record.reviewed_on is None:
            return cls(last_updated=last_updated)
        return cls(record.reviewed_on, record.review_due, record.reviewer_display, last_updated)

    @classmethod
    def of_all(cls, records):
        """The dates of a page made of many records (the glossary's terms): reviewed only if every one of them is,
        as of the oldest of their reviews, due again when the first of them is due."""
        records = list(records)
        last_updated = max((r.last_published_at for r in records if r.last_published_at), default=None)
        if not records or any(r.reviewed_on is None for r in records):
            return cls(last_updated=last_updated)
        due = [r.review_due for r in records if r.review_due]
        return cls(
            reviewed_on=min(r.reviewed_on for r in records),
            review_due=min(due) if due else None,
            last_updated=last_updated,
        )

    @property
    def is_reviewed(self):
        return self.reviewed_on is not None

    @property
    def as_of(self):
        """The fixed date the page's content was last vouched for: its last medical review or its last published
        change, whichever is later. None when it has neither (content loaded without dates)."""
        dates = [self.reviewed_on, self.last_updated and timezone.localdate(self.last_updated)]
        return max((d for d in dates if d), default=None)


@dataclass(frozen=True)
class Evidence:
    """The publication years of the studies a section (or a page) cites: "1996–2003", or "2017"."""

    first: int
    last: int
    count: int  # how many cited works have a year

    @classmethod
    def of(cls, references):
        """From the cited references (each counted once); None when none of them has a year."""
        years = [reference.year for reference in {r.pk: r for r in references}.values() if reference.year]
        if not years:
            return None
        return cls(min(years), max(years), len(years))

    def __str__(self):
        return str(self.last) if self.first == self.last else f"{self.first}–{self.last}"

    @property
    def published(self):
        """ "published 1996–2003", "published in 2017"."""
        return f"published {self}" if self.first != self.last else f"published in {self.last}"

    @property
    def span(self):
        """ "from 1996 to 2003", "from 2017"."""
        return f"from {self.first} to {self.last}" if self.first != self.last else f"from {self.last}"

    def is_old(self, as_of):
        """Whether the newest study is more than EVIDENCE_AGE_NOTICE_YEARS years older than `as_of` (a page's fixed
        date; by year, as references have only one)."""
        return as_of is not None and as_of.year - self.last > settings.EVIDENCE_AGE_NOTICE_YEARS


def sections_with_old_evidence():
    """[(section, its Evidence, its page's `as_of` date)] for every live section of a live overview page that says
    its research is old, exactly as the page works it out (for the admin's review dashboard)."""
    sections = TreatmentOption.objects.published().prefetch_related(
        Prefetch("cites", Reference.objects.published()),
        Prefetch("trials", Trial.objects.published().prefetch_related("references")),
    )
    overviews = (
        Overview.objects.published()
        .select_related("reviewed_by__reviewer_profile")
        .prefetch_related(Prefetch("sections", sections))
    )
    found = []
    for overview in overviews:
        parts = list(overview.sections.all())
        as_of = PageDates.of(overview, last_published([overview, *parts])).as_of
        for section in parts:
            cited = [*section.cites.all(), *(ref for trial in section.trials.all() for ref in trial.references.all())]
            evidence = Evidence.of(cited)
            if evidence is not None and evidence.is_old(as_of):
                found.append((section, evidence, as_of))
    return found
