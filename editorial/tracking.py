"""Which publishable records a piece of rendering read.

While `reading()` is active in this thread, every publishable record (or part of one) loaded from
the database is noted. Staff previews use it to list what on a page differs from live, and the page
review screen to find every pending draft a page shows.
"""

import threading
from contextlib import contextmanager

_local = threading.local()


@contextmanager
def reading():
    """Collect the (model label, pk) of every publishable record loaded inside the block."""
    seen = set()
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
    seen = getattr(_local, "seen", None)
    if seen is not None:
        seen.add((obj._meta.label_lower, obj.pk))


def loaded(label, pk):
    seen = getattr(_local, "seen", None)
    if seen is not None and pk is not None:
        seen.add((label, pk))
