"""Build a large synthetic MesoInfo dataset in its own PostgreSQL database, for the benchmarks.

    .venv/bin/python bench/generate.py                      # drops and recreates mesoinfo_bench, then fills it
    .venv/bin/python bench/generate.py --scale 0.1          # a tenth of the size (quick check)

Only the database named by --database (default mesoinfo_bench; it must start with mesoinfo_bench) is dropped
and created; no other database is touched. The server is BENCH_SERVER_URL
(default postgres://postgres@127.0.0.1:5432/postgres).

Default size: 200 overview pages (7 sections each on average, citing references, with trials tables and
"Read next" links), 2,000 drugs, 1,500 regimens, 20,000 trials (with 2-4 outcomes each), 50,000 references,
50 glossary terms and the search index over all of it. Everything is published and every title says
"TEST DATA": none of it is medical information. Seeded, so every run builds the same content.

Rows are bulk-inserted in batches (no save(), so no history records and no cache signals: the database is new),
then the derived data is built the way the app builds it: `cites` from each text's citation markers
(CitingModel.cited_keys), search documents from treatments.search.document_fields, and the weighted search
vectors in one UPDATE (rebuild_index() would take two queries and a transaction per object). Last, every public
page is rendered and stored as its first published version (`manage.py build_pages`, in one process per core:
about 10 minutes on 2 cores for the 22,000 pages).
"""

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import benchlib  # noqa: E402

# The pages run.py measures (deterministic: the same seed builds the same content).
OVERVIEW_SLUG = "test-data-overview-001"
DRUG_SLUG = "test-data-drug-0100"
BUSY_DRUG_SLUG = "pemetrexed"  # in many regimens: its page lists hundreds of trials
SEARCH_QUERY = "pemetrexed"
# bench/publish_timings.py publishes a change to a glossary term that every overview uses, and to a reference
# that 1,000 trials list (every 20th trial).
EVERY_OVERVIEW_TERM = "palliative care"
WIDELY_CITED_KEY = "test-data-widely-cited"
WIDELY_CITED_EVERY = 20
BATCH = 2000

GLOSSARY = [
    ("mesothelioma", "mesotheliomas"), ("pleura", "pleural"), ("chemotherapy", ""), ("biopsy", "biopsies"),
    ("clinical trial", "clinical trials"), ("immunotherapy", ""), ("radiation therapy", "radiotherapy"),
    ("palliative care", ""), ("side effect", "side effects"), ("tumour", "tumor, tumours, tumors"),
    ("lymph node", "lymph nodes"), ("CT scan", "CT scans"), ("PET scan", "PET scans"), ("oncologist", "oncologists"),
    ("prognosis", ""), ("response rate", "response rates"), ("stable disease", ""), ("placebo", ""),
    ("randomised", "randomized"), ("phase III trial", "phase III trials"), ("metastasis", "metastases"),
    ("recurrence", "recurrent"), ("refractory", ""), ("systemic", ""), ("intravenous", ""),
    ("infusion", "infusions"), ("dose", "doses"), ("treatment cycle", "treatment cycles"), ("remission", ""),
    ("peritoneum", "peritoneal"), ("pericardium", "pericardial"), ("asbestos", ""), ("pleurectomy", ""),
    ("decortication", ""), ("pleurodesis", ""), ("thoracoscopy", ""), ("pleural effusion", "pleural effusions"),
    ("antibody", "antibodies"), ("checkpoint inhibitor", "checkpoint inhibitors"), ("biomarker", "biomarkers"),
    ("targeted therapy", "targeted therapies"), ("hazard ratio", ""), ("median", ""),
    ("progression-free survival", ""), ("overall survival", ""), ("quality of life", ""), ("nausea", ""),
    ("fatigue", ""), ("anaemia", "anemia"), ("neutropenia", ""),
]  # fmt: skip
REAL_DRUGS = [
    ("pemetrexed", "Alimta", "Chemotherapy"), ("cisplatin", "Platinol", "Chemotherapy"),
    ("carboplatin", "Paraplatin", "Chemotherapy"), ("gemcitabine", "Gemzar", "Chemotherapy"),
    ("vinorelbine", "Navelbine", "Chemotherapy"), ("raltitrexed", "Tomudex", "Chemotherapy"),
    ("oxaliplatin", "Eloxatin", "Chemotherapy"), ("doxorubicin", "Adriamycin", "Chemotherapy"),
    ("docetaxel", "Taxotere", "Chemotherapy"), ("ranpirnase", "Onconase", "Ribonuclease"),
    ("nivolumab", "Opdivo", "Immunotherapy"), ("ipilimumab", "Yervoy", "Immunotherapy"),
    ("bevacizumab", "Avastin", "Targeted therapy"),
]  # fmt: skip
SYLLABLES = "ba be bi bo da de di do fa fe fi la le li lo ma me mi mo na ne ni no ra re ri ro sa se ti vo".split()
SUFFIXES = ["mab", "nib", "trexed", "platin", "tinib", "zumab", "rubicin", "taxel", "ciclib", "lisib"]
CLASSES = ["Chemotherapy", "Immunotherapy", "Targeted therapy", "Antifolate", "Kinase inhibitor", "Antibody"]
MODALITIES = ["chemotherapy", "immunotherapy", "surgery", "radiation", "supportive", "research"]
HEADINGS = {
    "chemotherapy": "Chemotherapy", "immunotherapy": "Immunotherapy", "surgery": "Surgery",
    "radiation": "Radiation therapy", "supportive": "Supportive care", "research": "Research and new approaches",
}  # fmt: skip
MEASURES = ["Survival", "Alive at 1 year", "Alive at 2 years", "Response rate", "Stable disease",
            "Median survival", "Progression-free survival", "Serious side effects"]  # fmt: skip
FILLER = (
    "people with this cancer often ask their doctor about each choice before they decide. the team looks at how "
    "well you are and what you want from treatment. some treatments help for a while and then stop working. "
    "your care team can help with breathing, pain and eating. this test data text has no medical meaning."
).split()


class Text:
    """Plain-language synthetic sentences that mention glossary terms, drugs and cite references."""

    def __init__(self, rng, glossary_words, drug_names):
        self.rng, self.glossary_words, self.drug_names = rng, glossary_words, drug_names

    def words(self, n):
        return " ".join(self.rng.choice(FILLER) for _ in range(n))

    def sentence(self, keys=()):
        rng = self.rng
        parts = [
            f"In a TEST DATA study, {rng.choice(self.drug_names)} was given with {rng.choice(self.drug_names)}",
            f"the {rng.choice(self.glossary_words)} and the {rng.choice(self.glossary_words)} were checked",
            self.words(rng.randint(6, 14)),
        ]
        rng.shuffle(parts)
        text = ", ".join(parts).capitalize()
        if keys:
            text += " [" + "; ".join(f"@{key}" for key in keys) + "]"
        return text + "."

    def paragraph(self, sentences, keys):
        """A paragraph of `sentences` sentences; each citation key goes after one of them, at random."""
        cited = [[] for _ in range(sentences)]
        for key in keys:
            cited[self.rng.randrange(sentences)].append(key)
        return " ".join(self.sentence(group) for group in cited)

    def body(self, words, keys, bullet_list=False, table=False):
        """Markdown of roughly `words` words in paragraphs, optionally with a list and a small table."""
        paragraphs, keys = [], list(keys)
        count = max(1, words // 90)
        for i in range(count):
            share = keys[i::count]
            paragraphs.append(self.paragraph(self.rng.randint(4, 6), share))
            if bullet_list and i == 0:
                paragraphs.append("\n".join(f"- {name}" for name in self.rng.sample(self.drug_names, 5)))
            if table and i == count - 1:
                rows = "\n".join(f"| {self.rng.choice(MEASURES)} | {self.rng.randint(5, 60)}% |" for _ in range(3))
                paragraphs.append(f"| What was measured | TEST DATA result |\n|---|---|\n{rows}")
        return "\n\n".join(paragraphs)


def _outcome_value(rng):
    percent, months, count = f"{rng.randint(5, 70)}%", f"{rng.randint(3, 40)} months", rng.randint(3, 80)
    return rng.choice([percent, months, f"{count} of {rng.randint(81, 200)}"])


def _setup_django(database):
    os.environ.update(benchlib.django_env(database, cache_url="dummy://"))
    import django

    django.setup()


def _timed(label, timings):
    class Timer:
        def __enter__(self):
            self.started = time.perf_counter()
            print(f"  {label} …", end="", flush=True)

        def __exit__(self, *exc):
            timings[label] = time.perf_counter() - self.started
            print(f" {timings[label]:.1f}s", flush=True)

    return Timer()


def bulk(model, objects):
    return model.objects.bulk_create(objects, batch_size=BATCH)


def through_rows(model, field_name, pairs):
    """Bulk-insert (source pk, target pk) pairs into a many-to-many field's through table."""
    field = model._meta.get_field(field_name)
    through = field.remote_field.through
    source, target = f"{field.m2m_field_name()}_id", f"{field.m2m_reverse_field_name()}_id"
    through.objects.bulk_create([through(**{source: a, target: b}) for a, b in pairs], batch_size=BATCH * 5)
    return len(pairs)


def build(args):
    from django.contrib.auth.models import User
    from django.contrib.contenttypes.models import ContentType
    from django.contrib.postgres.search import SearchVector
    from django.db import connection, transaction
    from django.utils import timezone

    from references.models import Reference
    from treatments.models import (
        Drug,
        GlossaryTerm,
        NextLink,
        Overview,
        Regimen,
        RegimenDrug,
        ReviewerProfile,
        SearchDocument,
        Status,
        TreatmentOption,
        Trial,
        TrialOutcome,
    )
    from treatments.search import CONFIG, document_fields

    rng = random.Random(args.seed)
    scale = args.scale
    n_refs, n_drugs = int(50_000 * scale), max(len(REAL_DRUGS) + 100, int(2_000 * scale))
    n_regimens, n_trials, n_overviews = int(1_500 * scale), int(20_000 * scale), max(2, int(200 * scale))
    now = timezone.now()
    timings = {}
    published = {"status": Status.PUBLISHED, "last_published_at": now - timedelta(days=30)}

    with transaction.atomic():
        with _timed("reviewer account", timings):
            reviewer = User.objects.create_user("test-data-reviewer", is_staff=True)  # unusable password
            ReviewerProfile.objects.create(
                user=reviewer, display_name="TEST DATA Reviewer", credentials="MD", status=Status.PUBLISHED
            )
            reviewed = {"reviewed_by": reviewer, "reviewed_on": now.date() - timedelta(days=30)}
            reviewed["review_due"] = reviewed["reviewed_on"] + timedelta(days=365)

        with _timed(f"{n_refs:,} references", timings):
            refs = bulk(
                Reference,
                [
                    Reference(
                        key=f"test-data-{i:05d}",
                        authors=f"Testauthor{i % 97} AB, Example CD, Sample EF{', et al' if i % 3 else ''}",
                        title=f"TEST DATA {i}: synthetic study of {rng.choice(FILLER)} {rng.choice(MEASURES).lower()} "
                        f"in pleural mesothelioma ({rng.choice(['phase II', 'phase III', 'review', 'cohort'])})",
                        source="Test J Synth Data",
                        year=1995 + i % 30,
                        volume=str(1 + i % 60),
                        issue=str(1 + i % 12),
                        pages=f"{100 + i % 900}-{110 + i % 900}",
                        pmid=str(90_000_000 + i) if i % 4 else "",
                        doi=f"10.9999/test-data.{i}" if i % 3 else "",
                        **published,
                    )
                    for i in range(n_refs)
                ],
            )
            keys = [ref.key for ref in refs]
            ref_pk = {ref.key: ref.pk for ref in refs}
            widely_cited = Reference.objects.create(
                key=WIDELY_CITED_KEY,
                authors="Testauthor ZZ, Example CD",
                title="TEST DATA: a synthetic study that many trials report",
                source="Test J Synth Data",
                year=2020,
                **published,
            )

        def some_keys(k):
            return rng.sample(keys, k)

        with _timed(f"{len(GLOSSARY)} glossary terms", timings):
            terms = bulk(
                GlossaryTerm,
                [
                    GlossaryTerm(
                        term=term,
                        slug=term.lower().replace(" ", "-"),
                        other_forms=forms,
                        definition=f"TEST DATA definition of {term}: a plain-language explanation "
                        f"{' '.join(rng.choice(FILLER) for _ in range(25))}"
                        + (f" [@{rng.choice(keys)}]." if i % 5 == 0 else "."),
                        **published,
                    )
                    for i, (term, forms) in enumerate(GLOSSARY)
                ],
            )
            glossary_words = [term for term, _ in GLOSSARY]

        with _timed(f"{n_drugs:,} drugs", timings):
            names = [name for name, _, _ in REAL_DRUGS]
            seen = set(names)
            while len(names) < n_drugs:
                name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))) + rng.choice(SUFFIXES)
                if name not in seen:
                    seen.add(name)
                    names.append(name)
            text = Text(rng, glossary_words, names[:200])
            drugs = []
            for i, name in enumerate(names):
                real = REAL_DRUGS[i] if i < len(REAL_DRUGS) else None
                drugs.append(
                    Drug(
                        generic_name=name,
                        slug=real[0] if real else f"test-data-drug-{i:04d}",
                        brand_names=real[1] if real else f"Testbrand{i}",
                        drug_class=(real[2] if real else rng.choice(CLASSES)) + " (TEST DATA)",
                        how_it_works=text.body(90, some_keys(rng.randint(1, 3))),
                        approval_note=text.paragraph(2, some_keys(1)) if i % 2 else "",
                        **published,
                    )
                )
            drugs = bulk(Drug, drugs)
            text = Text(rng, glossary_words, names[:200])

        with _timed(f"{n_regimens:,} regimens", timings):
            # pemetrexed is in many regimens, as in the real literature: its drug page lists many trials.
            regimen_drugs, seen = [], set()
            while len(regimen_drugs) < n_regimens:
                members = rng.sample(drugs, rng.randint(2, 3))
                if len(regimen_drugs) % 8 == 0 and drugs[0] not in members:
                    members[0] = drugs[0]
                name = " + ".join(drug.generic_name for drug in members)
                if name not in seen:
                    seen.add(name)
                    regimen_drugs.append(members)
            regimens = bulk(
                Regimen,
                [
                    Regimen(
                        name=" + ".join(d.generic_name for d in members),
                        is_standard=i == 0,
                        note="TEST DATA",
                        **published,
                    )
                    for i, members in enumerate(regimen_drugs)
                ],
            )
            bulk(
                RegimenDrug,
                [
                    RegimenDrug(regimen=regimen, drug=drug, position=position)
                    for regimen, members in zip(regimens, regimen_drugs, strict=True)
                    for position, drug in enumerate(members, 1)
                ],
            )

        with _timed(f"{n_trials:,} trials, outcomes, drugs, references", timings):
            trials, trial_refs = [], []
            for i in range(n_trials):
                regimen = rng.choice(regimens) if i % 5 < 3 else None
                reported_in = some_keys(rng.randint(1, 2))
                trial_refs.append(reported_in)
                trials.append(
                    Trial(
                        title=f"TEST DATA trial {i}: {regimen.name if regimen else rng.choice(names)} in "
                        f"{rng.choice(['pleural', 'peritoneal'])} mesothelioma",
                        slug=f"test-data-trial-{i:05d}",
                        phase=rng.choice(["1", "1b", "2", "2", "3", ""]),
                        design=rng.choice(["Single group", "Compared with placebo", "Randomised, two groups", ""]),
                        trial_status=rng.choice(["recruiting", "active", "completed", "completed", "terminated"]),
                        patient_count=rng.randint(12, 900) if i % 7 else None,
                        regimen=regimen,
                        summary=text.paragraph(rng.randint(2, 3), reported_in[:1]),
                        **published,
                    )
                )
            trials = bulk(Trial, trials)
            through_rows(
                Trial, "drugs", [(t.pk, d.pk) for t in trials if not t.regimen_id for d in rng.sample(drugs, 2)]
            )
            through_rows(
                Trial,
                "references",
                [(t.pk, ref_pk[k]) for t, ks in zip(trials, trial_refs, strict=True) for k in ks]
                + [(t.pk, widely_cited.pk) for t in trials[::WIDELY_CITED_EVERY]],
            )
            outcomes = []
            for trial in trials:
                for position in range(1, rng.randint(2, 4) + 1):
                    outcomes.append(
                        TrialOutcome(
                            trial=trial,
                            measure=rng.choice(MEASURES),
                            population=rng.choice(["", "", "all patients", "the patients who responded"]),
                            value=_outcome_value(rng),
                            is_key_result=position == 1,
                            position=position,
                        )
                    )
            bulk(TrialOutcome, outcomes)

        with _timed(f"{n_overviews} overview pages, sections, trials tables, next links", timings):
            overviews = bulk(
                Overview,
                [
                    Overview(
                        title=f"TEST DATA overview {i:03d}: {rng.choice(['pleural', 'peritoneal', 'pericardial'])} "
                        f"mesothelioma, situation {i}",
                        slug=f"test-data-overview-{i:03d}",
                        stage_label=f"TEST DATA stage {i % 4 + 1}",
                        summary=f"TEST DATA, not medical information. {text.paragraph(3, [])}",
                        intro=f"Every TEST DATA overview mentions {EVERY_OVERVIEW_TERM}. "
                        + text.body(170, some_keys(rng.randint(1, 3)), bullet_list=True),
                        position=i,
                        **published,
                        # Published through the workflow, so a reviewer is on record (every other page).
                        **(reviewed if i % 2 else {}),
                    )
                    for i in range(1, n_overviews + 1)
                ],
            )
            sections, section_trials, section_drugs = [], [], []
            for overview in overviews:
                for position, modality in enumerate(rng.sample(MODALITIES * 2, rng.randint(6, 8)), 1):
                    sections.append(
                        TreatmentOption(
                            overview=overview,
                            modality=modality,
                            heading=f"{HEADINGS[modality]} (TEST DATA part {position})",
                            slug=f"{modality}-{position}",
                            body=text.body(
                                rng.randint(150, 400),
                                some_keys(rng.randint(2, 8)),
                                bullet_list=position % 3 == 1,
                                table=position % 4 == 2,
                            ),
                            trials_caption=f"TEST DATA trials of {HEADINGS[modality].lower()}",
                            position=position,
                            **published,
                        )
                    )
            sections = bulk(TreatmentOption, sections)
            for section in sections:
                if section.modality in ("chemotherapy", "immunotherapy", "research"):
                    section_trials += [(section.pk, t.pk) for t in rng.sample(trials, rng.randint(3, 10))]
                section_drugs += [(section.pk, d.pk) for d in rng.sample(drugs[:200], rng.randint(0, 4))]
            through_rows(TreatmentOption, "trials", section_trials)
            through_rows(TreatmentOption, "drugs", section_drugs)
            links = []
            for i, overview in enumerate(overviews):
                links.append(NextLink(overview=overview, label="TEST DATA next page", target=overviews[i - 1]))
                links.append(NextLink(overview=overview, label="TEST DATA page not written yet", position=1))
            bulk(NextLink, links)

        with _timed("cites (from each text's citation markers)", timings):
            cites = 0
            for model, objects in (
                (GlossaryTerm, terms),
                (Drug, drugs),
                (Trial, trials),
                (Overview, overviews),
                (TreatmentOption, sections),
            ):
                cites += through_rows(
                    model, "cites", [(obj.pk, ref_pk[key]) for obj in objects for key in obj.cited_keys()]
                )

        with _timed("search documents", timings):
            overview_by_pk = {overview.pk: overview for overview in overviews}
            regimen_by_pk = {regimen.pk: regimen for regimen in regimens}
            for section in sections:
                section.overview = overview_by_pk[section.overview_id]
            for trial in trials:
                if trial.regimen_id:
                    trial.regimen = regimen_by_pk[trial.regimen_id]
            documents = []
            for objects in (overviews, sections, drugs, trials):
                content_type = ContentType.objects.get_for_model(objects[0])
                for obj in objects:
                    title, keywords, body = document_fields(obj)
                    documents.append(
                        SearchDocument(
                            content_type=content_type, object_id=obj.pk, title=title[:300], keywords=keywords, body=body
                        )
                    )
            bulk(SearchDocument, documents)

        with _timed("search vectors (one UPDATE)", timings):
            SearchDocument.objects.update(
                search_vector=SearchVector("title", weight="A", config=CONFIG)
                + SearchVector("keywords", weight="B", config=CONFIG)
                + SearchVector("body", weight="C", config=CONFIG)
            )

    with _timed("VACUUM ANALYZE", timings):
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
    counts = {
        "overviews": Overview.objects.count(),
        "sections": TreatmentOption.objects.count(),
        "drugs": Drug.objects.count(),
        "regimens": Regimen.objects.count(),
        "trials": Trial.objects.count(),
        "outcomes": TrialOutcome.objects.count(),
        "references": Reference.objects.count(),
        "glossary terms": GlossaryTerm.objects.count(),
        "search documents": SearchDocument.objects.count(),
        "section→trial links": len(section_trials),
        "cites links": cites,
    }
    return counts, size, timings


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=benchlib.BENCH_DATABASE, help="default: %(default)s")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count (default 1)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    benchlib.check_bench_database(args.database)

    started = time.perf_counter()
    print(f"Generating TEST DATA into database {args.database} (scale {args.scale})", flush=True)
    benchlib.recreate_database(args.database)
    _setup_django(args.database)
    from django.core.management import call_command
    from django.db import connection

    migrate_started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"  migrate … {time.perf_counter() - migrate_started:.1f}s", flush=True)
    counts, size, _ = build(args)
    print("Contents: " + ", ".join(f"{value:,} {name}" for name, value in counts.items()))
    print(f"Database size {size}; {time.perf_counter() - started:.1f}s", flush=True)
    # bulk_create stored no page versions: render every public page now, as the servers will serve it (the
    # release includes the static files' manifest, so collectstatic first).
    pages_started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mesoinfo-generate-") as tmp:
        env = benchlib.django_env(args.database, static_root=Path(tmp) / "static")
        benchlib.collectstatic(env)
        benchlib.build_pages(env)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # the planner's statistics for the new pages' tables
    print(f"Pages built in {time.perf_counter() - pages_started:.0f}s; total {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
