"""MesoInfo HTTP benchmark (`make bench`): pages against static files of the same size, through one gunicorn.

    .venv/bin/python bench/run.py              # generate the dataset (bench/generate.py), then measure
    .venv/bin/python bench/run.py --reuse      # reuse the dataset if it exists and its schema is current
    .venv/bin/python bench/run.py --reuse --duration 5 --warmup 2     # quicker, noisier

What it does, all on 127.0.0.1 with production settings (DEBUG=0, random SECRET_KEY, HTTPS=0,
ALLOWED_HOSTS=127.0.0.1, LOG_LEVEL=WARNING, CONN_MAX_AGE=60 as in docs/deploy.md):

1. `collectstatic` into a temporary STATIC_ROOT, then `manage.py build_pages`: every public page has a current
   published version for this release (nothing to do unless the code, templates or static files changed since
   the last run); the number of SQL queries of each page as rendered (in-process).
2. gunicorn with the Procfile's own `web` command (bound to 127.0.0.1 and a free port) and pages rendered on
   request (page cache and published pages off): each page's size and the time of single rendered requests,
   pages the benchmark does not load included (trial list pages, the busy pemetrexed drug page, the sitemap).
3. For every page, a static file of exactly the page's size is written under STATIC_ROOT, served by whitenoise
   through the same gunicorn and Django middleware.
4. Phase "cached" (the defaults: published pages served as stored, other pages from the local-memory page cache,
   warmed first), phase "uncached" (CACHE_URL=dummy:// and PUBLISHED_PAGES=0: every page rendered, every text
   from Markdown) and phase "page cache off" (PAGE_CACHE_SECONDS=0 and PUBLISHED_PAGES=0: every page rendered,
   each text's HTML cached), each a separate gunicorn: for each page then its static twin, a warm-up, then
   `--duration` seconds of closed-loop keep-alive load from `--connections` connections (wrk if installed, else
   a stdlib asyncio client). ratio = page req/s ÷ static req/s; each run also records the CPU time gunicorn and
   PostgreSQL spent per response, and how the work was split between the workers. gunicorn runs with
   WEB_WORKER_CONNECTIONS = connections ÷ workers, so the workers share the connections evenly. Then the overview
   with CONN_MAX_AGE=0 (the default when unset), cached with gunicorn's default of 1000 worker connections,
   served from its stored version with no cache at all (CACHE_URL=dummy://: PostgreSQL on every request), and,
   with --redis-url, cached in Redis.
5. Phase "first view after a publish": gunicorn with the defaults; --first-view-rounds times, each of four
   changes (an overview's section, its summary, a drug, a trial in its tables) is published through the
   editorial workflow in this process (editing, submit, approve: bench/publish_timings.py), then the first
   anonymous request for each page the publish gave a new version is timed (one request on a new connection,
   its body checked against the stored version), and then its static twin's. ratio = static ms ÷ page ms.
6. Publish timings at this scale (bench/publish_timings.py): a section, a glossary term every overview uses, a
   reference 1,000 trials list; seconds per publish and pages rendered.
7. Peak resident memory (VmHWM) of any gunicorn worker in each phase, sampled from /proc.
8. The targets (cached overview ≥ 0.95× static; the first view of each page after a publish ≥ 0.25×).

Every load run is bounded by --duration (plus a request timeout) and stops by itself. Nothing outside
127.0.0.1 is contacted. The load generator shares the 2 cores with gunicorn and PostgreSQL: compare ratios,
not absolute numbers, across machines.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import benchlib, generate, publish_timings  # noqa: E402

PAGES = [
    ("home", "/"),
    ("overview", f"/treatment/{generate.OVERVIEW_SLUG}/"),
    ("drug", f"/drugs/{generate.DRUG_SLUG}/"),
    ("trial list", "/trials/"),
    ("search", f"/search/?q={generate.SEARCH_QUERY}"),
]
# Measured once each (size, single-request time), not loaded.
EXTRA_PAGES = [
    ("overview, no reviewer on record", "/treatment/test-data-overview-002/"),
    ("trial list, last page", "/trials/?page=400"),
    ("drug list", "/drugs/"),
    (f"drug page: {generate.BUSY_DRUG_SLUG} (in many trials)", f"/drugs/{generate.BUSY_DRUG_SLUG}/"),
    ("trial page", "/trials/test-data-trial-00001/"),
    ("glossary", "/glossary/"),
    ("sitemap.xml (the index)", "/sitemap.xml"),
    ("sitemap-trials.xml (20,000 URLs)", "/sitemap-trials.xml"),
]
FIRST_VIEW = "first view after a publish"
TARGETS = {"cached": 0.95, FIRST_VIEW: 0.25}
RENDERED = {"PUBLISHED_PAGES": "0"}  # every page rendered on request (published pages off)
OTHER_CPU_LIMIT = 0.15  # cores used by processes outside the benchmark above which a run is flagged


def ensure_dataset(reuse):
    database = benchlib.BENCH_DATABASE
    if reuse and benchlib.database_exists(database):
        env = benchlib.django_env(database)
        check = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--check"], env=env, cwd=benchlib.ROOT, capture_output=True
        )
        if check.returncode == 0:
            print(f"Reusing database {database} (schema current).")
            return
        print(f"Database {database} has unapplied migrations: generating it again.")
    subprocess.run([sys.executable, str(Path(__file__).parent / "generate.py")], check=True)


def pad_file(static_root, name, size):
    """A static HTML file of exactly `size` bytes under STATIC_ROOT/bench-pad/; returns its URL path."""
    chunk = b"<p>TEST DATA static file of the same size as a page, served by whitenoise.</p>\n"
    content = (b"<!DOCTYPE html>\n" + chunk * (size // len(chunk) + 1))[:size]
    path = Path(static_root) / "bench-pad" / f"{name}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return f"/static/bench-pad/{name}.html"


def slug(label):
    return "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-")


def probe(env, port, pages, repeats=3):
    """Status, size and the fastest of `repeats` single requests for each page, rendered (nothing cached)."""
    results = {}
    with benchlib.Gunicorn({**env, **RENDERED, "CACHE_URL": "dummy://"}, port, label="probe") as server:
        print(f"gunicorn: {server.describe()} — Procfile web command on {benchlib.HOST}:{port}")
        for label, path in pages:
            times, size, status = [], 0, 0
            for _ in range(repeats):
                status, _, body, seconds = benchlib.fetch(port, path)
                times.append(seconds)
                size = len(body)
            results[label] = {"path": path, "status": status, "bytes": size, "single_ms": min(times) * 1000}
    return results


def measure_url(server, url, args):
    """Warm-up, then a measured run; measured again (at most --retries times, within --budget) when other
    processes took more than OTHER_CPU_LIMIT cores meanwhile. Also records how the work was split between the
    workers (gthread workers keep the keep-alive connections they accepted)."""
    result = None
    for _ in range(args.retries + 1):
        if result is not None:
            print(f"    other processes used {result.other_cores:.2f} cores: waiting for quiet, measuring again")
            benchlib.wait_for_quiet(min(30, max(0, args.deadline - time.monotonic())))
        load = {"connections": args.connections, "timeout": args.timeout, "tool": args.tool}
        benchlib.run_load(server.port, url, args.warmup, **load)
        before = server.worker_ticks()
        result = benchlib.run_load(server.port, url, args.duration, **load)
        after = server.worker_ticks()
        split = [after[pid] - before[pid] for pid in before if pid in after]
        result.busiest_worker_share = max(split) / sum(split) if len(split) > 1 and sum(split) else None
        if not disturbed(result) or time.monotonic() > args.deadline:
            break
    return result


def measure(env, port, label, pages, pads, args, extra_args=()):
    """One gunicorn; each page then its static twin."""
    rows = {}
    with benchlib.Gunicorn(env, port, label=label, extra_args=extra_args) as server:
        for page, path in pages:
            for kind, url in (("page", path), ("static", pads[page])):
                result = measure_url(server, url, args)
                rows.setdefault(page, {})[kind] = result
                errors = f"  ERRORS {dict(result.errors)}" if result.error_count else ""
                busy = f"  (other processes used {result.other_cores:.2f} cores)" if disturbed(result) else ""
                share = result.busiest_worker_share
                split = f", busiest worker {share:.0%}" if share is not None else ""
                print(
                    f"  [{label}] {page:<11} {kind:<6} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.1f} ms  "
                    f"p95 {result.p95_ms:7.1f} ms  CPU {result.server_cpu_ms:6.2f} ms/req  "
                    f"({result.requests} requests{split}){errors}{busy}",
                    flush=True,
                )
        peak = server.peak_rss_mib()
        print(f"  [{label}] peak worker RSS {peak:.0f} MiB ({server.workers_seen()} worker processes seen)")
    return rows, peak


def page_kind(path):
    for prefix, kind in (("/treatment/", "overview"), ("/drugs/", "drug"), ("/trials/", "trial")):
        if path.startswith(prefix):
            return kind
    return "home" if path == "/" else path


def measure_first_view(env, port, static_root, rounds):
    """Publish each of publish_timings.FIRST_VIEW_CHANGES `rounds` times; after each publish, time the first
    request for every page that got a new version, then its static twin's. Returns ([sample], peak RSS)."""
    from pages.models import PageVersion

    user = publish_timings.reviewer()
    changes = publish_timings.first_view_changes()
    # Whitenoise lists STATIC_ROOT when gunicorn starts: every page a publish may change gets its twin now, of the
    # size of its current version (a publish changes a few bytes).
    pads = {
        path: pad_file(static_root, f"first-view-{slug(path)}", size)
        for change in changes
        for path, size in change.pages.items()
    }
    samples = []
    with benchlib.Gunicorn(env, port, label="first view") as server:
        for n in range(rounds):
            for change in changes:
                for path in change.pages:  # served before the publish, as on a live site
                    for _ in range(2):
                        benchlib.fetch(port, path)
                change.record.refresh_from_db()
                value = publish_timings.toggled(change.record, change.field, change.suffix)
                run = publish_timings.publish(
                    change.record, user, f"TEST DATA: first view {n + 1}", **{change.field: value}
                )
                time.sleep(0.5)  # every worker has heard of the publish (PostgreSQL NOTIFY) long before a visitor
                for path, version_id in run.versions:
                    stored = PageVersion.objects.select_related("content").get(pk=version_id).content.html
                    status, _, body, seconds = benchlib.fetch(port, path)
                    sample = {
                        "change": change.label,
                        "path": path,
                        "kind": page_kind(path),
                        "status": status,
                        "bytes": len(body),
                        "as_stored": body == stored,
                        "page_ms": round(seconds * 1000, 2),
                    }
                    if path in pads:
                        _, _, _, static_seconds = benchlib.fetch(port, pads[path])
                        sample["static_ms"] = round(static_seconds * 1000, 2)
                    samples.append(sample)
                    print(
                        f"  [{FIRST_VIEW}] round {n + 1} {change.label:<8} {path:<42} {status} "
                        f"{sample['page_ms']:6.1f} ms, "
                        + (f"static {sample['static_ms']:5.1f} ms" if "static_ms" in sample else "no static twin")
                        + ("" if sample["as_stored"] else "  ← NOT THE STORED VERSION"),
                        flush=True,
                    )
        peak = server.peak_rss_mib()
    return samples, peak


def print_first_views(samples, peak):
    """Per kind of page: the first requests' median time against their static twins'; {kind: figures}."""
    rows = {}
    for kind in dict.fromkeys(sample["kind"] for sample in samples):
        paired = [s for s in samples if s["kind"] == kind and "static_ms" in s]
        if not paired:
            continue
        page_ms = statistics.median(s["page_ms"] for s in paired)
        static_ms = statistics.median(s["static_ms"] for s in paired)
        rows[kind] = {
            "requests": len(paired),
            "bytes": round(statistics.median(s["bytes"] for s in paired)),
            "page_p50_ms": round(page_ms, 2),
            "page_max_ms": max(s["page_ms"] for s in paired),
            "static_p50_ms": round(static_ms, 2),
            "ratio": round(static_ms / page_ms, 3) if page_ms else 0.0,
        }
    print(
        f"\n{FIRST_VIEW[0].upper() + FIRST_VIEW[1:]} (one request on a new connection) — peak worker RSS {peak:.0f} MiB"
    )
    header = (
        f"{'page':<9} {'bytes':>9} {'requests':>8} | {'first ms p50':>12} {'max':>6} | {'static ms p50':>13} | ratio"
    )
    print(header + "\n" + "-" * len(header))
    for kind, row in rows.items():
        print(
            f"{kind:<9} {row['bytes']:>9,} {row['requests']:>8} | {row['page_p50_ms']:>12.2f} "
            f"{row['page_max_ms']:>6.1f} | {row['static_p50_ms']:>13.2f} | {row['ratio']:.2f}"
        )
    print("ratio = static ms ÷ first-request ms (medians); each body was checked against the version stored.")
    return rows


def disturbed(result):
    return result.other_cores > OTHER_CPU_LIMIT


def ratio(row):
    return row["page"].rps / row["static"].rps if row["static"].rps else 0.0


def cost_ratio(row):
    """Static CPU per request ÷ page CPU per request: the throughput ratio on an otherwise idle machine."""
    return row["static"].server_cpu_ms / row["page"].server_cpu_ms if row["page"].server_cpu_ms else 0.0


def print_table(title, rows, sizes):
    print(f"\n{title}")
    header = (
        f"{'page':<11} {'bytes':>9} | {'page req/s':>10} {'p50 ms':>7} {'p95 ms':>7} {'CPU ms':>6} {'busiest':>7} | "
        f"{'static req/s':>12} {'p50 ms':>6} {'p95 ms':>6} {'CPU ms':>6} | {'ratio':>5} {'CPU ratio':>9}"
    )
    print(header)
    print("-" * len(header))
    for page, row in rows.items():
        p, s = row["page"], row["static"]
        busiest = f"{p.busiest_worker_share:.0%}" if p.busiest_worker_share is not None else "—"
        print(
            f"{page:<11} {sizes[page]['bytes']:>9,} | {p.rps:>10.1f} {p.p50_ms:>7.1f} {p.p95_ms:>7.1f} "
            f"{p.server_cpu_ms:>6.2f} {busiest:>7} | {s.rps:>12.1f} {s.p50_ms:>6.1f} {s.p95_ms:>6.1f} "
            f"{s.server_cpu_ms:>6.2f} | {ratio(row):>5.2f} {cost_ratio(row):>9.2f}"
            + (" *" if disturbed(p) or disturbed(s) else "")
        )
    print(
        "ratio = page req/s ÷ static req/s. CPU ms = gunicorn + PostgreSQL CPU time per response; busiest = share of "
        "the workers' CPU used by the busiest worker (50% = balanced); CPU ratio = static CPU ÷ page CPU."
    )


def as_json(rows):
    return {
        page: {
            kind: {
                "rps": round(r.rps, 1),
                "p50_ms": round(r.p50_ms, 1),
                "p95_ms": round(r.p95_ms, 1),
                "requests": r.requests,
                "server_cpu_ms": round(r.server_cpu_ms, 3),
                "busiest_worker_share": r.busiest_worker_share and round(r.busiest_worker_share, 2),
                "errors": dict(r.errors),
                "other_cores": round(r.other_cores, 2),
            }
            for kind, r in row.items()
        }
        | {"ratio": round(ratio(row), 3), "cpu_ratio": round(cost_ratio(row), 3)}
        for page, row in rows.items()
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reuse", action="store_true", help="reuse mesoinfo_bench if present and current")
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per measurement (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up before each (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections (default 16)")
    parser.add_argument("--timeout", type=int, default=30, help="request timeout in seconds (default 30)")
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--redis-url", help="also measure the cached overview with this Redis page cache")
    parser.add_argument("--json", help="write every figure to this JSON file")
    parser.add_argument(
        "--first-view-rounds", type=int, default=6, help="publishes of each change in the first-view phase (default 6)"
    )
    parser.add_argument(
        "--publish-repeat", type=int, default=2, help="publishes of each change timed at scale (default 2; 0: skip)"
    )
    parser.add_argument(
        "--wait-quiet", type=int, default=120, help="wait up to this many seconds for other processes to go idle"
    )
    parser.add_argument("--retries", type=int, default=2, help="measure a disturbed run again, at most this often")
    parser.add_argument(
        "--budget", type=int, default=720, help="seconds of measuring after which disturbed runs are not retried"
    )
    args = parser.parse_args()
    if args.tool in ("auto", "wrk") and not benchlib.have_wrk():
        if args.tool == "wrk":
            raise SystemExit(benchlib.WRK_HINT)
        print(benchlib.WRK_HINT)
    started = time.monotonic()
    when = datetime.datetime.now().astimezone()
    if args.first_view_rounds < 1:
        raise SystemExit("--first-view-rounds must be at least 1")
    print(
        f"MesoInfo benchmark {when:%Y-%m-%d %H:%M %Z} on {platform.node()}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load generator: "
        f"{'wrk' if args.tool != 'python' and benchlib.have_wrk() else 'python asyncio'}"
    )

    ensure_dataset(args.reuse)
    other = benchlib.wait_for_quiet(args.wait_quiet)
    print(f"Other processes' CPU use before measuring: {other:.2f} cores")
    report = {"date": when.isoformat(timespec="minutes"), "cores": os.cpu_count(), "args": dict(vars(args))}
    report["other_cores_before"] = round(other, 2)
    with tempfile.TemporaryDirectory(prefix="mesoinfo-bench-") as tmp:
        static_root = Path(tmp) / "static"
        env = benchlib.django_env(benchlib.BENCH_DATABASE, static_root=static_root)
        # Each worker accepts at most its share of the load generator's connections. Otherwise one gthread worker
        # may take most of them and keep them (keep-alive), and that run measures one core instead of two.
        workers = int(benchlib.gunicorn_option(benchlib.procfile_web_command(0, env), "--workers", "1"))
        env["WEB_WORKER_CONNECTIONS"] = str(max(1, args.connections // workers))
        benchlib.collectstatic(env)
        print("\nPublished pages (manage.py build_pages):", flush=True)
        benchlib.build_pages(env)

        print("\nSQL queries per page, page cache off (in-process, bench/profile_page.py --summary):", flush=True)
        subprocess.run(
            [sys.executable, str(Path(__file__).parent / "profile_page.py"), "--summary", "--requests", "3",
             "--static-root", str(static_root), *(path for _, path in PAGES + EXTRA_PAGES)],
            check=True,
        )  # fmt: skip

        port = benchlib.free_port()
        print("\nSingle requests, rendered, nothing cached (fastest of 3):", flush=True)
        sizes = probe(env, port, PAGES + EXTRA_PAGES)
        for label, info in sizes.items():
            flag = "" if info["status"] == 200 else "  ← NOT 200"
            print(f"  {label:<46} {info['bytes']:>10,} bytes  {info['single_ms']:8.1f} ms  {info['path']}{flag}")
        broken = [label for label, info in sizes.items() if info["status"] != 200]
        if broken:
            raise SystemExit(f"pages not answering 200: {broken}")
        report["pages"] = sizes
        pads = {label: pad_file(static_root, slug(label), sizes[label]["bytes"]) for label, _ in PAGES}

        print(f"\nLoad: {args.connections} connections, {args.warmup}s warm-up + {args.duration}s per run", flush=True)
        args.deadline = time.monotonic() + args.budget
        cached, cached_peak = measure(env, port, "cached", PAGES, pads, args)
        # What rendering a page on request costs (published pages off): with nothing cached, then with each text's
        # rendered HTML cached.
        uncached, uncached_peak = measure(
            {**env, **RENDERED, "CACHE_URL": "dummy://"}, port, "uncached", PAGES, pads, args
        )
        after_edit, after_edit_peak = measure(
            {**env, **RENDERED, "PAGE_CACHE_SECONDS": "0"}, port, "page cache off", PAGES, pads, args
        )
        overview, extra = PAGES[1:2], {}
        configurations = [
            ("cached, CONN_MAX_AGE=0", {"CONN_MAX_AGE": "0"}, ()),
            ("uncached, CONN_MAX_AGE=0", {**RENDERED, "CONN_MAX_AGE": "0", "CACHE_URL": "dummy://"}, ()),
            # A published page read from PostgreSQL on every request: no cache of any kind.
            ("stored, nothing cached", {"CACHE_URL": "dummy://"}, ()),
            # gunicorn's default: a worker accepts up to 1000 connections, so one may take most of them.
            ("cached, --worker-connections 1000", {"WEB_WORKER_CONNECTIONS": "1000"}, ()),
        ]
        if args.redis_url:
            # Short-lived entries: they expire by themselves from that Redis database.
            configurations.append(("cached in Redis", {"CACHE_URL": args.redis_url, "PAGE_CACHE_SECONDS": "300"}, ()))
        for name, overrides, extra_args in configurations:
            extra[name], _ = measure({**env, **overrides}, port, name, overview, pads, args, extra_args)

        # From here on, this process runs Django too: it publishes through the editorial workflow.
        publish_timings.setup_django(env)
        print(f"\nPhase {FIRST_VIEW!r}: {args.first_view_rounds} rounds of 4 publishes", flush=True)
        first_views, first_view_peak = measure_first_view(env, port, static_root, args.first_view_rounds)
    if args.publish_repeat:
        print("\nPublish timings at this scale (bench/publish_timings.py):", flush=True)
        benchlib.wait_for_quiet(min(args.wait_quiet, 30))
        publishes = publish_timings.measure(args.publish_repeat)

    print_table(f"Cached (local-memory page cache, warmed) — peak worker RSS {cached_peak:.0f} MiB", cached, sizes)
    print_table(f"Uncached (CACHE_URL=dummy://) — peak worker RSS {uncached_peak:.0f} MiB", uncached, sizes)
    print_table(
        f"Page cache off, rendered Markdown cached (PAGE_CACHE_SECONDS=0) — peak worker RSS {after_edit_peak:.0f} MiB",
        after_edit,
        sizes,
    )
    phases = (cached, uncached, after_edit, *extra.values())
    flagged = [r for rows in phases for row in rows.values() for r in row.values() if disturbed(r)]
    if flagged:
        print(
            f"* {len(flagged)} runs shared the CPU with other processes (> {OTHER_CPU_LIMIT} cores, up to "
            f"{max(r.other_cores for r in flagged):.2f}): their figures are low; run again on a quiet machine."
        )
    print("\nOverview, other configurations:")
    for name, rows in extra.items():
        row = rows["overview"]
        print(
            f"  {name:<26} {row['page'].rps:8.1f} req/s (p50 {row['page'].p50_ms:.1f} ms, p95 "
            f"{row['page'].p95_ms:.1f} ms, CPU {row['page'].server_cpu_ms:.2f} ms) vs static "
            f"{row['static'].rps:8.1f} req/s → ratio {ratio(row):.2f}, CPU ratio {cost_ratio(row):.2f}"
            + (" *" if disturbed(row["page"]) or disturbed(row["static"]) else "")
        )

    first_view_rows = print_first_views(first_views, first_view_peak)
    if args.publish_repeat:
        publish_timings.print_table(publishes)

    print("\nTargets:")
    verdicts = {}
    value = ratio(cached["overview"])
    verdicts["cached"] = value >= TARGETS["cached"]
    print(
        f"  cached overview ≥ {TARGETS['cached']}× static: {value:.2f}× → {'MET' if verdicts['cached'] else 'NOT MET'}"
    )
    worst = min(first_view_rows.values(), key=lambda row: row["ratio"]) if first_view_rows else None
    verdicts[FIRST_VIEW] = worst is not None and worst["ratio"] >= TARGETS[FIRST_VIEW]
    print(
        f"  {FIRST_VIEW}, every kind of page ≥ {TARGETS[FIRST_VIEW]}× static: "
        + ", ".join(f"{kind} {row['ratio']:.2f}×" for kind, row in first_view_rows.items())
        + f" → {'MET' if verdicts[FIRST_VIEW] else 'NOT MET'}"
    )
    print(
        f"  (rendered on request, no target: overview {ratio(uncached['overview']):.2f}× with nothing cached, "
        f"{ratio(after_edit['overview']):.2f}× with its Markdown cached)"
    )
    errors = sum(r.error_count for rows in phases for row in rows.values() for r in row.values())
    errors += sum(1 for sample in first_views if sample["status"] != 200 or not sample["as_stored"])
    print(f"  errors during the benchmark: {errors}")

    report.update(
        cached=as_json(cached),
        uncached=as_json(uncached),
        page_cache_off=as_json(after_edit),
        extra={name: as_json(rows) for name, rows in extra.items()},
        peak_rss_mib={
            "cached": round(cached_peak),
            "uncached": round(uncached_peak),
            "page_cache_off": round(after_edit_peak),
        },
        first_view={"by_kind": first_view_rows, "requests": first_views, "peak_rss_mib": round(first_view_peak)},
        publish_timings=publishes if args.publish_repeat else None,
        targets={phase: {"target": TARGETS[phase], "met": met} for phase, met in verdicts.items()},
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
        print(f"Figures written to {args.json}")
    print(f"\nTotal time {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
