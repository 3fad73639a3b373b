"""Registry sync benchmark: N made-up studies (API v2 records, pages of 100) synced from a file into a fresh
temporary database — time and peak Python memory (tracemalloc) of a first sync (every study added) and of a second
one where a tenth of the studies changed and a tenth closed.

    .venv/bin/python bench/registry_sync_benchmark.py [--studies 500] [--locations 10] [--no-trace]
    .venv/bin/python bench/registry_sync_benchmark.py --postgres

With --postgres, the run creates the database mesoinfo_bench_registry on the local server (BENCH_SERVER_URL, as
the other benchmarks) and drops it afterwards. The records
come from tests/registry/builders.py (NCT numbers NCT9…, no real study). Not a test: pytest does not collect it.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import benchlib  # noqa: E402

DATABASE = "mesoinfo_bench_registry"


def run_child(studies, locations, folder, trace):
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from registry.models import RegistryLocation, RegistryStudy
    from tests.registry.builders import api_study, paged, write_pages
    from tests.registry.measure import measured_sync

    call_command("migrate", verbosity=0, interactive=False)
    first = write_pages(
        Path(folder) / "first.jsonl", paged((api_study(n, cities=locations) for n in range(studies)), 100)
    )
    # The next day: a tenth changed (moved to another country), a tenth gone, a tenth new.
    tenth = max(studies // 10, 1)
    second_studies = [
        api_study(n, cities=locations, countries=("Spain",) if n < tenth else ("France",))
        for n in range(studies + tenth)
        if not tenth <= n < 2 * tenth
    ]
    second = write_pages(Path(folder) / "second.jsonl", paged(second_studies, 100))
    for label, path in (("first sync", first), ("second sync", second)):
        seconds, peak, out = measured_sync(path, trace=trace)
        memory = f"peak {peak / 2**20:5.1f} MiB" if trace else "(untraced)"
        print(
            f"{connection.vendor:<10} {label:<12} {seconds:6.2f} s  {memory}  "
            f"file {path.stat().st_size / 2**20:5.1f} MiB  | {out.strip()}",
            flush=True,
        )
    print(f"{RegistryStudy.objects.count()} studies, {RegistryLocation.objects.count()} locations stored", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=500)
    parser.add_argument("--locations", type=int, default=10, help="locations per study")
    parser.add_argument(
        "--postgres", action="store_true", help=f"run on PostgreSQL ({DATABASE} on BENCH_SERVER_URL) instead of SQLite"
    )
    parser.add_argument("--no-trace", action="store_true", help="time without tracemalloc (which slows Python down)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_child(int(args.child[0]), int(args.child[1]), args.child[2], args.child[3] == "trace")
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
        env = {**os.environ, "DEBUG": "0", "SECRET_KEY": "bench", "DJANGO_SETTINGS_MODULE": "mesoinfo.settings"}
        if args.postgres:
            benchlib.recreate_database(DATABASE)
            env["DATABASE_URL"] = benchlib.database_url(DATABASE)
        else:
            env["DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        try:
            trace = "untraced" if args.no_trace else "trace"
            child = [sys.executable, __file__, "--child", str(args.studies), str(args.locations), tmp, trace]
            subprocess.run(child, env=env, cwd=ROOT, check=True)
        finally:
            if args.postgres:
                benchlib.drop_database(DATABASE)


if __name__ == "__main__":
    main()
