"""The benchmark's claim at a smaller scale: after one trial change is published, every page that does not show
that trial is still answered from the cache (no render, nothing stored again), while every page that shows it
has a new version, rendered at publish time."""

import io
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from editorial.workflow import approve, editing, submit
from pages import publishing
from pages.models import Page, PageVersion
from tests.factories import make_drug, make_overview, make_reference, make_regimen, make_section, make_trial, reviewer
from treatments.models import GlossaryTerm, PageCacheGeneration, ReviewerProfile

pytestmark = pytest.mark.django_db

OVERVIEWS, DRUGS, TRIALS = 6, 16, 60


@pytest.fixture
def site():
    user = reviewer()  # accounts first: a change to one is a change outside the workflow
    ReviewerProfile.objects.create(user=user, display_name="Jane Doe", credentials="MD", status="published")
    for term, definition in (("pleura", "The lining."), ("biopsy", "A sample."), ("placebo", "A dummy drug.")):
        GlossaryTerm.objects.create(term=term, slug=term, definition=definition, status="published")
    references = [make_reference(key=f"study-{n:02d}") for n in range(20)]
    drugs = [
        make_drug(generic_name=f"testamab{n:02d}", slug=f"testamab{n:02d}", how_it_works=f"Reaches the pleura ({n}).")
        for n in range(DRUGS)
    ]
    regimens = [make_regimen(drugs[n], drugs[(n + 5) % DRUGS]) for n in range(DRUGS)]
    trials = [
        make_trial(
            title=f"Study {n:02d} of a placebo",
            slug=f"study-{n:02d}",
            regimen=regimens[n % DRUGS],
            patient_count=100 + n,
            references=[references[n % 20]],
            outcomes=[("Alive at 1 year", "", f"{20 + n % 30}%", True)],
        )
        for n in range(TRIALS)
    ]
    for n in range(OVERVIEWS):
        overview = make_overview(title=f"Situation {n}", slug=f"situation-{n}", intro="About the pleura.")
        for position in range(2):
            section = make_section(overview, heading=f"Part {position}", body="A biopsy first [@study-01].")
            section.cites.add(references[1])
            section.trials.add(*trials[(n * 2 + position) * 5 : (n * 2 + position) * 5 + 5])
            section.drugs.add(drugs[n])
    call_command("build_pages", stdout=io.StringIO())
    return {"user": user, "trials": trials}


def test_a_trial_change_gives_new_versions_to_the_pages_that_show_it_and_leaves_every_other_page_cached(site):
    client = Client()
    paths = publishing.public_paths()
    assert len(paths) == 4 + OVERVIEWS + DRUGS + TRIALS
    for path in paths:  # every page served once: in the cache, as on a busy site
        assert client.get(path).status_code == 200
    before = dict(Page.objects.values_list("path", "current_id"))
    versions_before = set(PageVersion.objects.values_list("pk", flat=True))

    trial = site["trials"][7]  # in the trials table of situation-0, part 1
    with editing(site["user"], trial) as session:
        session.record.title = "Study 07 of a placebo, renamed"
        session.record.save()
    with mock.patch.object(publishing, "render", wraps=publishing.render) as render:
        # A correction (no note for readers): a page shows the change only if the title is on it.
        approve([submit(trial, site["user"])], site["user"], minor=True)
    rendered = {call.args[0] for call in render.call_args_list}

    changed = {path for path, current in Page.objects.values_list("path", "current_id") if current != before[path]}
    regimen_drugs = [drug.get_absolute_url() for drug in trial.regimen.drugs.all()]
    assert changed == {"/trials/study-07/", "/trials/", *regimen_drugs}
    # Its overview lists the trial by treatment, not by title: rendered again at publish, and left as it was.
    assert rendered == changed | {"/treatment/situation-0/"}
    new_versions = PageVersion.objects.exclude(pk__in=versions_before)
    assert sorted(new_versions.values_list("page__path", flat=True)) == sorted(changed)  # one each
    stored = {path: Page.objects.get(path=path).current.content.html for path in paths}
    assert all(b"Study 07 of a placebo, renamed" in stored[path] for path in changed)
    assert not any(b"Study 07 of a placebo, renamed" in stored[path] for path in paths if path not in changed)
    rows = set(PageVersion.objects.values_list("pk", "page_id", "release", "generation", "content_id"))

    unchanged = [path for path in paths if path not in changed]
    with (
        mock.patch.object(publishing, "render", wraps=publishing.render) as render,
        CaptureQueriesContext(connection) as queries,
    ):
        for path in unchanged:
            response = client.get(path)
            assert response.content == stored[path] and response["X-Page-Cache"] == "hit"
    assert render.call_count == 0
    generation_table = PageCacheGeneration._meta.db_table
    other = [query["sql"] for query in queries.captured_queries if generation_table not in query["sql"]]
    assert len(queries) - len(other) == len(unchanged)  # the content generation (no listener in tests)
    # Once, which pages the publish changed or confirmed (the overview), with their current versions: no other
    # query, so no page's HTML was read from the database.
    assert len(other) == 1

    with mock.patch.object(publishing, "render", wraps=publishing.render) as render:
        for path in changed:
            response = client.get(path)
            assert response.content == stored[path] and response["X-Page-Cache"] == "hit"
    assert render.call_count == 0  # rendered at publish, not by the first visitor
    # Nothing stored, or confirmed again, while serving.
    assert set(PageVersion.objects.values_list("pk", "page_id", "release", "generation", "content_id")) == rows


def test_a_page_that_stops_showing_a_trial_no_longer_depends_on_it(site):
    trial, user = site["trials"][7], site["user"]
    section = trial.sections.get()
    overview = Page.objects.get(path=section.overview.get_absolute_url())
    assert b'href="/trials/study-07/"' in overview.current.content.html
    with editing(user, section) as session:
        session.record.trials.remove(trial)
    approve([submit(section, user)], user, minor=True)
    overview.refresh_from_db()
    assert b'href="/trials/study-07/"' not in overview.current.content.html
    assert not overview.dependencies.filter(label="treatments.trial", object_id=trial.pk).exists()
    assert overview.dependencies.filter(label="treatments.trial", object_id=site["trials"][8].pk).exists()
    with editing(user, trial) as session:
        session.record.title = "Study 07, renamed"
        session.record.save()
    with mock.patch.object(publishing, "render", wraps=publishing.render) as render:
        approve([submit(trial, user)], user, minor=True)
    assert overview.path not in {call.args[0] for call in render.call_args_list}
