"""MesoInfo load test (`make loadtest`): 64 concurrent clients for 60 s on a mix of public URLs; zero errors allowed.

    .venv/bin/python bench/loadtest.py                        # the benchmark dataset (generated if missing)
    .venv/bin/python bench/loadtest.py --database seed        # the seed page, in its own mesoinfo_bench_seed
    .venv/bin/python bench/loadtest.py --clients 64 --duration 60 --cache-url redis://127.0.0.1:6379/15
    .venv/bin/python bench/loadtest.py --duration 180 --publish-every 60   # a trial change published every minute

gunicorn runs the Procfile's `web` command (2 workers × 4 gthread threads by default) on 127.0.0.1 with
production settings (DEBUG=0, random SECRET_KEY, HTTPS=0, LOG_LEVEL=WARNING, CONN_MAX_AGE=60) against
PostgreSQL, starting cold: the page cache fills during the run, as after a deploy or a content change. Every
published page has its stored version first (`manage.py build_pages`, as after a deploy).
Each of --clients keep-alive clients (stdlib asyncio, bench/benchlib.py) sends one request after another, each
to a URL drawn at random from a weighted mix: home, overview pages, drug and trial pages (all slugs of the
database: mostly cache misses), paginated lists, searches, the glossary, reference exports, the stylesheet
and /healthz. No request is sent after --duration seconds; each is abandoned after --timeout seconds.

With --publish-every N, this process publishes a change to a trial shown in overview tables through the editorial
workflow (editing, submit, approve) N/2 seconds into the run and then every N seconds, as a medical reviewer would
in the admin: the pages that show the trial get new versions, every other published page stays answered as stored.

Errors: any 4xx or 5xx status, connection failure or timeout, a publish that fails, and any traceback or worker
timeout in gunicorn's log. It prints throughput and latency percentiles overall and per kind of URL, the page-cache
hit rate (the share of public pages answered without rendering, from each response's X-Page-Cache header), and
exits 1 on any error. Every request goes to 127.0.0.1.
"""

import argparse
import datetime
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote_plus

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import benchlib, publish_timings  # noqa: E402

SEED_DATABASE = "mesoinfo_bench_seed"
SEARCHES = ["pemetrexed", "Alimta", "cisplatin", "pleural effusion", "surgery", "immunotherapy", "side effects",
            "radiation therapy", "clinical trial", "survival", "nivolumab", "chemotherapy cycle"]  # fmt: skip


def prepare_database(kind):
    if kind == "bench":
        database = benchlib.BENCH_DATABASE
        if benchlib.database_exists(database):
            check = subprocess.run(
                [sys.executable, "manage.py", "migrate", "--check"],
                env=benchlib.django_env(database),
                cwd=benchlib.ROOT,
                capture_output=True,
            )
            if check.returncode == 0:
                print(f"Database {database} (benchmark dataset, reused)")
                return database
        subprocess.run([sys.executable, str(Path(__file__).parent / "generate.py")], check=True)
        return database
    database = SEED_DATABASE
    benchlib.recreate_database(database)
    env = benchlib.django_env(database)
    for command in (["migrate", "--no-input", "-v", "0"], ["load_seed", "-v", "0"]):
        subprocess.run([sys.executable, "manage.py", *command], env=env, cwd=benchlib.ROOT, check=True)
    print(f"Database {database} (the seed content, freshly loaded)")
    return database


def published_slugs(database):
    """Slugs of what the public may see, and the stylesheet's hashed URL, straight from the database."""
    import psycopg2

    connection = psycopg2.connect(benchlib.database_url(database))
    try:
        with connection.cursor() as cursor:
            slugs = {}
            for table in ("overview", "drug", "trial"):
                cursor.execute(f"SELECT slug FROM treatments_{table} WHERE status = 'published' ORDER BY id")
                slugs[table] = [row[0] for row in cursor.fetchall()]
    finally:
        connection.close()
    return slugs


def targets(slugs, static_root):
    manifest = json.loads((Path(static_root) / "staticfiles.json").read_text())["paths"]
    stylesheet = "/static/" + manifest["css/site.css"]
    trial_pages = max(1, -(-len(slugs["trial"]) // 50))  # TrialListView.paginate_by
    drug_pages = max(1, -(-len(slugs["drug"]) // 100))  # DrugListView.paginate_by
    rng = random.Random(7)
    overviews = slugs["overview"] or [None]

    def pick(items, pattern):
        return lambda: pattern.format(rng.choice(items))

    return [
        ("home", "/", 10),
        ("overview", pick(slugs["overview"], "/treatment/{}/"), 25),
        ("drug page", pick(slugs["drug"], "/drugs/{}/"), 12),
        ("trial page", pick(slugs["trial"], "/trials/{}/"), 12),
        ("trial list", lambda: f"/trials/?page={rng.randint(1, trial_pages)}", 6),
        ("drug list", lambda: f"/drugs/?page={rng.randint(1, drug_pages)}", 4),
        ("search", lambda: f"/search/?q={quote_plus(rng.choice(SEARCHES))}", 10),
        ("glossary", "/glossary/", 3),
        ("references export", lambda: f"/treatment/{rng.choice(overviews)}/references.{rng.choice(['ris', 'bib'])}", 2),
        ("stylesheet", stylesheet, 14),
        ("healthz", "/healthz", 2),
    ]  # fmt: skip


class Publisher(threading.Thread):
    """Publishes a change to a trial shown in overview tables every `every` seconds (the first after half of it)
    until `duration` seconds from `start`, through the editorial workflow; `publishes` and `failures` say how it
    went."""

    def __init__(self, every, duration):
        super().__init__(name="publisher", daemon=True)
        self.every, self.duration = every, duration
        self.publishes, self.failures = [], []
        self.user, self.trials = publish_timings.reviewer(), publish_timings.trials_in_tables()

    def run(self):
        from django.db import connection

        start = time.monotonic()
        at = self.every / 2
        try:
            while at < self.duration:
                time.sleep(max(0.0, start + at - time.monotonic()))
                trial = self.trials[len(self.publishes) % len(self.trials)]
                trial.refresh_from_db()
                try:
                    run = publish_timings.publish(
                        trial,
                        self.user,
                        f"TEST DATA: load test publish {len(self.publishes) + 1}",
                        patient_count=publish_timings.toggled(trial, "patient_count", ""),
                    )
                except Exception as error:  # reported as an error of the run
                    self.failures.append(repr(error))
                else:
                    self.publishes.append(
                        {
                            "at_s": round(time.monotonic() - start, 1),
                            "trial": trial.slug,
                            "seconds": round(run.seconds, 3),
                            "pages_rendered": run.rendered,
                            "new_versions": [path for path, _version in run.versions],
                        }
                    )
                at += self.every
        finally:
            connection.close()


def log_problems(log_text):
    patterns = [r"Traceback", r"WORKER TIMEOUT", r"\[CRITICAL\]", r"\[ERROR\]", r'"level": "ERROR"']
    return [line for line in log_text.splitlines() if any(re.search(p, line) for p in patterns)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["bench", "seed"], default="bench")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=int, default=60, help="seconds (default 60)")
    parser.add_argument("--timeout", type=int, default=30, help="seconds before a request counts as failed")
    parser.add_argument("--cache-url", default="", help="page cache (default: local memory, as in production)")
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument(
        "--publish-every", type=int, default=0, help="publish a trial change every this many seconds (default: none)"
    )
    args = parser.parse_args()
    if not 0 < args.duration <= 600 or not 0 < args.clients <= 1000:
        raise SystemExit("--duration must be 1..600 seconds and --clients 1..1000")
    if args.publish_every and args.database != "bench":
        raise SystemExit("--publish-every needs the benchmark dataset (its trials tables)")

    when = datetime.datetime.now().astimezone()
    print(f"MesoInfo load test {when:%Y-%m-%d %H:%M %Z}: {os.cpu_count()} cores")
    database = prepare_database(args.database)
    benchlib.CpuWatch.database = database
    other = benchlib.wait_for_quiet(60)
    print(f"Other processes' CPU use before starting: {other:.2f} cores")
    with tempfile.TemporaryDirectory(prefix="mesoinfo-loadtest-") as tmp:
        static_root = Path(tmp) / "static"
        env = benchlib.django_env(database, static_root=static_root, cache_url=args.cache_url)
        if args.cache_url.startswith("redis"):
            env["PAGE_CACHE_SECONDS"] = "300"  # the load test's pages leave that Redis database by themselves
        benchlib.collectstatic(env)
        benchlib.build_pages(env)
        mix = targets(published_slugs(database), static_root)
        publisher = None
        if args.publish_every:
            publish_timings.setup_django(env)  # this process publishes, with the servers' settings
            publisher = Publisher(args.publish_every, args.duration)
        port = benchlib.free_port()
        server = benchlib.Gunicorn(env, port, label="loadtest")
        server.start()
        try:
            print(
                f"gunicorn {server.describe()} on {benchlib.HOST}:{port}, cache "
                f"{args.cache_url or 'local memory'}; {args.clients} clients for {args.duration}s…",
                flush=True,
            )
            watch, cpu_before = benchlib.CpuWatch(), resource.getrusage(resource.RUSAGE_SELF)
            ticks_before = server.worker_ticks()
            if publisher is not None:
                publisher.start()
            result = benchlib.run_python_load(port, mix, args.duration, args.clients, timeout=args.timeout)
            if publisher is not None:
                publisher.join(timeout=args.timeout)
            ticks_after = server.worker_ticks()
            cpu_after = resource.getrusage(resource.RUSAGE_SELF)
            split = [ticks_after[pid] - ticks_before[pid] for pid in ticks_before if pid in ticks_after]
            busiest = max(split) / sum(split) if len(split) > 1 and sum(split) else None
            other = watch.other_cores()
            generator_cores = (
                cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
            ) / result.seconds
            peak = server.peak_rss_mib()
            workers_seen = server.workers_seen()
        finally:
            server.stop()
        problems = log_problems(Path(server.log.name).read_text(errors="replace"))
        if problems:
            print(f"gunicorn's log is kept at {server.log.name}")
        else:
            os.unlink(server.log.name)

    print(
        f"\n{result.requests:,} responses in {result.seconds:.1f}s: {result.rps:.1f} req/s; latency p50 "
        f"{result.p50_ms:.1f} ms, p90 {result.p90_ms:.1f}, p95 {result.p95_ms:.1f}, p99 {result.p99_ms:.1f}, "
        f"max {result.max_ms:.1f} ms; {result.bytes / result.seconds / 1e6:.1f} MB/s"
    )
    print(f"statuses: {dict(sorted(result.statuses.items()))}; errors: {dict(result.errors) or 'none'}")
    print(
        f"peak worker RSS {peak:.0f} MiB ({workers_seen} worker processes seen); load generator used "
        f"{generator_cores:.2f} cores, other processes {other:.2f} cores"
        + (f"; busiest worker did {busiest:.0%} of the workers' CPU work" if busiest is not None else "")
    )
    header = (
        f"{'URL kind':<18} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  errors"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for label, _, _ in mix:
        row = result.by_label.get(label)
        if row is None:
            continue
        print(
            f"{label:<18} {row.requests:>8,} {row.rps:>7.1f} {row.p50_ms:>8.1f} {row.p95_ms:>8.1f} "
            f"{row.p99_ms:>8.1f} {row.max_ms:>8.1f}  {dict(row.errors) or 0}"
        )
    print(
        f"\nPage cache: {result.page_cache['hit']:,} public pages answered without rendering, "
        f"{result.page_cache['miss']:,} rendered: hit rate {result.hit_rate:.1%}"
        if result.hit_rate is not None
        else "\nPage cache: no public page answered"
    )
    print("  by kind: " + ", ".join(f"{label} {row.hit_rate:.1%}" for label, row in result.by_label.items()
                                     if row.hit_rate is not None))  # fmt: skip
    publishes, publish_failures = (publisher.publishes, publisher.failures) if publisher is not None else ([], [])
    for publish in publishes:
        print(
            f"  publish at {publish['at_s']:.0f}s ({publish['trial']}): {publish['seconds']:.2f}s, "
            f"{publish['pages_rendered']} pages rendered, new versions of {', '.join(publish['new_versions'])}"
        )
    for failure in publish_failures:
        print(f"  PUBLISH FAILED: {failure}")
    if problems:
        print(f"\ngunicorn's log has {len(problems)} problem lines, e.g.:\n  " + "\n  ".join(problems[:5]))
    failed = result.error_count + len(problems) + len(publish_failures)
    if args.json:
        figures = {
            "date": when.isoformat(timespec="minutes"),
            "database": args.database,
            "clients": args.clients,
            "duration_s": round(result.seconds, 1),
            "requests": result.requests,
            "rps": round(result.rps, 1),
            "latency_ms": {p: round(getattr(result, f"{p}_ms"), 1) for p in ("p50", "p90", "p95", "p99", "max")},
            "errors": dict(result.errors),
            "log_problems": len(problems),
            "page_cache": dict(result.page_cache) | {"hit_rate": result.hit_rate and round(result.hit_rate, 4)},
            "publish_every_s": args.publish_every or None,
            "publishes": publishes,
            "publish_failures": publish_failures,
            "statuses": {str(k): v for k, v in result.statuses.items()},
            "peak_rss_mib": round(peak),
            "other_cores": round(other, 2),
            "generator_cores": round(generator_cores, 2),
            "busiest_worker_share": busiest and round(busiest, 2),
            "by_label": {
                label: {"requests": r.requests, "p50_ms": round(r.p50_ms, 1), "p95_ms": round(r.p95_ms, 1),
                        "p99_ms": round(r.p99_ms, 1), "max_ms": round(r.max_ms, 1), "errors": dict(r.errors),
                        "page_cache": dict(r.page_cache)}
                for label, r in result.by_label.items()
            },
        }  # fmt: skip
        Path(args.json).write_text(json.dumps(figures, indent=2))
    print(f"\n{'PASS' if not failed else 'FAIL'}: {failed} errors (requirement: zero)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
