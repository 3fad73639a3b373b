import multiprocessing
import time
from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections

from pages.publishing import build_pages, pages_to_build

CHUNK = 200  # pages a process renders between two progress reports


_inherited = []  # a forked process keeps its parent's connection objects alive, unused (see _fresh_connections)


def _fresh_connections():
    """In a forked process: set aside any database connection inherited from the parent. Its socket is the
    parent's: a query here, or closing it (even by garbage collection), would corrupt the parent's session."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None:
            _inherited.append(conn.connection)
            conn.connection = None


def _build_chunk(paths):
    return build_pages(paths)


class Command(BaseCommand):
    help = (
        "Render and store the current version of every public page that has none for this release of the code "
        "(after a deploy, a restore or a bulk import), so that no visitor waits for a page to render. Pages "
        "already current are left alone: it can run again at any time. Run it with the web servers' settings "
        "(SITE_URL, and STATIC_ROOT after collectstatic), as the release includes them."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", help="Only these addresses (default: every public page).")
        parser.add_argument(
            "--jobs", type=int, default=1, help="Render in this many processes (default 1; PostgreSQL only)."
        )

    def handle(self, *args, paths, jobs, **options):
        if jobs < 1:
            raise CommandError("--jobs must be at least 1.")
        if connection.vendor != "postgresql":
            jobs = 1  # one writer at a time
        started = time.monotonic()
        todo, current = pages_to_build(paths or None)
        verbose = options["verbosity"] >= 1
        if verbose:
            self.stdout.write(f"{current + len(todo):,} pages, {current:,} already current; rendering {len(todo):,}.")
        counts = Counter()

        def progress(done):
            if verbose and done < len(todo):
                rate = done / (time.monotonic() - started)
                self.stdout.write(f"  {done:,} of {len(todo):,} ({rate:.0f} pages/s)")
                self.stdout.flush()

        chunks = [todo[i : i + CHUNK] for i in range(0, len(todo), CHUNK)]
        if jobs > 1 and len(chunks) > 1:
            connections.close_all()  # each process opens its own
            with multiprocessing.get_context("fork").Pool(jobs, initializer=_fresh_connections) as pool:
                for done, result in enumerate(pool.imap_unordered(_build_chunk, chunks), 1):
                    counts += result
                    progress(min(done * CHUNK, len(todo)))
        else:
            for done, chunk in enumerate(chunks, 1):
                counts += build_pages(chunk)
                progress(min(done * CHUNK, len(todo)))
        seconds = time.monotonic() - started
        if verbose:
            summary = ", ".join(f"{counts[kind]:,} {kind}" for kind in ("stored", "confirmed", "not public", "failed"))
            self.stdout.write(
                self.style.SUCCESS(f"Built {len(todo):,} pages in {seconds:.1f}s: {summary}.")
                if not counts["failed"]
                else self.style.ERROR(f"Built {len(todo):,} pages in {seconds:.1f}s: {summary} (see the log).")
            )
        if counts["failed"]:
            raise CommandError(f"{counts['failed']} page(s) could not be rendered; their current version is kept.")
