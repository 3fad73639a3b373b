"""How long a publish takes at the benchmark's scale, and how many pages it renders (`make bench` runs it too).

    .venv/bin/python bench/publish_timings.py                         # the benchmark dataset (bench/generate.py)
    .venv/bin/python bench/publish_timings.py --repeat 4 --json publish.json

Each change goes through the editorial workflow as an editor and a medical reviewer make it (editorial.workflow:
`editing` saves the editor's draft, `submit` sends it for review, `approve` publishes it). A publish renders,
inside its transaction, every page that showed the changed record (pages/publishing.py), and stores a new version
of each page whose HTML changed. The three changes:

  (a) section:   the text of one section of an overview;
  (b) glossary:  the definition of a glossary term every overview uses (generate.EVERY_OVERVIEW_TERM), which
                 many drug and trial pages use too;
  (c) reference: the title of a reference that 1,000 trials list (generate.WIDELY_CITED_KEY).

Each is published --repeat times, alternating between the edited and the original text, so the dataset ends as
it started (an even --repeat). The time is that of `approve()`, commit included (the draft and the submit are
not counted). No web server is involved; the settings are the benchmark's (production, DEBUG=0).
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import benchlib, generate  # noqa: E402


def setup_django(env):
    """Django in this process, with the servers' settings (the same release: pages it stores are served as they are)."""
    os.environ.update(env)
    import django

    django.setup()


def reviewer():
    """The dataset's medical reviewer (bench/generate.py), in the Medical reviewer group so that it may publish.
    Adding a group changes no page (an account's save would: it is a change outside the workflow)."""
    from django.contrib.auth.models import Group, User

    from treatments.roles import MEDICAL_REVIEWER

    user = User.objects.get(username="test-data-reviewer")
    if not user.groups.filter(name=MEDICAL_REVIEWER).exists():
        user.groups.add(Group.objects.get(name=MEDICAL_REVIEWER))
    return User.objects.get(pk=user.pk)  # without cached permissions


@dataclass
class Publish:
    seconds: float
    rendered: int  # pages rendered by the publish
    render_seconds: float  # of `seconds`, spent rendering them
    versions: list = field(default_factory=list)  # [(path, version id)] of the new versions it stored


@contextmanager
def counting_renders():
    """Count the pages rendered inside the block (wraps pages.publishing.render in this process only)."""
    from pages import publishing

    original, counts = publishing.render, {"pages": 0, "seconds": 0.0}

    def render(path):
        started = time.perf_counter()
        try:
            return original(path)
        finally:
            counts["pages"] += 1
            counts["seconds"] += time.perf_counter() - started

    publishing.render = render
    try:
        yield counts
    finally:
        publishing.render = original


def publish(record, user, note, minor=False, **fields):
    """An editor's draft of `record` with `fields`, sent for review and approved (with a note for readers, or as a
    minor correction): a `Publish`."""
    from editorial.workflow import approve, editing, submit
    from pages.models import PageVersion

    with editing(user, record) as session:
        for name, value in fields.items():
            setattr(session.record, name, value)
        session.record.save()
    revision = submit(record, user)
    last = PageVersion.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with counting_renders() as renders:
        started = time.perf_counter()
        approve([revision], user, note=note, minor=minor)
        seconds = time.perf_counter() - started
    versions = list(PageVersion.objects.filter(pk__gt=last).values_list("page__path", "pk").order_by("page__path"))
    return Publish(seconds, renders["pages"], renders["seconds"], versions)


def toggled(record, name, edited):
    """The value of `name` to publish next: the edited one, or the original again (a `TEST DATA edit` suffix)."""
    value = getattr(record, name)
    if isinstance(value, int):
        return value + 1 if value % 2 == 0 else value - 1
    return value.removesuffix(edited) if value.endswith(edited) else value + edited


def changes():
    """[(label, description, record, field, edited suffix, pages that show it)] for (a), (b) and (c)."""
    from pages.models import Page
    from references.models import Reference
    from treatments.models import GlossaryTerm, Overview

    overview = Overview.objects.get(slug=generate.OVERVIEW_SLUG)
    section = overview.sections.order_by("position").first()
    term = GlossaryTerm.objects.get(term=generate.EVERY_OVERVIEW_TERM)
    reference = Reference.objects.get(key=generate.WIDELY_CITED_KEY)
    found = []
    for label, description, record, name in (
        ("section", f"one section of {overview.slug} (its text)", section, "body"),
        ("glossary", f"the glossary term “{term.term}” (its definition)", term, "definition"),
        ("reference", f"the reference {reference.key} (its title)", reference, "title"),
    ):
        showing = Page.objects.filter(
            dependencies__label=record._meta.label_lower, dependencies__object_id=record.pk
        ).distinct()
        kinds = {
            kind: showing.filter(path__startswith=prefix).count()
            for kind, prefix in (("overviews", "/treatment/"), ("drug pages", "/drugs/"), ("trial pages", "/trials/"))
        }
        kinds["other pages"] = showing.count() - sum(kinds.values())
        found.append((label, description, record, name, " (TEST DATA edit)", kinds))
    return found


@dataclass
class FirstViewChange:
    label: str
    record: object
    field: str
    suffix: str
    pages: dict  # {path: bytes of its current version} of every page the change may give a new version


def pages_that_may_change(record):
    """{path: size of its current version} of the pages that show `record`, list its kind, are its own, or are the
    pages of what it links to (pages/publishing.py: affected_pages)."""
    from django.db.models import Q

    from editorial import registry
    from pages.models import Page
    from pages.publishing import own_path

    label = record._meta.label_lower
    own = {own_path(record), *(own_path(target) for _what, target in registry.links(record))} - {None}
    showing = Page.objects.filter(
        Q(dependencies__label=label, dependencies__object_id=record.pk)
        | Q(dependencies__label=label, dependencies__object_id=None)
        | Q(path__in=own),
        current__content__isnull=False,
    ).distinct()
    return dict(showing.values_list("path", "current__content__size"))


def first_view_changes():
    """The changes bench/run.py publishes before timing the first view of each page: a section of the benchmark's
    overview (its page), the overview's summary (its page and the home page), a drug (its page) and a trial in
    the overview's tables (its page and the overviews that list it)."""
    from treatments.models import Drug, Overview

    overview = Overview.objects.get(slug=generate.OVERVIEW_SLUG)
    section = overview.sections.filter(trials__patient_count__isnull=False).order_by("position").first()
    trial = section.trials.filter(patient_count__isnull=False).order_by("pk").first()
    drug = Drug.objects.get(slug=generate.DRUG_SLUG)
    suffix = " (TEST DATA edit)"
    return [
        FirstViewChange(label, record, name, suffix, pages_that_may_change(record))
        for label, record, name in (
            ("section", section, "body"),
            ("summary", overview, "summary"),
            ("drug", drug, "how_it_works"),
            ("trial", trial, "patient_count"),
        )
    ]


def trials_in_tables(count=50):
    """Trials that overview pages show in their trials tables (a change to one re-renders its page, those overviews
    and its drugs' pages): the load test publishes a change to one of them every minute."""
    from treatments.models import Trial

    shown = Trial.objects.filter(sections__isnull=False, patient_count__isnull=False).distinct().order_by("pk")
    return list(shown[:count])


def measure(repeat, log=print):
    """Publish each change `repeat` times; {label: figures}."""
    user = reviewer()
    results = {}
    for label, description, record, name, suffix, kinds in changes():
        shows = ", ".join(f"{count:,} {kind}" for kind, count in kinds.items() if count)
        log(f"  ({label}) {description}: shown on {shows}")
        runs = []
        for n in range(repeat):
            record.refresh_from_db()
            run = publish(record, user, f"TEST DATA: publish timing {n + 1}", **{name: toggled(record, name, suffix)})
            runs.append(run)
            log(
                f"    publish {n + 1}: {run.seconds:6.2f} s, {run.rendered:,} pages rendered "
                f"({run.render_seconds:.2f} s of it), {len(run.versions):,} new versions"
            )
        results[label] = {
            "change": description,
            "shown_on": kinds,
            "seconds": [round(run.seconds, 3) for run in runs],
            "median_seconds": round(statistics.median(run.seconds for run in runs), 3),
            "pages_rendered": [run.rendered for run in runs],
            "render_seconds": [round(run.render_seconds, 3) for run in runs],
            "new_versions": [len(run.versions) for run in runs],
        }
    return results


def print_table(results):
    print(f"\n{'change':<58} {'median s':>9} {'pages rendered':>15} {'new versions':>13}")
    for label, row in results.items():
        rendered = "/".join(f"{n:,}" for n in sorted(set(row["pages_rendered"])))
        stored = "/".join(f"{n:,}" for n in sorted(set(row["new_versions"])))
        print(f"({label}) {row['change']:<54} {row['median_seconds']:>9.2f} {rendered:>15} {stored:>13}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="publishes of each change (default 2)")
    parser.add_argument("--json", help="write the figures to this JSON file")
    args = parser.parse_args()
    when = datetime.datetime.now().astimezone()
    database = benchlib.BENCH_DATABASE
    if not benchlib.database_exists(database):
        raise SystemExit(f"No database {database}: run bench/generate.py (make bench-data) first.")
    print(f"MesoInfo publish timings {when:%Y-%m-%d %H:%M %Z}: database {database}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="mesoinfo-publish-") as tmp:
        env = benchlib.django_env(database, static_root=Path(tmp) / "static")
        benchlib.collectstatic(env)
        benchlib.build_pages(env)  # every page has its dependencies on record before anything is published
        setup_django(env)
        results = measure(args.repeat)
    print_table(results)
    if args.json:
        report = {"date": when.isoformat(timespec="minutes"), "cores": os.cpu_count(), "publishes": results}
        Path(args.json).write_text(json.dumps(report, indent=2))
        print(f"Figures written to {args.json}")


if __name__ == "__main__":
    main()
