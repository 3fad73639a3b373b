"""Reference import benchmark: a synthetic 10,000-record RIS file and MEDLINE file, each imported into a fresh
temporary SQLite database, with wall times for parse, plan and import.

    .venv/bin/python bench/import_benchmark.py [--records 10000]
    .venv/bin/python bench/import_benchmark.py --database-url postgres://postgres@127.0.0.1:5432/postgres

With --database-url, each run creates a temporary database on that server and drops it afterwards.
Every record is synthetic test data (fake PMIDs 9xxxxxxx, DOIs 10.9999/bench.N). Not a test: pytest does not
collect it (it lives outside tests/).
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SURNAMES = ["Author", "Person", "Example", "Sample", "Dummy", "Müller", "de Test", "O'Placeholder", "Fixture", "Mock"]
WORDS = "pemetrexed cisplatin pleural mesothelioma survival phase trial response toxicity synthetic cohort".split()


def _work(rng, i):
    count = rng.randint(1, 9)
    authors = [(rng.choice(SURNAMES), rng.choice("ABCDEFGH") + rng.choice(["", "J", "K"])) for _ in range(count)]
    title = f"TEST DATA {i}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 22)))
    start = rng.randint(1, 3000)
    return {
        "authors": authors,
        "title": title,
        "year": rng.randint(1990, 2024),
        "volume": str(rng.randint(1, 60)),
        "issue": str(rng.randint(1, 24)),
        "pages": (start, start + rng.randint(3, 15)),
        "pmid": str(90000000 + i) if i % 4 else "",
        "doi": f"10.9999/bench.{i}" if i % 3 else "",
    }


def synthetic_ris(count, seed=1):
    rng, lines = random.Random(seed), []
    for i in range(count):
        work = _work(rng, i)
        lines += ["TY  - JOUR", f"TI  - {work['title']}"]
        lines += [f"AU  - {surname}, {initials}" for surname, initials in work["authors"]]
        lines += ["T2  - Test Journal of Synthetic Data", "J2  - Test J", f"PY  - {work['year']}"]
        lines += [f"VL  - {work['volume']}", f"IS  - {work['issue']}"]
        lines += [f"SP  - {work['pages'][0]}", f"EP  - {work['pages'][1]}"]
        if work["doi"]:
            lines.append(f"DO  - https://doi.org/{work['doi']}")
        if work["pmid"]:
            lines.append(f"AN  - {work['pmid']}")
        lines += ["ER  - ", ""]
    return "\n".join(lines)


def _wrapped(tag, text, width=80):
    words, lines, current = text.split(), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width - 6:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    lines.append(current)
    return [f"{tag:<4}- {lines[0]}", *(f"      {line}" for line in lines[1:])]


def _medline_pages(start, end):
    """MEDLINE abbreviates page ranges: 2636-2644 → 2636-44."""
    start, end = str(start), str(end)
    if len(start) == len(end):
        common = 0
        while common < len(start) - 1 and start[common] == end[common]:
            common += 1
        end = end[common:]
    return f"{start}-{end}"


def synthetic_medline(count, seed=2):
    rng, lines = random.Random(seed), []
    for i in range(count):
        work = _work(rng, i)
        lines += [f"PMID- {work['pmid'] or 80000000 + i}", "OWN - NLM", "STAT- MEDLINE"]
        lines += [f"VI  - {work['volume']}", f"IP  - {work['issue']}", f"DP  - {work['year']} Jan 15"]
        lines += _wrapped("TI", work["title"] + ".")
        lines += [f"PG  - {_medline_pages(*work['pages'])}"]
        lines += _wrapped("AB", "TEST DATA abstract. " + " ".join(rng.choice(WORDS) for _ in range(60)))
        for surname, initials in work["authors"]:
            lines += [f"FAU - {surname}, {initials}", f"AU  - {surname} {initials}"]
        lines += ["LA  - eng", "PT  - Journal Article", "TA  - Test J", "JT  - Test journal of synthetic data"]
        if work["doi"]:
            lines.append(f"AID - {work['doi']} [doi]")
        lines.append("")
    return "\n".join(lines)


def run_child(fmt, path):
    """In a fresh process whose DATABASE_URL names an empty database: migrate, then time parse, plan, import."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries

    from references.importing import detect_format, parse, plan_import, reference_import
    from references.models import Reference

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrated = time.perf_counter() - started
    text = Path(path).read_text(encoding="utf-8")
    assert detect_format(text) == fmt

    times = {}
    started = time.perf_counter()
    records = parse(text, fmt)
    times["parse"] = time.perf_counter() - started
    reset_queries()
    started = time.perf_counter()
    plan = plan_import(records)
    times["plan"] = time.perf_counter() - started
    plan_queries = len(connection.queries)
    reset_queries()
    started = time.perf_counter()
    created = reference_import(plan)
    times["import"] = time.perf_counter() - started
    import_queries = len(connection.queries)
    # Planning the same file again: every record now matches a reference already in the table.
    started = time.perf_counter()
    replan = plan_import(records)
    times["re-plan"] = time.perf_counter() - started

    assert len(records) == len(created) == Reference.objects.count() == Reference.history.count()
    assert len(replan.existing) == len(records) and not plan.rejected
    total = times["parse"] + times["plan"] + times["import"]
    print(
        f"{fmt:<8} {len(records):>6} records on {connection.vendor:<10}  "
        + "  ".join(f"{name} {seconds:6.2f}s" for name, seconds in times.items())
        + f"  | parse+plan+import {total:6.2f}s  (queries: plan {plan_queries}, import {import_queries}; "
        f"migrate {migrated:.1f}s)",
        flush=True,
    )


def _postgres_database(url, name, create):
    import psycopg2

    connection = psycopg2.connect(url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'{"CREATE" if create else "DROP"} DATABASE "{name}"')
    connection.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--database-url", help="A PostgreSQL server to run on instead of SQLite (postgres://...).")
    parser.add_argument("--child", nargs=2, metavar=("FORMAT", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_child(*args.child)

    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        files = {"ris": Path(tmp) / "bench.ris", "medline": Path(tmp) / "bench.nbib"}
        files["ris"].write_text(synthetic_ris(args.records), encoding="utf-8")
        files["medline"].write_text(synthetic_medline(args.records), encoding="utf-8")
        for fmt, path in files.items():
            print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB", flush=True)
            env = {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "mesoinfo.settings"}
            database = None
            if args.database_url:
                database = f"mesoinfo_import_bench_{os.getpid()}_{fmt}"
                _postgres_database(args.database_url, database, create=True)
                env["DATABASE_URL"] = args.database_url.rsplit("/", 1)[0] + f"/{database}"
            else:
                env["DATABASE_URL"] = f"sqlite:///{Path(tmp) / f'{fmt}.sqlite3'}"
            try:
                subprocess.run([sys.executable, __file__, "--child", fmt, str(path)], env=env, cwd=ROOT, check=True)
            finally:
                if database:
                    _postgres_database(args.database_url, database, create=False)


if __name__ == "__main__":
    main()
