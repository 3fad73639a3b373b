"""Time and peak Python memory of one `sync_registry_trials --from-file` run (the test and bench/ share it)."""

import io
import time
import tracemalloc

from django.core.management import call_command


def measured_sync(path, *args, trace=True):
    """(seconds, peak bytes allocated by Python during the sync or None untraced, the command's output).

    tracemalloc slows Python down by about half: time an untraced run for the real speed.
    """
    out = io.StringIO()
    if not trace:
        started = time.perf_counter()
        call_command("sync_registry_trials", "--from-file", str(path), *args, stdout=out)
        return time.perf_counter() - started, None, out.getvalue()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        call_command("sync_registry_trials", "--from-file", str(path), *args, stdout=out)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return seconds, peak, out.getvalue()
