"""Lean builders for test content: each makes one valid record, overridable by keyword.

Publishable content is built live (status published, as `loaddata` would load it: what most tests of public
pages need); pass status=… for others. Changes through the editorial workflow: editorial.workflow.
"""

import itertools

from references.models import Reference
from treatments.models import (
    Drug,
    Overview,
    Question,
    Regimen,
    RegimenDrug,
    Status,
    TreatmentOption,
    Trial,
    TrialOutcome,
)

_seq = itertools.count(1)


def make_reference(**fields):
    n = next(_seq)
    fields.setdefault("key", f"author-{2000 + n}")
    fields.setdefault("authors", f"Author{n} AB, Other CD")
    fields.setdefault("title", f"A study number {n}")
    fields.setdefault("source", "J Test Med")
    fields.setdefault("year", 2000 + n % 20)
    fields.setdefault("status", Status.PUBLISHED)
    return Reference.objects.create(**fields)


def make_overview(**fields):
    n = next(_seq)
    fields.setdefault("status", Status.PUBLISHED)
    fields.setdefault("title", f"Overview {n}")
    fields.setdefault("slug", f"overview-{n}")
    fields.setdefault("summary", f"Summary of overview {n}.")
    return Overview.objects.create(**fields)


def make_section(overview, **fields):
    n = next(_seq)
    fields.setdefault("status", Status.PUBLISHED)
    fields.setdefault("modality", TreatmentOption.Modality.CHEMOTHERAPY)
    fields.setdefault("heading", f"Section {n}")
    fields.setdefault("slug", f"section-{n}")
    fields.setdefault("body", f"Body of section {n}.")
    fields.setdefault("position", n)
    return TreatmentOption.objects.create(overview=overview, **fields)


def make_question(overview, **fields):
    n = next(_seq)
    fields.setdefault("status", Status.PUBLISHED)
    fields.setdefault("text", f"Question {n}?")
    fields.setdefault("position", n)
    return Question.objects.create(overview=overview, **fields)


def make_drug(**fields):
    n = next(_seq)
    fields.setdefault("status", Status.PUBLISHED)
    fields.setdefault("generic_name", f"drugamab{n}")
    fields.setdefault("slug", f"drugamab{n}")
    return Drug.objects.create(**fields)


def make_regimen(*drugs, **fields):
    fields.setdefault("name", " + ".join(d.generic_name for d in drugs) or f"Regimen {next(_seq)}")
    fields.setdefault("status", Status.PUBLISHED)
    regimen = Regimen.objects.create(**fields)
    for position, drug in enumerate(drugs, 1):
        RegimenDrug.objects.create(regimen=regimen, drug=drug, position=position)
    return regimen


def make_trial(references=(), outcomes=(), **fields):
    n = next(_seq)
    fields.setdefault("status", Status.PUBLISHED)
    fields.setdefault("title", f"Trial {n}")
    fields.setdefault("slug", f"trial-{n}")
    trial = Trial.objects.create(**fields)
    trial.references.set(references)
    for position, (measure, population, value, is_key) in enumerate(outcomes, 1):
        TrialOutcome.objects.create(
            trial=trial, measure=measure, population=population, value=value, is_key_result=is_key, position=position
        )
    return trial


def reviewer(username="dr-reviewer"):
    """A staff user in the Medical reviewer group (the groups come from a data migration)."""
    from django.apps import apps
    from django.contrib.auth.models import Group, User

    from treatments.roles import MEDICAL_REVIEWER, ensure_editorial_groups

    if not Group.objects.filter(name=MEDICAL_REVIEWER).exists():  # flushed by a test that commits
        ensure_editorial_groups(apps)
    user = User.objects.create_user(username, f"{username}@example.org", None, is_staff=True)
    user.groups.add(Group.objects.get(name=MEDICAL_REVIEWER))
    return user


def publish_drafts(*records, by=None):
    """A medical reviewer approves the records' working drafts, all in one step (editorial.workflow.approve)."""
    from editorial.workflow import approve, ensure_draft

    drafts = [ensure_draft(type(r).objects.get(pk=r.pk)) for r in records]
    return approve(drafts, by or reviewer(f"reviewer-{next(_seq)}"))


def mark_reviewed(obj, user):
    """Record a medical review on live content directly, as a loaded fixture or backup would have it."""
    from django.utils import timezone

    from editorial.models import REVIEW_INTERVAL

    obj.reviewed_by, obj.reviewed_on = user, timezone.localdate()
    obj.review_due, obj.last_published_at = obj.reviewed_on + REVIEW_INTERVAL, timezone.now()
    obj.save()
    return obj
