"""What the seed page says: dated honestly, hedged like its sources, and nothing the sources do not give.

Issue 12 (accuracy fixes) and issue 15 ("Treatment today"). The sources are docs/sources/ (copies of
../shared/seed/): the seed page and reference-identifiers.md (the verified identifiers and facts).
"""

import html as html_lib
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from mesoinfo.markdown import readability
from references.models import Reference
from treatments.models import Drug, GlossaryTerm, Overview, Trial

pytestmark = pytest.mark.django_db

SHARED = Path(settings.BASE_DIR) / "docs" / "sources"  # copies of ../shared/seed/, so a clean clone has them
FIXTURES = Path(settings.BASE_DIR) / "fixtures"
SEED_SLUG = "stage-iv-recurrent-pleural-mesothelioma"


def sources_text():
    return (SHARED / "stage-iv-recurrent-mesothelioma.txt").read_text() + (
        SHARED / "reference-identifiers.md"
    ).read_text()


def plain(raw):
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", raw)))


@pytest.fixture
def page(client):
    call_command("loaddata", "seed", verbosity=0)
    overview = Overview.objects.get(slug=SEED_SLUG)
    raw = client.get(overview.get_absolute_url()).content.decode()
    return overview, raw, plain(raw)


def section_html(raw, slug):
    start = raw.index(f'id="{slug}"')
    end = raw.find("<section", start)
    return raw[start:end]


def reference_number(raw, title_words):
    for number, entry in re.findall(r'<li id="ref-(\d+)" value="\d+">(.*?)</li>', raw, re.S):
        if title_words in plain(entry):
            return number
    raise AssertionError(f"no reference with {title_words!r}")


# --- No value the sources do not give -------------------------------------------------------------------------

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
NOT_CONTENT = {"position", "status", "pages"}  # bookkeeping, not facts; page ranges: checked below


def fixture_values():
    """(model, pk, field, value) of every field in the content fixtures, foreign keys excluded."""
    for path in sorted(FIXTURES.glob("*.json")):
        for obj in json.loads(path.read_text()):
            for field, value in obj["fields"].items():
                if field in NOT_CONTENT or isinstance(value, (list, bool)) or value in (None, ""):
                    continue
                if isinstance(value, int) and field not in {"year", "patient_count"}:
                    continue  # a foreign key
                if isinstance(value, str) and ISO_DATE.match(value):
                    continue  # when it was published or reviewed: bookkeeping
                yield obj["model"], obj["pk"], field, value


def invented_numbers(values):
    numbers_in_sources = set(re.findall(r"\d+(?:\.\d+)?", sources_text()))
    return [
        (model, pk, field, number)
        for model, pk, field, value in values
        for number in re.findall(r"\d+(?:\.\d+)?", str(value))
        if number not in numbers_in_sources
    ]


def test_every_number_in_the_fixtures_comes_from_the_sources():
    values = list(fixture_values())
    assert len(values) > 300
    assert not invented_numbers(values)


def test_registry_facts_only_where_the_registry_record_was_verified(page):
    sources = sources_text()
    for trial in Trial.objects.all():
        assert not trial.nct_id or trial.nct_id in sources, trial
    # The identifiers file gives one registry status (KEYNOTE-028: Completed); no other trial has one.
    assert dict(Trial.objects.exclude(trial_status="").values_list("slug", "trial_status")) == {
        "keynote-028-pembrolizumab": "completed"
    }


def test_every_trial_phase_is_the_one_its_source_names(page):
    names = {"1b": ("phase 1b", "phase ib"), "2": ("phase ii",), "3": ("phase iii", "phase 3")}
    for trial in Trial.objects.exclude(phase=""):
        titles = " ".join(trial.references.values_list("title", flat=True)).lower()
        assert any(name in titles for name in names[trial.phase]), trial


def test_bibliographic_fields_come_from_the_sources(page):
    sources = sources_text()
    for reference in Reference.objects.all():
        for value in (reference.volume, reference.issue):
            assert not value or re.search(rf"\b{re.escape(value)}\b", sources), (reference.key, value)
        if reference.pages:  # the seed abbreviates some ranges: "361-66" is 361-366
            first, last = reference.pages.split("-")
            assert any(f"{first}-{last[i:]}" in sources for i in range(len(last))), reference.key
    # KEYNOTE-483's volume, pages, PMID and DOI are not verified: they stay empty.
    chu = Reference.objects.get(key="chu-2023")
    assert (chu.volume, chu.issue, chu.pages, chu.pmid, chu.doi) == ("", "", "", "", "")


def test_the_number_check_catches_an_invented_value():
    typos = [
        ("treatments.trial", 12, "patient_count", 604),
        ("treatments.treatmentoption", 7, "body", "The median survival was 19.4 months [@baas-2021]."),
        ("treatments.trial", 8, "summary", "81 people took part."),  # from the seed: not flagged
    ]
    assert invented_numbers(typos) == [typos[0][:3] + ("604",), typos[1][:3] + ("19.4",)]


# --- Issue 12, section 1: each fix, on the page --------------------------------------------------------------


def test_the_standard_regimen_is_dated_and_the_page_says_treatment_changed(page):
    overview, raw, text = page
    assert "standard at the time (2003)" in text
    assert ">standard</span>" not in raw
    chemotherapy = plain(section_html(raw, "chemotherapy"))
    assert "the standard at the time of these studies (2003)" in chemotherapy
    assert "Treatment has changed since then" in chemotherapy


def test_ranpirnase_41_patients_stopped_growing_or_shrank(page):
    overview, raw, text = page
    assert "The 41 patients whose cancer stopped growing or shrank" in text
    assert "whose cancer responded" not in text
    trial = Trial.objects.get(slug="ranpirnase-weekly")
    populations = set(trial.outcomes.values_list("population", flat=True))
    assert "The 41 patients whose cancer stopped growing or shrank" in populations
    assert not any("responded" in population for population in populations)


def test_vitamins_come_from_the_care_team_not_on_your_own(page):
    overview, raw, text = page
    assert "your care team will also give you vitamin B12 and folic acid" in text
    assert "lower the side effects of pemetrexed" in text
    assert "do not start taking vitamins or other supplements on your own" in text


def test_fda_approval_is_dated_2004_and_not_cited_to_a_phase_ii_study(page):
    overview, raw, text = page
    chemotherapy = overview.sections.get(slug="chemotherapy").body
    approval = next(p for p in chemotherapy.split("\n\n") if "approved" in p)
    assert "February 2004" in approval and "@" not in approval
    assert "only one drug treatment had approval" not in text
    assert "@scagliotti-2003" not in Drug.objects.get(generic_name="pemetrexed").approval_note


def test_the_new_standard_stays_a_hedged_future(page):
    overview, raw, text = page
    combinations = plain(section_html(raw, "new-combinations"))
    assert "would likely become the standard" in combinations
    assert "would be compared with it" in combinations
    assert "had become the new standard" not in text


def test_stage_iv_is_the_staging_of_these_sources_and_ask_your_doctor(page):
    overview, raw, text = page
    intro = plain(overview.intro)
    assert "in the staging used by the older studies on this page" in intro
    assert "considered inoperable" in intro
    assert "The staging system changed in 2017" in intro
    assert "Ask your doctor what your stage means" in intro
    assert "Since 2017" in GlossaryTerm.objects.get(slug="stage-iv").definition


def test_single_drugs_before_pemetrexed_recent_trials_and_include(page):
    overview, raw, text = page
    assert "when doctors gave one drug alone, it was most often cisplatin or doxorubicin" in text
    assert "doctors most often gave one drug alone" not in text
    assert "Trials of new chemotherapy combinations reported in 2003" in text
    assert "Recent trials" not in text
    assert "were still being tested" in text and "are still being tested" not in text
    assert "These drugs include:" in text and "These drugs are:" not in text


def test_mikulski_2002_is_cited_only_for_what_it_reports(page):
    overview, raw, text = page
    body = overview.sections.get(slug="new-drugs").body
    mechanism = next(p for p in body.split("\n\n") if "This is how it works" in p)
    assert "@mikulski-2002" not in mechanism
    assert "last stages of testing" not in text
    ranpirnase = Drug.objects.get(generic_name="ranpirnase")
    assert "@mikulski-2002" not in ranpirnase.how_it_works
    assert "last stages" not in ranpirnase.approval_note and "phase II" in ranpirnase.approval_note


def test_drug_classes_and_how_it_works_are_filled(page):
    classes = dict(Drug.objects.values_list("generic_name", "drug_class"))
    assert classes["5-fluorouracil"] == classes["vinorelbine"] == "Chemotherapy"
    assert classes["interferon"] == "Immune protein (not chemotherapy)"
    assert "antifolate" in Drug.objects.get(generic_name="pemetrexed").how_it_works
    assert "blocks PD-1" in Drug.objects.get(generic_name="pembrolizumab").how_it_works


def test_the_footer_promises_only_what_the_page_does(page):
    overview, raw, text = page
    assert "Every fact links to the research" not in text
    assert "Each study result links to the research it comes from" in text


def test_intro_two_main_paths_and_supportive_care_with_chemotherapy(page):
    overview, raw, text = page
    intro = plain(overview.intro)
    assert "There are two main paths" in intro
    assert "supportive care" in intro and "at the same time as chemotherapy" in intro


def test_glossary_phase_iii_tests_and_the_box_defines_the_phases_of_the_tables(page):
    overview, raw, text = page
    assert "It tests whether" in GlossaryTerm.objects.get(slug="phase-iii-trial").definition
    definitions = raw[raw.index('id="definitions-heading"') :]
    for slug in ("phase-ii-trial", "phase-iii-trial"):
        assert f'id="term-{slug}"' in definitions, slug
    assert 'href="#term-phase-ii-trial"' in section_html(raw, "new-combinations")


def test_keynote_028_results_and_registry_number(page, client):
    overview, raw, text = page
    section = plain(section_html(raw, "pembrolizumab"))
    assert "included 25 people" in section
    assert "In 5 people (20%), the cancer shrank" in section and "In 13 people (52%)" in section
    assert "12.0 months" in section
    trial = Trial.objects.get(slug="keynote-028-pembrolizumab")
    assert trial.patient_count == 25
    assert set(trial.outcomes.values_list("value", flat=True)) == {"5 of 25 (20%)", "13 of 25 (52%)", "12.0 months"}
    number = reference_number(raw, "KEYNOTE-028")
    assert f'href="#ref-{number}"' in section_html(raw, "pembrolizumab")
    trial_page = client.get(trial.get_absolute_url()).content.decode()
    assert "https://clinicaltrials.gov/study/NCT02054806" in trial_page and "13 of 25 (52%)" in trial_page


# --- Issue 15: Treatment today -------------------------------------------------------------------------------


def test_treatment_today_comes_first_with_every_fact_cited(page):
    overview, raw, text = page
    assert overview.sections.first().slug == "treatment-today"
    html = section_html(raw, "treatment-today")
    today = plain(html)
    for fact in (
        "October 2020",
        "September 2024",
        "approved in 2004",
        "Nivolumab (Opdivo®) with ipilimumab (Yervoy®)",
        "Pembrolizumab (Keytruda®) with pemetrexed (Alimta®) and platinum chemotherapy",
        "not the same in every country",
        "Ask your care team",
    ):
        assert fact in today, fact
    checkmate = reference_number(raw, "CheckMate 743")
    keynote = reference_number(raw, "untreated advanced pleural mesothelioma in Canada")
    items = {plain(item).strip(): item for item in re.findall(r"<li>(.*?)</li>", html, re.S)}
    checkmate_item = next(item for text_, item in items.items() if text_.startswith("CheckMate 743"))
    for figure in ("605", "303", "302", "18.1 months", "14.1 months", "41%", "27%"):
        assert figure in plain(checkmate_item), figure
    assert f'href="#ref-{checkmate}"' in checkmate_item
    keynote_item = next(item for text_, item in items.items() if text_.startswith("KEYNOTE-483"))
    for figure in ("440", "222", "218", "17.3 months", "16.1 months"):
        assert figure in plain(keynote_item), figure
    assert f'href="#ref-{keynote}"' in keynote_item


def test_treatment_today_links_its_glossary_terms_and_reads_at_grade_8(page):
    overview, raw, text = page
    html = section_html(raw, "treatment-today")
    for slug in ("immunotherapy", "checkpoint-inhibitor", "median-survival", "first-line-treatment"):
        assert f'href="#term-{slug}"' in html, slug
    assert readability(overview.sections.get(slug="treatment-today").body).grade <= 8


def test_treatment_today_trials_table_from_the_trial_records(page, client):
    overview, raw, text = page
    html = section_html(raw, "treatment-today")
    for slug, nct in (
        ("checkmate-743-nivolumab-ipilimumab", "NCT02899299"),
        ("keynote-483-pembrolizumab-chemotherapy", "NCT02784171"),
    ):
        trial = Trial.objects.get(slug=slug)
        assert trial.phase == Trial.Phase.PHASE_3
        assert f'href="{trial.get_absolute_url()}"' in html and f"https://clinicaltrials.gov/study/{nct}" in html
        trial_page = plain(client.get(trial.get_absolute_url()).content.decode())
        for outcome in trial.outcomes.all():
            assert outcome.population in trial_page and outcome.value in trial_page
    checkmate = Trial.objects.get(slug="checkmate-743-nivolumab-ipilimumab")
    assert checkmate.patient_count == 605
    assert {(o.population, o.value) for o in checkmate.outcomes.all()} >= {
        ("Nivolumab + ipilimumab, 303 patients", "18.1 months"),
        ("Chemotherapy, 302 patients", "14.1 months"),
        ("Nivolumab + ipilimumab, 303 patients", "41%"),
        ("Chemotherapy, 302 patients", "27%"),
    }


def test_no_drug_in_treatment_today_lacks_its_record(page, client):
    overview, raw, text = page
    section = overview.sections.get(slug="treatment-today")
    named = {
        name.lower() for name in re.findall(r"\b([A-Za-z]+(?:mab|xed|platin))\b", section.body)
    }  # antibodies (-mab), pemetrexed, the platinum drugs
    assert named >= {"nivolumab", "ipilimumab", "pembrolizumab", "pemetrexed", "cisplatin", "carboplatin"}
    shown = set(section.drugs.values_list("generic_name", flat=True))
    assert named <= shown
    for brand in re.findall(r"([A-Z][a-z]+)®", section.body):
        drug = Drug.objects.get(brand_names__icontains=brand)
        assert drug.generic_name in shown
        assert client.get(drug.get_absolute_url()).status_code == 200
    nivolumab = Drug.objects.get(generic_name="nivolumab")
    assert nivolumab.brand_names == "Opdivo" and "blocks PD-1" in nivolumab.how_it_works
    assert "blocks CTLA-4" in Drug.objects.get(generic_name="ipilimumab").how_it_works
    assert "September 2024" in Drug.objects.get(generic_name="pembrolizumab").approval_note


def test_the_page_says_honestly_that_no_medical_reviewer_has_reviewed_it_yet(page):
    overview, raw, text = page
    assert overview.reviewed_by is None
    assert "Not yet medically reviewed" in text and "Medically reviewed by" not in text


def test_summary_and_intro_no_longer_say_pemetrexed_is_the_only_treatment(page):
    overview, raw, text = page
    for words in (overview.summary, overview.intro):
        assert not re.search(r"\bonly\b[^.]*\bapprov", words, re.I)
    assert "immunotherapy" in overview.summary and "since 2020" in overview.intro
