"""Content loaded with `loaddata` ends up as complete as content saved in the admin.

`loaddata` saves every row "raw" (Django's `raw=True`): no model `save()` runs, so no search document, no history
entry and no revision is made; and a row's many-to-many fields and parts (a trial's outcome rows) are written after
it, so nothing can be built from a row when it is saved. The receiver here notes each raw save of content in a
`Load`, one per transaction, and the load is finished once every row of it is in, when its transaction commits
(`transaction.on_commit`; loaddata always runs in one):

- a first history entry for each loaded record that has none ("Loaded from a fixture"; the partial entries that
  setting many-to-many fields would record are not made),
- a revision for each loaded publishable record whose row points to none: its live version (published at its
  `last_published_at`), or its working draft (editorial.workflow.record_first_versions),
- the search documents of the loaded searchable records,
- and the page cache moves on.

The dates a page shows (`last_published_at`, reviews) travel in the fixtures themselves. So plain
`python manage.py loaddata seed` gives the same site as `load_seed`, which runs the same finish inside its
own transaction (`finish_now`). `restore_content` loads a backup `as_it_is()`: it carries all of that itself.
"""

import threading
from collections import defaultdict
from contextlib import contextmanager

from django.apps import apps
from django.db import transaction
from django.db.models.signals import post_save

_local = threading.local()
CHANGE_REASON = "Loaded from a fixture"


class Load:
    """The content rows one transaction saved raw: {model label: {pk, …}}."""

    def __init__(self):
        self.rows = defaultdict(set)
        self.done = False

    def note(self, instance):
        self.rows[instance._meta.label_lower].add(instance.pk)

    def records(self, model):
        pks = self.rows.get(model._meta.label_lower)
        return model._default_manager.filter(pk__in=pks) if pks else model._default_manager.none()

    def __call__(self):
        """Finish the load (once; it is registered with every raw save of it)."""
        if self.done:
            return 0
        self.done = True
        if getattr(_local, "load", None) is self:
            _local.load = None
        with transaction.atomic():
            return self.finish()

    def finish(self):
        """History, revisions and search documents for what was loaded; returns how many records it indexed."""
        from editorial.workflow import record_first_versions

        from .caching import content_changed
        from .search import SEARCHABLE, index_object

        for label in self.rows:
            model = apps.get_model(label)
            if _has_history(model):
                start_history(self.records(model))
        record_first_versions({apps.get_model(label): pks for label, pks in self.rows.items()})
        indexed = 0
        for model in SEARCHABLE:
            for record in self.records(model).iterator(chunk_size=500):
                index_object(record)
                indexed += 1
        content_changed()  # search results (and anything else derived) changed after the rows did
        return indexed


def _has_history(model):
    """Content records and their parts keep a history (django-simple-history); nothing else here does."""
    return hasattr(model._meta, "simple_history_manager_attribute")


def start_history(queryset):
    """One first history entry for each of these records that has none."""
    model = queryset.model
    history = getattr(model, model._meta.simple_history_manager_attribute)
    recorded = history.filter(**{f"{model._meta.pk.attname}__in": queryset.values("pk")})
    missing = list(queryset.exclude(pk__in=recorded.values(model._meta.pk.attname)))
    if missing:
        history.bulk_history_create(missing, default_change_reason=CHANGE_REASON)


def _current():
    """This transaction's load, if it has one. A load is this transaction's while one of its callbacks is still
    registered: rolling back (a failed load, the end of a test) drops the callbacks registered inside, and the load
    with them. (`run_on_commit` is the list Django's own TestCase.captureOnCommitCallbacks reads, newest last.)"""
    load = getattr(_local, "load", None)
    if load is None or load.done:
        return None
    callbacks = transaction.get_connection().run_on_commit
    return load if any(callback is load for _sids, callback, _robust in reversed(callbacks)) else None


def _saved(sender, instance, raw=False, **kwargs):
    if not raw or not _has_history(sender) or getattr(_local, "as_it_is", False):
        return
    # Setting the row's many-to-many fields next would record partial history entries; the finish records one.
    instance.skip_history_when_saving = True
    load = _current()
    if load is None:
        load = _local.load = Load()
    load.note(instance)
    # Registered with each row, so that it stays registered while any of its rows is kept (the newest is found first).
    transaction.on_commit(load)


def finish_now():
    """Finish what this transaction loaded so far, now and inside it (load_seed): nothing is left for the commit.
    Returns how many records it indexed for search."""
    load = _current()
    if load is None:
        return 0
    load.done = True
    _local.load = None
    return load.finish()


@contextmanager
def as_it_is():
    """Rows loaded inside are kept exactly as loaded, with nothing added (restore_content: a backup carries the
    history and revisions itself, and it rebuilds the search index)."""
    previous = getattr(_local, "as_it_is", False)
    _local.as_it_is = True
    try:
        yield
    finally:
        _local.as_it_is = previous


def connect():
    post_save.connect(_saved, dispatch_uid="treatments-loaded-raw")
