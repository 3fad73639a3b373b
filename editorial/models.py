"""Live and draft: what patients see and what editors change are different things.

A publishable record's row is its **live version**: public pages, search, sitemaps and feeds read the
rows, and only `editorial.workflow.publish` writes a live row. Every change an editor makes is a
**revision** (a JSON snapshot of the record with its parts), and at most one revision per record is
its working draft (`draft_revision`). A record that has never been live (`status` DRAFT) keeps its
row equal to its latest draft; nothing public reads it.
"""

import datetime

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mesoinfo.concurrency import VersionedModel

REVIEW_INTERVAL = datetime.timedelta(days=365)


class Status(models.TextChoices):
    """Whether the row is live. Review state belongs to the revisions."""

    DRAFT = "draft", _("Not yet live")
    PUBLISHED = "published", _("Live")
    ARCHIVED = "archived", _("Unpublished")


class Revision(models.Model):
    """One saved version of a publishable record, with its parts (a trial with its outcome rows)."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        IN_REVIEW = "in_review", _("In review")
        SCHEDULED = "scheduled", _("Approved, scheduled")
        PUBLISHED = "published", _("Published")
        SUPERSEDED = "superseded", _("Replaced by a later draft")

    WORKING = (State.DRAFT, State.IN_REVIEW, State.SCHEDULED)

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    record = GenericForeignKey("content_type", "object_id")
    number = models.PositiveIntegerField(_("revision"), help_text=_("1, 2, 3… for each record."))
    data = models.JSONField(_("content"), encoder=DjangoJSONEncoder)
    state = models.CharField(_("state"), max_length=20, choices=State, default=State.DRAFT, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("author")
    )
    created_at = models.DateTimeField(_("saved"), default=timezone.now)
    based_on = models.ForeignKey(
        "self",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reverted from"),
        help_text=_("The earlier revision this one copies, when it was made by a revert."),
    )
    change_note = models.CharField(
        _("change note"), max_length=300, blank=True, help_text=_("For readers: what changed on the page.")
    )
    minor = models.BooleanField(
        _("minor correction"), default=False, help_text=_("Typos, formatting: recorded, not listed for readers.")
    )
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    submitted_at = models.DateTimeField(_("sent for review"), null=True, blank=True)
    sent_back_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    sent_back_at = models.DateTimeField(_("sent back"), null=True, blank=True)
    comment = models.TextField(_("reviewer's comment"), blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    go_live_at = models.DateTimeField(_("goes live"), null=True, blank=True)
    published_at = models.DateTimeField(_("went live"), null=True, blank=True)

    class Meta:
        ordering = ["content_type", "object_id", "-number"]
        verbose_name = _("revision")
        verbose_name_plural = _("revisions")
        constraints = [
            models.UniqueConstraint(fields=["content_type", "object_id", "number"], name="revision_number_once")
        ]
        indexes = [
            models.Index(fields=["content_type", "object_id", "state"], name="revision_record_state"),
            models.Index(fields=["state", "go_live_at"], name="revision_schedule"),
        ]

    def __str__(self):
        return f"{self.content_type.name} {self.object_id}, revision {self.number}"

    @property
    def is_working(self):
        return self.state in self.WORKING


class PublishableQuerySet(models.QuerySet):
    def published(self):
        """What the public may see: the live rows. The one filter every public page, list, link, feed,
        sitemap and search result uses."""
        return self.filter(status=Status.PUBLISHED)

    def awaiting_review(self):
        return self.filter(draft_revision__state=Revision.State.IN_REVIEW)

    def with_drafts(self):
        return self.filter(draft_revision__isnull=False)

    def review_overdue(self):
        return self.filter(status=Status.PUBLISHED, review_due__lt=timezone.localdate())


def publish_permissions(model_name, label):
    return [(f"publish_{model_name}", f"Can publish {label} after medical review")]


class Publishable(VersionedModel):
    """A record with a live version (this row) and at most one working draft (a revision).

    Only the functions in `editorial.workflow` change the live version or the review state; the
    fields below are read-only in every form.
    """

    status = models.CharField(
        _("live"), max_length=20, choices=Status, default=Status.DRAFT, db_index=True, editable=False
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("medically reviewed by"),
    )
    reviewed_on = models.DateField(_("medically reviewed on"), null=True, blank=True, editable=False)
    review_due = models.DateField(
        _("review due"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When this content must be checked again: 12 months after each review."),
    )
    last_published_at = models.DateTimeField(_("last published change"), null=True, blank=True, editable=False)
    live_revision = models.ForeignKey(
        Revision, models.SET_NULL, null=True, blank=True, editable=False, related_name="+", verbose_name=_("live")
    )
    draft_revision = models.ForeignKey(
        Revision,
        models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("working draft"),
    )

    objects = PublishableQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def is_public(self):
        return self.status == Status.PUBLISHED

    @property
    def edit_token(self):
        """Changes whenever the working draft or the live version does: forms opened before are stale."""
        return f"{self.live_revision_id or 0}:{self.draft_revision_id or 0}"

    @property
    def editorial_state(self):
        """'Live + draft', 'In review'… as the admin shows it (Wagtail's wording)."""
        draft = self.draft_revision if self.draft_revision_id else None
        review = {
            Revision.State.DRAFT: _("draft"),
            Revision.State.IN_REVIEW: _("in review"),
            Revision.State.SCHEDULED: _("scheduled"),
        }
        if self.status == Status.PUBLISHED:
            return _("Live") if draft is None else _("Live + %(state)s") % {"state": review[draft.state]}
        if self.status == Status.ARCHIVED:
            return _("Unpublished") if draft is None else _("Unpublished + %(state)s") % {"state": review[draft.state]}
        if draft is None or draft.state == Revision.State.DRAFT:
            return _("Draft")
        return review[draft.state].capitalize()

    @property
    def reviewer_display(self):
        """'Jane Doe, MD, thoracic oncologist' from the reviewer's live profile, else their account name."""
        user = self.reviewed_by
        if user is None:
            return ""
        from . import tracking

        tracking.listed("treatments.reviewerprofile")  # a profile published later names them differently
        profile = getattr(user, "reviewer_profile", None)
        if profile is not None and profile.is_public:
            return str(profile)
        return user.get_full_name() or user.get_username()
