"""Time and peak Python memory of one `sync_registry_trials --from-file` run (the test and bench/ share it)."""

import io
import time
import tracemalloc

from django.core.management import call_command


def measured_sync(path, *args):
    """(seconds, peak bytes allocated by Python during the sync, the command's output)."""
    out = io.StringIO()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        call_command("sync_registry_trials", "--from-file", str(path), *args, stdout=out)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return seconds, peak, out.getvalue()
