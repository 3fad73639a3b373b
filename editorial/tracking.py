"""What a piece of rendering read: the publishable records it showed and the kinds of record it listed.

While `reading()` is active in this thread, every publishable record (or part of one) loaded from the
database is noted. Staff previews use it to list what on a page differs from live, the page review screen
to find every pending draft a page shows, and published pages (pages/) to know which pages a publish changes.
"""

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

_local = threading.local()


@dataclass
class Reading:
    records: set = field(default_factory=set)  # (model label, pk)
    lists: dict = field(default_factory=dict)  # model label → the fields the listing shows


@contextmanager
def reading():
    """Collect what is read inside the block (a `Reading`)."""
    seen = Reading()
    previous = getattr(_local, "seen", None)
    _local.seen = seen
    try:
        yield seen
    finally:
        _local.seen = previous


@contextmanager
def paused():
    """Loads inside are not noted (e.g. every glossary term, read only to look for them in the text)."""
    previous = getattr(_local, "seen", None)
    _local.seen = None
    try:
        yield
    finally:
        _local.seen = previous


def shown(obj):
    """Note a record explicitly (a glossary term found in the text)."""
    loaded(obj._meta.label_lower, obj.pk)


def listed(model, fields=()):  # a model class or its label ("treatments.drug")
    """Note that the output lists `model`'s live records: it changes when one is published for the first time or
    taken off the site, or when one of `fields` changes on any of them (e.g. the glossary's terms, which every
    page looks for in its text)."""
    seen = getattr(_local, "seen", None)
    if seen is not None:
        label = model.lower() if isinstance(model, str) else model._meta.label_lower
        seen.lists.setdefault(label, set()).update(fields)


def loaded(label, pk):
    seen = getattr(_local, "seen", None)
    if seen is not None and pk is not None:
        seen.records.add((label, pk))
