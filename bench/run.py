"""MesoInfo HTTP benchmark (`make bench`): pages against static files of the same size, through one gunicorn.

    .venv/bin/python bench/run.py              # generate the dataset (bench/generate.py), then measure
    .venv/bin/python bench/run.py --reuse      # reuse the dataset if it exists and its schema is current
    .venv/bin/python bench/run.py --reuse --duration 5 --warmup 2     # quicker, noisier

What it does, all on 127.0.0.1 with production settings (DEBUG=0, random SECRET_KEY, HTTPS=0,
ALLOWED_HOSTS=127.0.0.1, LOG_LEVEL=WARNING, CONN_MAX_AGE=60 as in docs/deploy.md):

1. `collectstatic` into a temporary STATIC_ROOT; the number of SQL queries of each page (in-process).
2. gunicorn with the Procfile's own `web` command (bound to 127.0.0.1 and a free port) and the page cache off:
   each page's size and the time of single uncached requests, pages the benchmark does not load included
   (trial list pages, the busy pemetrexed drug page, the sitemap).
3. For every page, a static file of exactly the page's size is written under STATIC_ROOT, served by whitenoise
   through the same gunicorn and Django middleware.
4. Phase "cached" (default local-memory page cache, warmed first), phase "uncached" (CACHE_URL=dummy://:
   nothing cached, every text rendered from Markdown) and phase "page cache off" (PAGE_CACHE_SECONDS=0: the
   whole-page cache off, each text's rendered HTML cached, as on the first visit after an edit), each a
   separate gunicorn: for each page then its static twin, a warm-up, then `--duration` seconds of
   closed-loop keep-alive load from `--connections` connections (wrk if installed, else a stdlib asyncio
   client). ratio = page req/s ÷ static req/s; each run also records the CPU time gunicorn and PostgreSQL spent
   per response, and how the work was split between the workers. gunicorn runs with WEB_WORKER_CONNECTIONS =
   connections ÷ workers, so the workers share the connections evenly. Then the overview with CONN_MAX_AGE=0
   (the default when unset), cached with gunicorn's default of 1000 worker connections, and, with --redis-url,
   cached in Redis.
5. Peak resident memory (VmHWM) of any gunicorn worker in each phase, sampled from /proc.
6. The targets (cached overview ≥ 0.8× static, uncached ≥ 0.25×); when the uncached one is missed, a profile of
   the overview (bench/profile_page.py) shows where its time goes.

Every load run is bounded by --duration (plus a request timeout) and stops by itself. Nothing outside
127.0.0.1 is contacted. The load generator shares the 2 cores with gunicorn and PostgreSQL: compare ratios,
not absolute numbers, across machines.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import benchlib, generate  # noqa: E402

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
TARGETS = {"cached": 0.8, "uncached": 0.25}
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
    """Status, size and the fastest of `repeats` single uncached requests for each page (page cache off)."""
    results = {}
    with benchlib.Gunicorn({**env, "CACHE_URL": "dummy://"}, port, label="probe") as server:
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
    parser.add_argument("--no-profile", action="store_true", help="skip the profile when a target is missed")
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

        print("\nSQL queries per page, page cache off (in-process, bench/profile_page.py --summary):", flush=True)
        subprocess.run(
            [sys.executable, str(Path(__file__).parent / "profile_page.py"), "--summary", "--requests", "3",
             "--static-root", str(static_root), *(path for _, path in PAGES + EXTRA_PAGES)],
            check=True,
        )  # fmt: skip

        port = benchlib.free_port()
        print("\nSingle requests, page cache off (fastest of 3):", flush=True)
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
        uncached, uncached_peak = measure({**env, "CACHE_URL": "dummy://"}, port, "uncached", PAGES, pads, args)
        # What a visitor meets right after an edit: the whole-page cache missed, every text's rendered HTML cached.
        after_edit, after_edit_peak = measure(
            {**env, "PAGE_CACHE_SECONDS": "0"}, port, "page cache off", PAGES, pads, args
        )
        overview, extra = PAGES[1:2], {}
        configurations = [
            ("cached, CONN_MAX_AGE=0", {"CONN_MAX_AGE": "0"}, ()),
            ("uncached, CONN_MAX_AGE=0", {"CONN_MAX_AGE": "0", "CACHE_URL": "dummy://"}, ()),
            # gunicorn's default: a worker accepts up to 1000 connections, so one may take most of them.
            ("cached, --worker-connections 1000", {"WEB_WORKER_CONNECTIONS": "1000"}, ()),
        ]
        if args.redis_url:
            # Short-lived entries: they expire by themselves from that Redis database.
            configurations.append(("cached in Redis", {"CACHE_URL": args.redis_url, "PAGE_CACHE_SECONDS": "300"}, ()))
        for name, overrides, extra_args in configurations:
            extra[name], _ = measure({**env, **overrides}, port, name, overview, pads, args, extra_args)

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

    print("\nTargets:")
    verdicts = {}
    for phase, rows in (("cached", cached), ("uncached", uncached)):
        value = ratio(rows["overview"])
        verdicts[phase] = value >= TARGETS[phase]
        print(
            f"  {phase} overview ≥ {TARGETS[phase]}× static: {value:.2f}× → {'MET' if verdicts[phase] else 'NOT MET'}"
        )
    value = ratio(after_edit["overview"])
    print(f"  (overview with the page cache off but its rendered Markdown cached, as after an edit: {value:.2f}×)")
    if not verdicts["uncached"]:
        static_ms = uncached["overview"]["static"].server_cpu_ms
        print(
            f"  Why: 0.25× would mean an uncached overview in {static_ms * 4:.1f} ms of CPU; rendering it costs "
            f"{uncached['overview']['page'].server_cpu_ms:.0f} ms ({after_edit['overview']['page'].server_cpu_ms:.0f} "
            "with its Markdown cached). Only a stored, rendered page answers that fast, which is what the page cache "
            "is: docs/performance.md, 'Uncached'."
        )
    errors = sum(r.error_count for rows in phases for row in rows.values() for r in row.values())
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
        targets={phase: {"target": TARGETS[phase], "met": met} for phase, met in verdicts.items()},
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
        print(f"Figures written to {args.json}")

    if not verdicts["uncached"] and not args.no_profile:
        print("\nThe uncached overview misses its target; where its time goes (bench/profile_page.py):", flush=True)
        subprocess.run(
            [sys.executable, str(Path(__file__).parent / "profile_page.py"), "--requests", "20", "--top", "15",
             PAGES[1][1]],
            check=True,
        )  # fmt: skip
    print(f"\nTotal time {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
