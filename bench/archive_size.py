"""The seed page's archive after 1,000 publishes: how much its stored versions take (docs/performance.md).

    .venv/bin/python bench/archive_size.py                     # 1,000 publishes (a few minutes)
    .venv/bin/python bench/archive_size.py --publishes 100 --json archive.json

Loads the seed content into its own PostgreSQL database (BENCH_DATABASE + "_archive", dropped and created again;
BENCH_SERVER_URL as for the other benchmarks), stores the seed overview's first version, then publishes
--publishes small changes to it through the editorial workflow (editing, submit, approve): each time one sentence
of its introduction changes; every third publish has a note for readers, the others are minor corrections.
Every publish changes the page, so each stores a version; versions are never deleted.

It reports the page's archive (pages.models.Page.archive_bytes: the compressed HTML of its versions, each distinct
page once, and each version's headers, reviewers and notes), the same pages uncompressed, and what PostgreSQL
holds on disk for the pages tables (pg_total_relation_size, indexes and TOAST included). tests/pages/
test_archive_size.py asserts the bound per publish.
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import benchlib, publish_timings  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--publishes", type=int, default=1000, help="publishes of the seed page (default 1000)")
    parser.add_argument("--json", help="write the figures to this JSON file")
    args = parser.parse_args()
    when = datetime.datetime.now().astimezone()
    database = f"{benchlib.BENCH_DATABASE}_archive"
    print(f"MesoInfo archive size {when:%Y-%m-%d %H:%M %Z}: {args.publishes:,} publishes of the seed page")
    benchlib.recreate_database(database)
    static_root = tempfile.mkdtemp(prefix="mesoinfo-archive-")
    env = benchlib.django_env(database, static_root=Path(static_root) / "static", cache_url="dummy://")
    benchlib.collectstatic(env)
    for command in (["migrate", "--no-input", "-v", "0"], ["load_seed", "-v", "0"]):
        subprocess.run([sys.executable, "manage.py", *command], env=env, cwd=benchlib.ROOT, check=True)
    publish_timings.setup_django(env)

    from django.contrib.auth.models import Group, User
    from django.db import connection

    from pages.models import Page, PageContent, PageVersion
    from pages.publishing import first_version
    from treatments.caching import watcher
    from treatments.models import Overview
    from treatments.roles import MEDICAL_REVIEWER

    user = User.objects.create_user("archive-reviewer", is_staff=True)  # before the seed page is stored
    user.groups.add(Group.objects.get(name=MEDICAL_REVIEWER))
    overview = Overview.objects.get()
    path = overview.get_absolute_url()
    first_version(path)
    original, seconds = overview.intro, []
    started = time.monotonic()
    for n in range(args.publishes):
        overview.refresh_from_db()
        listed = n % 3 == 0
        run = publish_timings.publish(
            overview,
            user,
            f"Wording {n + 1}." if listed else "",
            minor=not listed,
            intro=f"{original}\n\nWording checked, time {n + 1}.",
        )
        seconds.append(run.seconds)
        if (n + 1) % 100 == 0:
            print(f"  {n + 1:,} publishes, {time.monotonic() - started:.0f}s", flush=True)

    page = Page.objects.get(path=path)
    versions = page.versions.all()
    contents = PageContent.objects.filter(pk__in=versions.values("content"))
    with connection.cursor() as cursor:
        tables = [model._meta.db_table for model in (Page, PageVersion, PageContent)]
        cursor.execute("SELECT " + " + ".join("pg_total_relation_size(%s)" for _ in tables), tables)
        on_disk = cursor.fetchone()[0]
    figures = {
        "date": when.isoformat(timespec="minutes"),
        "page": path,
        "publishes": args.publishes,
        "versions": versions.count(),
        "distinct_pages": contents.count(),
        "html_bytes_latest": page.current.content.size,
        "archive_bytes": page.archive_bytes(),
        "uncompressed_bytes": sum(contents.values_list("size", flat=True)),
        "postgresql_bytes": on_disk,
        "other_pages_stored": Page.objects.exclude(pk=page.pk).count(),
        "publish_seconds_median": round(statistics.median(seconds), 3),
    }
    per_version = figures["archive_bytes"] / figures["versions"]
    print(
        f"\n{path}: {figures['versions']:,} versions ({figures['distinct_pages']:,} distinct pages of about "
        f"{figures['html_bytes_latest']:,} bytes)\n"
        f"  archive {figures['archive_bytes'] / 1e6:.2f} MB ({per_version:,.0f} bytes a version); uncompressed "
        f"{figures['uncompressed_bytes'] / 1e6:.1f} MB; PostgreSQL pages tables on disk "
        f"{figures['postgresql_bytes'] / 1e6:.1f} MB\n"
        f"  a publish took {figures['publish_seconds_median']:.3f}s (median)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
        print(f"Figures written to {args.json}")
    watcher.stop()  # the page-cache listener's connection, before its database goes
    connection.close()
    benchlib.drop_database(database)
    shutil.rmtree(static_root)
    print(f"Database {database} dropped; {os.cpu_count()} cores, {time.monotonic() - started:.0f}s of publishing")


if __name__ == "__main__":
    main()
