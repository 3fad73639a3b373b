"""The editorial workflow: the one place that changes what patients see.

Every change to publishable content is a draft until a medical reviewer publishes it. The steps are
named functions; the admin, the management commands and the tests call them, and nothing else
writes a live row:

    editing(user)                 change content as usual inside the block: it becomes a draft
    save_draft(record, data)      store a snapshot as the record's working draft
    submit(record, user)          send the working draft for medical review
    send_back(revision, reviewer, comment)
    approve(revisions, reviewer)  publish exactly these revisions now, together
    approve(..., go_live_at=t)    or schedule them (`publish_due` publishes them at that time)
    publish_due()                 publish what is due (page requests and `publish_scheduled` call it)
    revert(record, revision)      a new draft from an old revision; reviewed like any other
    archive(record, reviewer)     take a live record off the site
    mark_reviewed(records, reviewer)  record a medical review of live content that needs no change

A shell session goes through the same functions:

    with editing(user, trial) as session:
        session.record.title = "…"
        session.record.save()
    submit(trial, user)
"""

import threading
from contextlib import contextmanager
from dataclasses import dataclass

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Min, Q
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from . import registry
from .models import REVIEW_INTERVAL, Revision, Status

State = Revision.State
_local = threading.local()

# Sent with `next_go_live` (the earliest scheduled go-live time, or None) whenever it may have changed; the page
# cache keeps it with its content generation so that a page request publishes what is due before anything is served.
schedule_changed = Signal()

# Sent inside the transaction of every change to what is live (a publish, or taking a record off the site) with
# `changes`: [Change(record, before, links_before, revision)] and `now`. Published pages (pages/) re-render the
# public pages that show what changed.
live_changed = Signal()


@dataclass
class Change:
    record: object
    before: dict | None  # its live snapshot before, None if it was not live
    links_before: list  # [(label, pk)] of what it linked to before
    revision: object | None  # the revision published; None when it was taken off the site


class WorkflowError(Exception):
    """A step that cannot be taken; the message says why, for the person who tried."""


class StaleRevision(WorkflowError):
    pass


class EditConflict(WorkflowError):
    pass


class PublishRefused(WorkflowError):
    def __init__(self, problems):
        self.problems = problems
        super().__init__(_("Nothing was published: ") + " ".join(problems))


def label(obj):
    return f"{obj._meta.verbose_name.capitalize()} “{obj}”"


def revisions_of(record):
    return Revision.objects.filter(content_type=ContentType.objects.get_for_model(type(record)), object_id=record.pk)


def record_of(revision):
    return revision.content_type.model_class()._default_manager.get(pk=revision.object_id)


def can_publish(user, model):
    opts = model._meta
    return user is not None and user.has_perm(f"{opts.app_label}.publish_{opts.model_name}")


def _require_publish(user, model):
    if not can_publish(user, model):
        raise PermissionDenied(_("Only a medical reviewer can do this."))


def _require_change(user, model):
    opts = model._meta
    if user is not None and not user.has_perm(f"{opts.app_label}.change_{opts.model_name}"):
        raise PermissionDenied(_("You cannot change %(things)s.") % {"things": opts.verbose_name_plural})


def _locked(record):
    return (
        type(record)._default_manager.select_for_update(of=("self",)).select_related("draft_revision").get(pk=record.pk)
    )


def _point(record, **fields):
    """Move the record's revision pointers without saving the row (no history entry, no cache change)."""
    type(record)._default_manager.filter(pk=record.pk).update(**fields)
    for name, value in fields.items():
        setattr(record, name, value)


def _schedule_changed():
    next_go_live = Revision.objects.filter(state=State.SCHEDULED).aggregate(first=Min("go_live_at"))["first"]
    schedule_changed.send(sender=Revision, next_go_live=next_go_live)


# --- drafts --------------------------------------------------------------------------------------


def save_draft(record, data, user=None, *, note="", based_on=None):
    """Store `data` (a `registry.snapshot`) as `record`'s working draft.

    Returns the new revision, or None when it changes nothing. A draft that was in review stays in
    review (the reviewer sees this newer revision); an approved, scheduled one goes back to review,
    because what was approved is no longer what would go live. A record that is not live keeps its
    row equal to its draft.
    """
    _require_change(user, type(record))
    with transaction.atomic():
        record = _locked(record)
        current = record.draft_revision
        if current is not None and current.data == data:
            return None
        if record.status == Status.PUBLISHED and data == registry.snapshot(record):
            if current is not None:  # edited back to what is live: no draft left to review
                current.state = State.SUPERSEDED
                current.save(update_fields=["state"])
                _point(record, draft_revision=None)
                if current.go_live_at:
                    _schedule_changed()
            return None
        state, submitted = State.DRAFT, (None, None)
        if current is not None:
            if current.state in (State.IN_REVIEW, State.SCHEDULED):
                state, submitted = State.IN_REVIEW, (current.submitted_by, current.submitted_at)
            current.state = State.SUPERSEDED
            current.save(update_fields=["state"])
        revision = Revision.objects.create(
            content_type=ContentType.objects.get_for_model(type(record)),
            object_id=record.pk,
            number=(revisions_of(record).aggregate(last=Max("number"))["last"] or 0) + 1,
            data=data,
            state=state,
            created_by=user,
            change_note=note,
            based_on=based_on,
            submitted_by=submitted[0],
            submitted_at=submitted[1],
        )
        _point(record, draft_revision=revision)
        if record.status != Status.PUBLISHED and registry.snapshot(record) != data:
            with _step():  # not live: no page shows it
                registry.apply(record, data)
        if current is not None and current.state == State.SUPERSEDED and current.go_live_at:
            _schedule_changed()
        return revision


def ensure_draft(record, user=None):
    """The record's working draft; a record that is not live and has none gets one from its row."""
    if record.draft_revision_id:
        return record.draft_revision
    if record.status == Status.PUBLISHED:
        return None
    revision = save_draft(record, registry.snapshot(record), user)
    return revision or _locked(record).draft_revision


def submit(record, user=None):
    """Send the record's working draft for medical review; returns the revision under review."""
    _require_change(user, type(record))
    with transaction.atomic():
        record = _locked(record)
        revision = ensure_draft(record, user)
        if revision is None:
            raise WorkflowError(_("%(what)s has no changes to review.") % {"what": label(record)})
        if revision.state == State.DRAFT:
            revision.state = State.IN_REVIEW
            revision.submitted_by, revision.submitted_at = user, timezone.now()
            revision.save(update_fields=["state", "submitted_by", "submitted_at"])
        return revision


def revert(record, revision, user=None):
    """A new working draft with the content of an earlier revision. It is reviewed like any other change."""
    if (revision.content_type.model_class(), revision.object_id) != (type(record), record.pk):
        raise WorkflowError(_("That revision belongs to another record."))
    return save_draft(
        record, revision.data, user, note=_("Reverted to revision %(n)s") % {"n": revision.number}, based_on=revision
    )


def record_first_versions(records=None):
    """A revision for every publishable record whose row has none to show for it (content loaded with `loaddata`,
    which writes rows without revisions, or imported in bulk): a live row without a live revision gets its published
    version, any other row without any revision its working draft. `records` ({model: ids}) limits it to those
    (a load); by default every publishable record is checked. Returns how many it made."""
    made = 0
    for model in registry.publishable_models():
        rows = model._default_manager.all()
        if records is not None:
            if not records.get(model):
                continue
            rows = rows.filter(pk__in=records[model])
        content_type = ContentType.objects.get_for_model(model)
        revisions = Revision.objects.filter(content_type=content_type)
        unrecorded = rows.filter(
            Q(status=Status.PUBLISHED, live_revision__isnull=True)
            | (~Q(status=Status.PUBLISHED) & ~Q(pk__in=revisions.values("object_id")))
        )
        # A record loaded again over itself (`loaddata` a second time) keeps its earlier revisions.
        numbers = dict(
            revisions.filter(object_id__in=unrecorded.values("pk"))
            .order_by()
            .values_list("object_id")
            .annotate(last=Max("number"))
        )
        for record in unrecorded.iterator(chunk_size=500):
            live = record.status == Status.PUBLISHED
            revision = Revision.objects.create(
                content_type=content_type,
                object_id=record.pk,
                number=numbers.get(record.pk, 0) + 1,
                data=registry.snapshot(record),
                state=State.PUBLISHED if live else State.DRAFT,
                approved_by=record.reviewed_by if live else None,
                published_at=record.last_published_at if live else None,
            )
            _point(record, **{"live_revision" if live else "draft_revision": revision})
            made += 1
    return made


# --- review --------------------------------------------------------------------------------------


def _pinned(revisions):
    """[(locked record, revision)], refusing any revision that is no longer its record's working draft."""
    pairs = []
    for revision in revisions:
        revision.refresh_from_db()
        record = _locked(record_of(revision))
        if record.draft_revision_id != revision.pk:
            newer = record.draft_revision
            raise StaleRevision(
                _("%(what)s changed after you opened it: review revision %(n)s instead.")
                % {"what": label(record), "n": newer.number}
                if newer
                else _("%(what)s has no pending draft any more (revision %(n)s was published or replaced).")
                % {"what": label(record), "n": revision.number}
            )
        pairs.append((record, revision))
    return pairs


def send_back(revision, reviewer, comment):
    """Return a draft to its editor with a comment they see on the record."""
    if not comment.strip():
        raise WorkflowError(_("Say what needs to change: the comment is what the editor will see."))
    _require_publish(reviewer, revision.content_type.model_class())
    with transaction.atomic():
        [(record, revision)] = _pinned([revision])
        was_scheduled = revision.state == State.SCHEDULED
        revision.state = State.DRAFT
        revision.sent_back_by, revision.sent_back_at, revision.comment = reviewer, timezone.now(), comment.strip()
        revision.approved_by = revision.approved_at = revision.go_live_at = None
        revision.save()
        if was_scheduled:
            _schedule_changed()
    return revision


def approve(revisions, reviewer, *, go_live_at=None, note="", minor=False):
    """A medical reviewer approves exactly these revisions: published together now, or at `go_live_at`.

    All or nothing: a revision that changed since the reviewer opened it (StaleRevision), or a
    publish that would leave a live page linking content that is not live (PublishRefused), stops
    the whole step.
    """
    revisions = list(revisions)
    if not revisions:
        raise WorkflowError(_("Choose at least one change to approve."))
    for revision in revisions:
        _require_publish(reviewer, revision.content_type.model_class())
    now = timezone.now()
    with transaction.atomic():
        pairs = _pinned(revisions)
        for _record, revision in pairs:
            revision.approved_by, revision.approved_at = reviewer, now
            revision.minor = minor
            if note:
                revision.change_note = note
        if go_live_at is not None and go_live_at > now:
            with transaction.atomic():  # would it publish cleanly now? Then undo the trial run.
                _publish(pairs, now, trial_run=True)
                transaction.set_rollback(True)
            for _record, revision in pairs:
                revision.refresh_from_db(fields=["state", "published_at"])
                revision.state, revision.go_live_at = State.SCHEDULED, go_live_at
                revision.approved_by, revision.approved_at, revision.minor = reviewer, now, minor
                if note:
                    revision.change_note = note
                revision.save()
            _schedule_changed()
            return []
        return _publish(pairs, now)


def _publish(pairs, now, *, trial_run=False):
    with _step():
        return _publish_step(pairs, now, trial_run)


def _publish_step(pairs, now, trial_run):
    changes = []
    for record, revision in pairs:
        live = record.status == Status.PUBLISHED
        before = registry.snapshot(record) if live else None
        links_before = [registry.record_key(target) for _field, target in registry.links(record)] if live else []
        changes.append(Change(record, before, links_before, revision))
        record.status = Status.PUBLISHED
        record.reviewed_by = revision.approved_by
        record.reviewed_on = timezone.localdate(now)
        record.review_due = record.reviewed_on + REVIEW_INTERVAL
        record.last_published_at = now
        record.live_revision, record.draft_revision = revision, None
        record._history_user = revision.approved_by
        record._change_reason = f"Published revision {revision.number}"
        registry.apply(record, revision.data)
        revision.state, revision.published_at = State.PUBLISHED, now
        revision.save()
    problems = [problem for record, _revision in pairs for problem in broken_links(record)]
    if problems:
        raise PublishRefused(problems)
    if not trial_run:
        live_changed.send(sender=Revision, changes=changes, now=now)
    return [record for record, _revision in pairs]


def broken_links(record):
    """What a live `record` would show or link to that is not live (or does not exist)."""
    links = registry.links(record)
    live = set()
    for model in {type(target) for _field, target in links}:
        pks = [target.pk for _field, target in links if type(target) is model]
        # From the database: a related object cached earlier in this step may predate its own publication.
        live |= {
            (model, pk) for pk in model._default_manager.published().filter(pk__in=pks).values_list("pk", flat=True)
        }
    problems = [
        _("%(what)s: %(field)s “%(target)s” is not live. Publish it in the same step, or remove it.")
        % {"what": label(record), "field": field, "target": target}
        for field, target in links
        if (type(target), target.pk) not in live
    ]
    if hasattr(record, "cited_keys"):
        known = set(record.cites.values_list("key", flat=True))
        missing = [key for key in record.cited_keys() if key not in known]
        if missing:
            problems.append(
                _("%(what)s cites %(keys)s, which the reference library does not have.")
                % {"what": label(record), "keys": ", ".join(missing)}
            )
    return problems


def publish_due(now=None):
    """Publish every scheduled revision whose go-live time has come; returns how many went live.

    Safe to call from many processes at once: the first takes the due revisions (row locks), the
    others wait for it and then find nothing left to do. Revisions due together go live together; a
    group that can no longer be published cleanly goes back to review with the reason as a comment.
    """
    now = now or timezone.now()
    published = 0
    with transaction.atomic():
        due = list(
            Revision.objects.select_for_update()
            .filter(state=State.SCHEDULED, go_live_at__lte=now)
            .order_by("go_live_at")
        )
        groups = {}
        for revision in due:
            groups.setdefault(revision.go_live_at, []).append(revision)
        for go_live_at, group in groups.items():
            try:
                with transaction.atomic():
                    published += len(_publish([(_locked(record_of(r)), r) for r in group], go_live_at))
            except (PublishRefused, StaleRevision) as error:
                for revision in group:
                    revision.state = State.IN_REVIEW
                    revision.comment = _("Could not go live as scheduled: %(why)s") % {"why": error}
                    revision.go_live_at = None
                    revision.save(update_fields=["state", "comment", "go_live_at"])
        if due:
            _schedule_changed()
    return published


def archive(record, reviewer):
    """Take a live record off the site now. Refused while live content links to it."""
    _require_publish(reviewer, type(record))
    with transaction.atomic():
        record = _locked(record)
        users = [source for source, _what in registry.linked_from(record) if source.status == Status.PUBLISHED]
        if users:
            raise WorkflowError(
                _("%(what)s is still shown on live content: %(users)s. Remove it there first.")
                % {"what": label(record), "users": ", ".join(label(user) for user in users[:10])}
            )
        change = Change(
            record, registry.snapshot(record), [registry.record_key(t) for _f, t in registry.links(record)], None
        )
        record.status = Status.ARCHIVED
        record._history_user, record._change_reason = reviewer, "Unpublished"
        with _step():
            record.save()
            live_changed.send(sender=Revision, changes=[change], now=timezone.now())
    return record


def mark_reviewed(records, reviewer):
    """A medical reviewer records that they reviewed these live records as they are, with no change: their review
    dates move on (and the pages that show them say so)."""
    records = list(records)
    for record in records:
        _require_publish(reviewer, type(record))
    now = timezone.now()
    with transaction.atomic():
        changes = []
        for record in records:
            record = _locked(record)
            if record.status != Status.PUBLISHED:
                raise WorkflowError(_("%(what)s is not live: publish it instead.") % {"what": label(record)})
            links = [registry.record_key(target) for _field, target in registry.links(record)]
            changes.append(Change(record, registry.snapshot(record), links, None))
            record.reviewed_by, record.reviewed_on = reviewer, timezone.localdate(now)
            record.review_due = record.reviewed_on + REVIEW_INTERVAL
            record._history_user, record._change_reason = reviewer, "Medical review recorded, no changes"
            with _step():
                record.save()
        with _step():
            live_changed.send(sender=Revision, changes=changes, now=now)
    return records


# --- editing -------------------------------------------------------------------------------------


def current_session():
    return getattr(_local, "session", None)


@contextmanager
def _step():
    """Inside: a workflow step that tells published pages itself what it changed (`live_changed`), or that
    changes nothing the public sees (a draft of a record that is not live)."""
    previous = getattr(_local, "step", False)
    _local.step = True
    try:
        yield
    finally:
        _local.step = previous


def workflow_step():
    """Whether this thread is inside a workflow step (see `_step`); any other change to content may change any
    page, and published pages are checked again (treatments.caching.content_changed)."""
    return getattr(_local, "step", False)


@dataclass
class _Opened:
    key: tuple
    token: str


class EditSession:
    """Records saved inside `editing()`, captured as drafts.

    Inside the block the database is a scratch copy: the opened record shows its working draft, and
    every save, many-to-many change and part added or deleted happens for real, in a savepoint. On
    leaving, each publishable record touched is snapshotted, the savepoint is rolled back (the live
    rows never changed) and the snapshots are stored as drafts. Forms, inlines, validation and
    history views all work unchanged on the scratch rows.
    """

    def __init__(self, user):
        self.user = user
        self.captured = {}  # (label, pk) → None, in the order first saved
        self.created = set()
        self.deleted = set()
        self.for_review = False
        self.opened = []
        self.revisions = []
        self._after = []
        self._savepoint = None
        self._capturing = False
        self.record = None

    def _open(self, model, pk, lock):
        """Lock the record (and its sections) in the real transaction, then start the scratch copy and
        show the working drafts there."""
        queryset = model._default_manager.select_related("draft_revision")
        try:
            pk = model._meta.pk.to_python(pk)
        except ValidationError:
            pk = None  # not an id: no such record (the admin then says so)
        record = (queryset.select_for_update(of=("self",)) if lock else queryset).filter(pk=pk).first()
        records = [] if record is None else [record, *_children(record, lock)]
        self.opened = [_Opened(registry.record_key(r), r.edit_token) for r in records]
        self._savepoint = transaction.savepoint()
        for each in records:
            if each.status == Status.PUBLISHED and each.draft_revision_id:
                each.skip_history_when_saving = True
                registry.apply(each, each.draft_revision.data)
        self.record = None if record is None else model._default_manager.get(pk=pk)
        self._capturing = True

    def _start(self):
        self._savepoint = transaction.savepoint()
        self._capturing = True

    def request_review(self, obj):
        """Once saved, send for review the drafts of `obj` and of everything saved with it (its sections)."""
        self.for_review = True
        self.captured.setdefault(registry.record_key(obj), None)

    def after(self, function):
        """Run `function` after the drafts are saved (e.g. an admin log entry)."""
        self._after.append(function)

    def note_saved(self, instance, created):
        if not self._capturing:
            return
        from .signals import record_of as key_of

        key = key_of(instance)
        if key is None or key[1] is None:
            return
        if created and instance._meta.label_lower == key[0]:
            self.created.add(key)
        self.captured.setdefault(key, None)

    def note_deleted(self, instance):
        if not self._capturing:
            return
        from .signals import record_of as key_of

        key = key_of(instance)
        if key is None:
            return
        if instance._meta.label_lower == key[0]:
            self.deleted.add(key)
        else:
            self.captured.setdefault(key, None)

    def _snapshots(self):
        self._capturing = False
        if self.deleted - self.created:
            raise WorkflowError(_("Content is deleted from its own page by a medical reviewer, not while editing."))
        snapshots = {}
        for key in self.captured:
            if key in self.deleted:
                continue
            obj = apps.get_model(key[0])._default_manager.filter(pk=key[1]).first()
            if obj is not None:
                snapshots[key] = registry.snapshot(obj)
        return snapshots

    def _discard(self):
        self._capturing = False
        if self._savepoint is not None:
            transaction.savepoint_rollback(self._savepoint)
            self._savepoint = None

    def _save(self, snapshots):
        tokens = {opened.key: opened.token for opened in self.opened}
        for key, data in snapshots.items():
            model = apps.get_model(key[0])
            if key in self.created:
                record = _materialise(model, key[1], data)
            else:
                record = model._default_manager.select_for_update().get(pk=key[1])
                if key in tokens and record.edit_token != tokens[key]:
                    raise EditConflict(_("%(what)s was changed by someone else meanwhile.") % {"what": label(record)})
            revision = save_draft(record, data, self.user)
            if self.for_review and (revision is not None or _locked(record).draft_revision_id):
                revision = submit(record, self.user)
            if revision is not None:
                self.revisions.append(revision)
        for function in self._after:
            function()


def _children(record, lock):
    """Publishable records that belong to `record` (an overview's sections), edited on its page."""
    for model in registry.publishable_models():
        parent = registry.entry_for(model).parent
        if parent and model._meta.get_field(parent).related_model is type(record):
            queryset = model._default_manager.filter(**{parent: record}).select_related("draft_revision")
            yield from (queryset.select_for_update(of=("self",)) if lock else queryset)


def _materialise(model, pk, data):
    """A record first saved inside an edit: its row, not live, with the id its form showed."""
    record = model(status=Status.DRAFT)
    if not model._default_manager.filter(pk=pk).exists():
        record.pk = pk
    with _step():  # not live: no page shows it
        registry.apply(record, data)
    return record


@contextmanager
def editing(user=None, model=None, pk=None, *, lock=True):
    """Change content inside the block as usual; on leaving, every publishable record saved in it
    becomes a draft (`session.revisions`), and nothing live has changed.

    With `model` and `pk`, `session.record` is that record as its working draft has it (None if there
    is no such record), and with `lock` it stays locked until the drafts are saved, so two people
    saving at once cannot overwrite each other.
    """
    if current_session() is not None:
        raise WorkflowError("An edit is already open in this thread.")
    if model is not None and not isinstance(model, type):  # editing(user, record)
        model, pk = type(model), model.pk
    session = EditSession(user)
    with transaction.atomic():
        _local.session = session
        try:
            if model is not None:
                session._open(model, pk, lock)
            else:
                session._start()
            yield session
            snapshots = session._snapshots()
        finally:
            _local.session = None
            session._discard()
        session._save(snapshots)
