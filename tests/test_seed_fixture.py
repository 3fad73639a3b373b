"""The seed page, loaded from fixtures/seed.json into an empty database, is complete and correct."""

import html as html_lib
import re

import pytest
from django.apps import apps
from django.core.management import call_command

from references.models import CitingModel, Reference
from treatments.models import Drug, NextLink, Overview, Trial

pytestmark = pytest.mark.django_db

SEED_SLUG = "stage-iv-recurrent-pleural-mesothelioma"

# Every drug the seed names, as readers must see it: generic name with brand®.
DRUGS = {
    "pemetrexed": "Alimta®", "cisplatin": "Platinol®", "carboplatin": "Paraplatin®", "oxaliplatin": "Eloxatin®",
    "5-fluorouracil": None, "raltitrexed": "Tomudex®", "doxorubicin": "Adriamycin®", "interferon": None,
    "vinorelbine": "Navelbine®", "docetaxel": "Taxotere®", "methotrexate": None, "ranpirnase": "Onconase®",
    "pembrolizumab": "Keytruda®", "gemcitabine": None, "pegylated liposomal doxorubicin": None,
    "mitoxantrone": None, "mitomycin": None, "nivolumab": "Opdivo®", "ipilimumab": "Yervoy®",
}  # fmt: skip

# (PMID, DOI) exactly as ../shared/seed/reference-identifiers.md verifies them; all others are empty.
VERIFIED_IDS = {
    "vorobiof-2002": ("", "10.1093/annonc/mdf046"),
    "baas-2003": ("12565988", "10.1016/S0959-8049(02)00668-8"),
    "vogelzang-2003": ("12860938", "10.1200/JCO.2003.11.136"),
    "alley-2017": ("", "10.1016/S1470-2045(17)30169-9"),
    "fizazi-2003": ("", "10.1200/JCO.2003.05.123"),
    "baas-2021": ("", "10.1016/S0140-6736(20)32714-8"),  # "Treatment since the seed's sources"
}


@pytest.fixture
def seed():
    assert not Overview.objects.exists()
    call_command("loaddata", "seed", verbosity=0)
    return Overview.objects.get(slug=SEED_SLUG)


@pytest.fixture
def page_text(client, seed):
    response = client.get(seed.get_absolute_url())
    assert response.status_code == 200
    raw = response.content.decode()
    return raw, html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", raw)))


def test_sixteen_distinct_references_with_only_verified_identifiers(seed):
    # The seed's 14 distinct works, and the two trials behind today's first-line treatments.
    assert Reference.objects.count() == 16
    for reference in Reference.objects.all():
        assert (reference.pmid, reference.doi) == VERIFIED_IDS.get(reference.key, ("", "")), reference.key
        assert reference.authors and reference.title and reference.source and reference.year
        reference.full_clean()
    vogelzang = Reference.objects.get(key="vogelzang-2003")
    assert (vogelzang.volume, vogelzang.issue, vogelzang.pages) == ("21", "14", "2636-2644")
    alley = Reference.objects.get(key="alley-2017")
    assert alley.source == "Lancet Oncol" and (alley.year, alley.volume, alley.issue) == (2017, "18", "5")
    notes = set(Reference.objects.exclude(note="").values_list("note", flat=True))
    assert notes == {"Abstract 2534", "Abstract 2613", "Abstract 2637"}


def test_stored_citations_match_the_text_and_validate(seed):
    citing_models = [m for m in apps.get_models() if issubclass(m, CitingModel)]
    checked = 0
    for model in citing_models:
        for obj in model.objects.all():
            assert set(obj.cites.values_list("key", flat=True)) == set(obj.cited_keys()), obj
            obj.full_clean()
            checked += 1
    assert checked >= 30


def test_page_shows_every_drug_with_brand_names(page_text):
    raw, text = page_text
    for generic, brand in DRUGS.items():
        assert generic.lower() in text.lower(), generic
        if brand:
            assert brand in text, brand
    assert Drug.objects.count() == len(DRUGS)


def test_page_shows_every_figure_of_the_seed(page_text):
    raw, text = page_text
    for figure in ["20%", "81", "35", "42%", "27%", "41", "61%", "2003", "2017"]:
        assert figure in text, figure
    assert "vitamin" in text.lower() and "B12" in text and "folic acid" in text
    assert "Lancet Oncology" in text and "University of Pennsylvania" in text
    assert "Rana pipiens" in text and "tRNA" in text
    assert "debulking" in text.lower() and "pleura" in text.lower()


def test_reference_list_numbers_every_work_once(page_text):
    raw, text = page_text
    numbers = re.findall(r'<li id="ref-(\d+)" value="\d+">', raw)
    assert numbers == [str(n) for n in range(1, 17)]
    for reference in Reference.objects.all():
        assert html_lib.escape(reference.title, quote=True) in raw or reference.title in text, reference.key
    assert "https://pubmed.ncbi.nlm.nih.gov/12860938/" in raw
    assert "https://doi.org/10.1016/S1470-2045(17)30169-9" in raw
    # Every in-text citation points at an entry of the list.
    cited = set(re.findall(r'href="#ref-(\d+)"', raw))
    assert cited == set(numbers)


def test_trials_tables_and_ranpirnase_results(client, page_text):
    raw, text = page_text
    assert raw.count('<table class="trials">') >= 4
    combos = Trial.objects.filter(sections__slug="new-combinations")
    assert combos.count() == 6
    for trial in combos:
        assert trial.get_absolute_url() in raw
    ranpirnase = Trial.objects.get(drugs__generic_name="ranpirnase")
    assert ranpirnase.patient_count == 81
    values = {(o.measure, o.population, o.value) for o in ranpirnase.outcomes.all()}
    assert {v for _, _, v in values} == {"35 of 81", "6 of 81", "42%", "27%", "61%", "41%"}
    trial_page = client.get(ranpirnase.get_absolute_url()).content.decode()
    assert "35 of 81" in trial_page and "61%" in trial_page and "Onconase®" in trial_page


def test_next_links_to_missing_pages_are_not_links(page_text):
    raw, text = page_text
    for link in NextLink.objects.all():
        assert link.target is None
        assert link.label in text
        assert f">{link.label}</a>" not in raw


def test_standard_regimen_is_pemetrexed_cisplatin(seed):
    trial = Trial.objects.get(slug="pemetrexed-cisplatin-vs-cisplatin")
    assert trial.regimen.is_standard
    assert list(Trial.objects.filter(regimen__is_standard=True)) == [trial]  # the newer regimens carry no flag
    assert [d.drug.generic_name for d in trial.regimen.regimen_drugs.all()] == ["pemetrexed", "cisplatin"]


def test_load_seed_command_never_overwrites_edits(seed):
    seed.title = "Edited by a clinician"
    seed.save()
    call_command("load_seed", verbosity=0)
    seed.refresh_from_db()
    assert seed.title == "Edited by a clinician"


def test_load_seed_command_loads_empty_database():
    call_command("load_seed", verbosity=0)
    assert Overview.objects.filter(slug=SEED_SLUG).exists()


def test_every_public_page_of_the_seed_renders(client, seed):
    urls = ["/", "/drugs/", "/trials/", seed.get_absolute_url()]
    urls += [d.get_absolute_url() for d in Drug.objects.all()] + [t.get_absolute_url() for t in Trial.objects.all()]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "[@" not in response.content.decode(), url


def test_malformed_fixture_changes_nothing(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(
        '[{"model": "references.reference", "pk": 1, "fields": {"key": "ok-2000", "title": "Fine"}},'
        ' {"model": "treatments.trial", "pk": 1, "fields": {"title": "T", "slug": "t", "regimen": 999}}]'
    )
    with pytest.raises(Exception, match="regimen|foreign key|FOREIGN KEY|999"):
        call_command("loaddata", str(bad), verbosity=0)
    assert not Reference.objects.exists() and not Trial.objects.exists()


def test_load_seed_dates_publication_and_starts_history(client):
    call_command("load_seed", verbosity=0)
    overview = Overview.objects.get(slug=SEED_SLUG)
    assert overview.last_published_at is not None and overview.reviewed_by is None
    assert overview.history.count() == 1
    assert all(section.history.count() == 1 for section in overview.sections.all())
    assert Reference.objects.get(key="vogelzang-2003").history.count() == 1
    html = client.get(overview.get_absolute_url()).content.decode()
    assert "<p>Not yet medically reviewed.</p>" in html and "Last updated <time" in html


def test_only_the_verified_trials_have_a_registry_number(seed):
    # ../shared/seed/reference-identifiers.md verifies these three; the 2002–2003 studies predate registration.
    numbered = dict(Trial.objects.exclude(nct_id="").values_list("slug", "nct_id"))
    assert numbered == {
        "keynote-028-pembrolizumab": "NCT02054806",
        "checkmate-743-nivolumab-ipilimumab": "NCT02899299",
        "keynote-483-pembrolizumab-chemotherapy": "NCT02784171",
    }
