"""Where an uncached page's time goes: SQL queries, time by area, and cProfile's top functions, in-process.

    .venv/bin/python bench/profile_page.py /treatment/test-data-overview-001/
    .venv/bin/python bench/profile_page.py --requests 50 --top 30 --sql /drugs/pemetrexed/ "/search/?q=pemetrexed"
    .venv/bin/python bench/profile_page.py --summary / /drugs/ /trials/   # status, size, queries, time only

Runs Django's test client against the benchmark database (default mesoinfo_bench, see bench/generate.py) with
the production settings (DEBUG=0), the page cache off (CACHE_URL=dummy://) and every page rendered on request
(PUBLISHED_PAGES=0; --stored serves published pages from their stored versions instead), as an anonymous visitor. With
CONN_MAX_AGE=0 (the default) every request opens and closes its own database connection, as under gunicorn.

For each URL it prints: status, size, the SQL queries of one request with their times, the mean wall time per
request, the time per request by area (exclusive: each moment counted once, in the innermost area; measured by
wrapping a few functions in this process only, never in the app's code), then cProfile's top functions by own time.
"""

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from functools import wraps
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import benchlib  # noqa: E402

# Cumulative time of a few functions worth knowing about: (label, end of file name, function name).
NOTABLE = [
    ("creating a Markdown instance (per text!)", "markdown/core.py", "__init__"),
    ("Markdown.convert", "markdown/core.py", "convert"),
    ("nh3.clean", "~", "<built-in method nh3.nh3.clean>"),
    ("Model.__init__ (ORM instances)", "django/db/models/base.py", "__init__"),
    ("prefetch_related_objects", "django/db/models/query.py", "prefetch_related_objects"),
    ("CSP header (django-csp)", "csp/middleware.py", "process_response"),
    ("LocMemCache.get (unpickling a page)", "django/core/cache/backends/locmem.py", "get"),
]


def _setup(database, static_root, cache_url, **extra):
    """Production settings (page cache off unless asked); static files collected (DEBUG=0 needs the manifest)."""
    env = benchlib.django_env(database, static_root=static_root, cache_url=cache_url, **extra)
    if not (Path(static_root) / "staticfiles.json").exists():
        benchlib.collectstatic(env)
    os.environ.update(env)
    import django

    django.setup()


class Areas:
    """Exclusive wall time per area: time inside a nested area is not counted again in its parent."""

    def __init__(self):
        self.exclusive = defaultdict(float)
        self.calls = defaultdict(int)
        self.stack = []  # [area, started, time spent in children]
        self.enabled = False

    def wrap(self, owner, name, area):
        original = getattr(owner, name)

        @wraps(original)
        def timed(*args, **kwargs):
            if not self.enabled or (self.stack and self.stack[-1][0] == area):
                return original(*args, **kwargs)
            frame = [area, time.perf_counter(), 0.0]
            self.stack.append(frame)
            try:
                return original(*args, **kwargs)
            finally:
                self.stack.pop()
                elapsed = time.perf_counter() - frame[1]
                self.exclusive[area] += elapsed - frame[2]
                self.calls[area] += 1
                if self.stack:
                    self.stack[-1][2] += elapsed

        setattr(owner, name, timed)

    def sql(self, execute, sql, params, many, context):
        """execute_wrapper: every query, as an area."""
        if not self.enabled:
            return execute(sql, params, many, context)
        frame = ["SQL queries (execute + fetch)", time.perf_counter(), 0.0]
        self.stack.append(frame)
        try:
            return execute(sql, params, many, context)
        finally:
            self.stack.pop()
            elapsed = time.perf_counter() - frame[1]
            self.exclusive[frame[0]] += elapsed
            self.calls[frame[0]] += 1
            if self.stack:
                self.stack[-1][2] += elapsed


def instrument():
    import django.template.base
    from django.core.handlers.base import BaseHandler
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.test.client import ClientHandler

    import mesoinfo.markdown
    from references.citations import CitationNumbering
    from treatments.glossary import GlossaryMarker

    areas = Areas()
    areas.wrap(ClientHandler, "__call__", "Middleware, request/response handling")
    areas.wrap(BaseHandler, "_get_response", "View code: ORM model building, prefetch joins, Python")
    areas.wrap(BaseDatabaseWrapper, "connect", "Database connect (CONN_MAX_AGE=0)")
    areas.wrap(BaseDatabaseWrapper, "close", "Database close")
    areas.wrap(mesoinfo.markdown, "_sanitised_html", "Markdown → HTML + nh3 sanitising")
    areas.wrap(mesoinfo.markdown, "sanitised_html_many", "Rendered-HTML cache: keys, read, write")
    areas.wrap(CitationNumbering, "resolve", "Citation markers → superscripts")
    areas.wrap(GlossaryMarker, "mark", "Glossary: marking terms")
    areas.wrap(GlossaryMarker, "__init__", "Glossary: building the term pattern")
    areas.wrap(django.template.base.Template, "render", "Template rendering")
    return areas


def profile(url, requests, top, show_sql, areas):
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST=benchlib.HOST)
    response = client.get(url)
    size, status = len(response.content), response.status_code
    for _ in range(3):
        client.get(url)  # warm: templates, regex caches

    queries = []

    def log(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((time.perf_counter() - started, sql))

    with connection.execute_wrapper(log):
        client.get(url)

    wall = median_wall(client, url, requests)

    areas.exclusive.clear()
    areas.enabled = True
    with connection.execute_wrapper(areas.sql):
        started = time.perf_counter()
        for _ in range(requests):
            client.get(url)
        instrumented = (time.perf_counter() - started) / requests
    areas.enabled = False

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        client.get(url)
    profiler.disable()

    print(f"\n=== {url}  status {status}, {size:,} bytes")
    print(
        f"{len(queries)} SQL queries per request, {sum(s for s, _ in queries) * 1000:.1f} ms in them; "
        f"wall {wall * 1000:.1f} ms per request (median of {requests}) → at most {1 / wall:.0f} req/s per worker"
    )
    if show_sql:
        for seconds, sql in queries:
            print(f"   {seconds * 1000:6.1f} ms  {sql[:140]}")
    print(f"Time per request by area (exclusive; {instrumented * 1000:.1f} ms per request while measured):")
    accounted = 0.0
    for area, seconds in sorted(areas.exclusive.items(), key=lambda item: -item[1]):
        per_request = seconds / requests
        accounted += per_request
        print(f"  {area:<58} {per_request * 1000:7.1f} ms  {per_request / instrumented:5.0%}")
    print(f"  {'test client itself (outside the handler)':<58} {(instrumented - accounted) * 1000:7.1f} ms")

    stats = pstats.Stats(profiler)
    print("Notable functions (cumulative per request, under cProfile):")
    for label, filename, function in NOTABLE:
        matches = [v for (f, _, fn), v in stats.stats.items() if f.endswith(filename) and fn == function]
        if matches:
            calls, cumulative = sum(v[1] for v in matches), sum(v[3] for v in matches)
            print(f"  {label:<42} {cumulative / requests * 1000:7.1f} ms  ({calls / requests:.0f} calls)")
    output = io.StringIO()
    pstats.Stats(profiler, stream=output).sort_stats("tottime").print_stats(top)
    lines = output.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("ncalls")), 0)
    print(f"cProfile: top {top} functions by own time (over {requests} requests; the profiler slows everything):")
    print("\n".join(line.replace(str(benchlib.ROOT) + "/", "") for line in lines[start:] if line.strip()))
    return {"url": url, "status": status, "bytes": size, "queries": len(queries), "wall_ms": wall * 1000}


def median_wall(client, url, requests):
    """Median wall time in seconds of `requests` GETs of `url`."""
    walls = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(url)
        walls.append(time.perf_counter() - started)
    return statistics.median(walls)


def summary(urls, requests):
    """One line per URL: status, size, SQL queries per request, median wall time (page cache off, in-process)."""
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST=benchlib.HOST)
    rows = []
    print(f"{'URL':<44} {'status':>6} {'bytes':>10} {'queries':>7} {'median ms':>9}")
    for url in urls:
        for _ in range(2):
            response = client.get(url)  # warm
        count = []

        def counted(execute, *args, count=count):
            count.append(1)
            return execute(*args)

        with connection.execute_wrapper(counted):
            client.get(url)
        row = {"url": url, "status": response.status_code, "bytes": len(response.content), "queries": len(count)}
        row["wall_ms"] = median_wall(client, url, requests) * 1000
        rows.append(row)
        print(f"{url:<44} {row['status']:>6} {row['bytes']:>10,} {row['queries']:>7} {row['wall_ms']:>9.1f}")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--database", default=benchlib.BENCH_DATABASE)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--sql", action="store_true", help="list each query with its time")
    parser.add_argument("--static-root", help="collected static files to use (default: collect into a temp dir)")
    parser.add_argument("--summary", action="store_true", help="only status, size, queries and time per URL")
    parser.add_argument(
        "--cache-url", default="dummy://", help="page cache: dummy:// (off, default) or locmem:// (cache hits)"
    )
    parser.add_argument(
        "--stored",
        action="store_true",
        help="anonymous visitors' published pages served from their stored versions (default: rendered on request)",
    )
    parser.add_argument(
        "--warm-html",
        action="store_true",
        help="page cache off but rendered Markdown cached (locmem://, PAGE_CACHE_SECONDS=0): a page after an edit",
    )
    args = parser.parse_args()
    extra = {"PAGE_CACHE_SECONDS": 0} if args.warm_html else {}
    if not args.stored:
        extra["PUBLISHED_PAGES"] = 0  # what rendering a page costs
    with tempfile.TemporaryDirectory(prefix="bench-static-") as tmp:
        _setup(args.database, args.static_root or tmp, "locmem://" if args.warm_html else args.cache_url, **extra)
        if args.summary:
            summary(args.urls, args.requests)
            return
        areas = instrument()
        for url in args.urls:
            profile(url, args.requests, args.top, args.sql, areas)


if __name__ == "__main__":
    main()
