"""Reference import: MEDLINE, RIS and BibTeX parsing, matching, keys, atomic import, the command, round trips."""

import io
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from references import importing
from references.export import to_bibtex, to_ris
from references.importing import (
    MATCH_DOI,
    MATCH_PMID,
    MATCH_TITLE,
    ImportPlan,
    NewReference,
    detect_format,
    format_authors,
    generate_key,
    parse,
    plan_import,
    reference_import,
)
from references.models import Reference
from tests.factories import make_reference

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).parent / "samples"


def sample(name):
    return (SAMPLES / name).read_text(encoding="utf-8")


def records_of(name):
    text = sample(name)
    return parse(text, detect_format(text))


def run(*args, **kwargs):
    """call_command with captured output: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_references", *args, stdout=out, stderr=err, **kwargs)
        code = 0
    except CommandError as error:
        code = error.returncode
        err.write(str(error))
    return code, out.getvalue(), err.getvalue()


def make_vogelzang(**fields):
    values = {
        "key": "vogelzang-2003",
        "authors": "Vogelzang NJ, Rusthoven JJ, Symanowski J, et al",
        "title": "Phase III study of pemetrexed in combination with cisplatin versus cisplatin alone in patients "
        "with malignant pleural mesothelioma",
        "source": "J Clin Oncol",
        "year": 2003,
        "volume": "21",
        "issue": "14",
        "pages": "2636-2644",
        "pmid": "12860938",
        "doi": "10.1200/JCO.2003.11.136",
    }
    values.update(fields)
    return make_reference(**values)


def make_baas(**fields):
    values = {
        "key": "baas-2003",
        "authors": "Baas P, Ardizzoni A, Grossi F, et al",
        "title": "The Activity of Raltitrexed (Tomudex) in Malignant Pleural Mesothelioma: An EORTC Phase II Study "
        "(08992)",
        "source": "Eur J Cancer",
        "year": 2003,
        "volume": "39",
        "issue": "3",
        "pages": "353-357",
        "pmid": "12565988",
        "doi": "10.1016/S0959-8049(02)00668-8",
    }
    values.update(fields)
    return make_reference(**values)


def ris(*records):
    """A RIS file from (tag, value) lists, one list per record."""
    lines = []
    for record in records:
        lines += ["TY  - JOUR", *(f"{tag}  - {value}" for tag, value in record), "ER  - ", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- format detection


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("pubmed.nbib", "medline"),
        ("malformed.nbib", "medline"),
        ("partial.nbib", "medline"),
        ("zotero.ris", "ris"),
        ("malformed.ris", "ris"),
        ("partial.ris", "ris"),
        ("library.bib", "bibtex"),
        ("malformed.bib", "bibtex"),
        ("partial.bib", "bibtex"),
    ],
)
def test_detect_format_of_each_sample(name, fmt):
    assert detect_format(sample(name)) == fmt


def test_detect_format_with_byte_order_mark_crlf_and_header_lines():
    assert detect_format("\ufeffProvider: Test\r\n\r\nTY  - JOUR\r\nTI  - x\r\nER  - \r\n") == "ris"
    assert detect_format("\n\nTI  - no PMID line\nAU  - Author T\n") == "medline"


@pytest.mark.parametrize("text", ["", "   \n", "Just some notes about mesothelioma.\n", "<html></html>"])
def test_detect_format_refuses_what_it_does_not_know(text):
    with pytest.raises(ValueError, match=r"empty|Cannot tell the format"):
        detect_format(text)


def test_parse_refuses_unknown_format():
    with pytest.raises(ValueError, match="Unknown format 'endnote'"):
        parse("x", "endnote")


# --------------------------------------------------------------------------- MEDLINE


def test_medline_sample_fields():
    records = records_of("pubmed.nbib")
    assert [(r.index, r.line, r.error) for r in records] == [(1, 1, None), (2, 30, None), (3, 55, None), (4, 90, None)]
    assert records[0].fields == {
        "authors": "Vogelzang NJ, Rusthoven JJ, Symanowski J",
        "title": "Phase III study of pemetrexed in combination with cisplatin versus cisplatin alone in patients "
        "with malignant pleural mesothelioma",
        "source": "J Clin Oncol",
        "year": 2003,
        "volume": "21",
        "issue": "14",
        "pages": "2636-2644",
        "note": "",
        "pmid": "12860938",
        "doi": "10.1200/JCO.2003.11.136",
        "url": "",
    }
    baas = records[1].fields
    assert (baas["pages"], baas["doi"], baas["pmid"]) == ("353-357", "10.1016/S0959-8049(02)00668-8", "12565988")
    test = records[2].fields
    assert test["authors"] == "Author T, Person SA, Example T, et al"  # 8 authors + group: first 3, et al
    assert test["title"].endswith("long enough to need a continuation line")
    assert (test["pages"], test["doi"], test["year"]) == ("101-109", "10.9999/test.1", 2021)
    translated = records[3].fields
    assert translated["title"] == "TEST DATA: translated title of a synthetic non-English record"
    assert (translated["authors"], translated["doi"], translated["pages"]) == ("de Pangher Manzini T", "", "e12")


def test_medline_full_names_collective_author_and_records_without_blank_lines():
    text = (
        "PMID- 99999951\nTI  - TEST DATA: one\nFAU - Author, Test Anne\nFAU - Smith, John, Jr\nCN  - MesoInfo Test "
        "Group\nDP  - 2019\nPMID- 99999952\nTI  - TEST DATA: two\nDP  - 2019\n"
    )
    records = parse(text, "medline")
    assert [r.fields["pmid"] for r in records] == ["99999951", "99999952"]
    assert records[0].fields["authors"] == "Author TA, Smith J Jr, MesoInfo Test Group"
    assert records[1].line == 7


def test_medline_malformed_records_name_the_problem():
    records = records_of("malformed.nbib")
    assert [(r.index, r.line) for r in records] == [(1, 1), (2, 7), (3, 13)]
    assert records[0].error == "year 'sometime' is not a year"
    assert records[1].error == "PMID '9999991X' is not a PMID (digits only)"
    assert records[2].error.startswith("no title; line 17 is not a MEDLINE line")


# --------------------------------------------------------------------------- RIS


def test_ris_sample_fields():
    records = records_of("zotero.ris")
    assert [(r.index, r.line, r.error) for r in records] == [(1, 1, None), (2, 21, None), (3, 36, None), (4, 49, None)]
    vogelzang = records[0].fields
    assert vogelzang["authors"] == "Vogelzang NJ, Rusthoven JJ, Symanowski J, et al"  # 'et al.' author kept
    assert vogelzang["source"] == "J Clin Oncol"  # J2 abbreviation preferred to T2 full title
    assert (vogelzang["pages"], vogelzang["pmid"], vogelzang["year"]) == ("2636-2644", "12860938", 2003)
    assert records[1].fields["doi"] == "10.1016/S0959-8049(02)00668-8"  # https://doi.org/ stripped
    abstract = records[2].fields
    assert abstract["note"] == "Abstract 9999"
    assert abstract["title"] == (
        "TEST DATA, NOT A REAL ABSTRACT: a synthetic conference abstract whose title is wrapped onto a second line"
    )
    assert (abstract["doi"], abstract["url"], abstract["year"]) == (
        "10.9999/TEST.2",
        "https://example.org/test-abstract-9999",
        2019,
    )
    nine = records[3].fields
    assert nine["authors"] == "Müller JT, Author T, Person S, et al"
    assert (nine["source"], nine["pages"], nine["pmid"]) == ("Test J", "1-12", "99999903")


def test_ris_alternative_tags():
    text = ris(
        [("A1", "Author, Test"), ("T1", "TEST DATA: T1 title"), ("JF", "Test Journal"), ("Y1", "2018/03/01/")],
        [("AU", "Author T"), ("TI", "TEST DATA: other"), ("PY", "2018"), ("AN", "WOS:000999999"), ("SP", "5-9")],
    )
    first, second = parse(text, "ris")
    assert (first.fields["authors"], first.fields["title"], first.fields["source"], first.fields["year"]) == (
        "Author T",
        "TEST DATA: T1 title",
        "Test Journal",
        2018,
    )
    assert second.fields["pmid"] == ""  # an accession number that is not a PMID is not one
    assert second.fields["pages"] == "5-9"


def test_ris_notes_are_joined_as_plain_text():
    (record,) = parse(ris([("TI", "TEST DATA"), ("N1", "<p>Abstract 42</p>"), ("N1", "Poster")]), "ris")
    assert record.fields["note"] == "Abstract 42; Poster"


def test_ris_malformed_records_name_record_and_line():
    records = records_of("malformed.ris")
    assert [(r.index, r.line, r.error) for r in records] == [
        (1, 1, "unterminated record: no 'ER  -' line before the next record at line 5"),
        (2, 5, "year 'abcd' is not a year"),
        (3, 11, "tags outside a record (no 'TY  -' line before them)"),
        (4, 15, "unterminated record: the file ends before its 'ER  -' line"),
    ]
    assert records[0].fields["title"] == "TEST DATA: a record without an ER line"  # still shown in the report


# --------------------------------------------------------------------------- BibTeX


def test_bibtex_sample_fields():
    records = records_of("library.bib")
    assert [(r.index, r.line, r.error) for r in records] == [(1, 5, None), (2, 17, None), (3, 28, None), (4, 38, None)]
    vogelzang = records[0].fields
    assert vogelzang["authors"] == "Vogelzang NJ, Rusthoven JJ, Symanowski J, et al"
    assert vogelzang["title"].startswith("Phase III study of pemetrexed")
    assert vogelzang["source"] == "J Clin Oncol"  # @string macro
    assert (vogelzang["pages"], vogelzang["doi"], vogelzang["pmid"]) == (
        "2636-2644",
        "10.1200/JCO.2003.11.136",
        "12860938",
    )
    baas = records[1].fields
    assert baas["title"] == (
        "The activity of raltitrexed (Tomudex) in malignant pleural mesothelioma: an EORTC phase II study (08992)"
    )
    assert (baas["authors"], baas["year"], baas["volume"], baas["issue"]) == (
        "Baas P, Ardizzoni A, Grossi F, et al",
        2003,
        "39",
        "3",
    )
    abstract = records[2].fields
    assert abstract["authors"] == "Müller T, MesoInfo Test Group"
    assert abstract["title"] == "TEST DATA: survival at 50% of a synthetic cohort & a second arm"
    assert (abstract["source"], abstract["note"], abstract["pages"]) == (
        "Proceedings of the Test Society (test data)",
        "Abstract 1234",
        "e101-e103",
    )
    manzini = records[3].fields
    assert manzini["authors"] == "de Pangher Manzini T, Author S, Author T"
    assert (manzini["year"], manzini["pages"], manzini["pmid"]) == (2017, "77-79", "99999904")


def test_bibtex_malformed_entries_name_their_line():
    records = records_of("malformed.bib")
    assert [(r.index, r.line) for r in records] == [(1, 1), (2, 6), (3, 12), (4, 17)]
    assert records[0].error.startswith("unterminated entry '@article{test_unclosed,': the entry at line 6 starts")
    assert records[1].error == "year 'abcd' is not a year"
    assert records[2].error == "no title"
    assert records[3].error == "unterminated entry '@article{test_truncated,': the file ends before its closing brace"


def test_bibtex_parser_warnings_are_not_logged_twice(caplog):
    with caplog.at_level("DEBUG"):
        records = records_of("malformed.bib")
    assert records[0].error
    assert not [r for r in caplog.records if r.name.startswith("bibtexparser.splitter")]


def test_bibtex_duplicate_field_and_duplicate_citation_key():
    text = (
        "@article{a, title = {TEST DATA: one}, title = {again}, year = 2020}\n"
        "@article{b, title = {TEST DATA: two}, year = 2020}\n"
        "@article{b, title = {TEST DATA: three}, year = 2021}\n"
    )
    records = parse(text, "bibtex")
    assert "field given twice" in records[0].error and "title" in records[0].error
    assert [r.error for r in records[1:]] == [None, None]  # citation keys are not ours: both are records
    assert records[2].fields["title"] == "TEST DATA: three"


# --------------------------------------------------------------------------- field rules


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["A B", "C D", "E F", "G H", "I J", "K L"], "A B, C D, E F, G H, I J, K L"),
        (["A B", "C D", "E F", "G H", "I J", "K L", "M N"], "A B, C D, E F, et al"),
        (["A B", "et al"], "A B, et al"),
        ([], ""),
    ],
)
def test_authors_ama_rule(names, expected):
    assert format_authors(names) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Vogelzang, Nicholas J.", "Vogelzang NJ"),
        ("Vogelzang, N. J.", "Vogelzang NJ"),
        ("Vogelzang, NJ", "Vogelzang NJ"),
        ("Vogelzang NJ", "Vogelzang NJ"),
        ("Müller, Jürgen-Test", "Müller JT"),
        ("Smith, John, Jr.", "Smith J Jr"),
        ("Nicholas J. Vogelzang", "Vogelzang NJ"),
        ("MesoInfo Test Group", "MesoInfo Test Group"),
    ],
)
def test_names_in_vancouver_form(name, expected):
    assert importing._vancouver_from_text(name) == expected


@pytest.mark.parametrize(
    ("pages", "expected"),
    [
        ("2636-44", "2636-2644"),
        ("353-7", "353-357"),
        ("2636--2644", "2636-2644"),
        ("2636–2644", "2636-2644"),
        ("99-101", "99-101"),
        ("e101-e103", "e101-e103"),
        ("e12", "e12"),
        ("", ""),
    ],
)
def test_page_ranges(pages, expected):
    assert importing._pages(pages) == expected


@pytest.mark.parametrize(
    ("tag", "value", "field", "expected"),
    [
        ("DO", "https://doi.org/10.9999/test.5", "doi", "10.9999/test.5"),
        ("DO", "http://dx.doi.org/10.9999/test.5", "doi", "10.9999/test.5"),
        ("DO", "doi:10.9999/test.5", "doi", "10.9999/test.5"),
        ("DO", "DOI: 10.9999/test.5", "doi", "10.9999/test.5"),
        ("AN", "PMID: 99999905", "pmid", "99999905"),
    ],
)
def test_identifier_prefixes_are_stripped(tag, value, field, expected):
    (record,) = parse(ris([("TI", "TEST DATA"), (tag, value)]), "ris")
    assert record.error is None
    assert record.fields[field] == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("PMID- 12x\nTI  - TEST DATA\n", "PMID '12x' is not a PMID (digits only)"),
        ("PMID- 1\nTI  - TEST DATA\nLID - 11.9999/x [doi]\n", "DOI '11.9999/x' is not a DOI"),
        ("PMID- 1\nTI  - TEST DATA\nDP  - 3003\n", "year '3003' is not a year"),
    ],
)
def test_bad_identifiers_and_years_are_errors(text, error):
    (record,) = parse(text, "medline")
    assert record.error.startswith(error)


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    ("authors", "year", "key"),
    [
        ("Vogelzang NJ, Rusthoven JJ, Symanowski J, et al", 2003, "vogelzang-2003"),
        ("de Pangher Manzini V, Other A", 2003, "de-pangher-manzini-2003"),
        ("", 2003, "anon-2003"),
        ("Vogelzang NJ", None, "vogelzang-nd"),
        ("Müller T", 2018, "muller-2018"),
        ("O'Brien ME", 2006, "obrien-2006"),
        ("Smith J Jr", 2001, "smith-2001"),
        ("EORTC Lung Cancer Group", 2003, "eortc-lung-cancer-group-2003"),
        ("李 X", 2010, "anon-2010"),
    ],
)
def test_generate_key(authors, year, key):
    taken = set()
    assert generate_key(authors, year, taken) == key
    assert taken == {key}


def test_generate_key_suffixes_on_collision():
    taken = {"vogelzang-2003", "vogelzang-2003-b"}
    assert generate_key("Vogelzang NJ", 2003, taken) == "vogelzang-2003-c"
    assert generate_key("Vogelzang NJ", 2003, taken) == "vogelzang-2003-d"
    assert {"vogelzang-2003-c", "vogelzang-2003-d"} <= taken
    assert [importing._suffix(n) for n in (2, 26, 27, 28)] == ["b", "z", "aa", "ab"]


def test_generated_keys_are_valid_and_short():
    key = generate_key("A" * 200 + " B", 2003, set())
    assert len(key) <= 80
    Reference(key=key, title="TEST DATA").full_clean(validate_unique=False)


def test_plan_keys_avoid_existing_keys_and_each_other():
    make_vogelzang()
    text = ris(
        [("AU", "Vogelzang, N. J."), ("TI", "TEST DATA: another Vogelzang 2003 work"), ("PY", "2003")],
        [("AU", "Vogelzang, N. J."), ("TI", "TEST DATA: a third Vogelzang 2003 work"), ("PY", "2003")],
    )
    plan = plan_import(parse(text, "ris"))
    assert [item.key for item in plan.new] == ["vogelzang-2003-b", "vogelzang-2003-c"]


# --------------------------------------------------------------------------- matching


def test_matches_existing_by_pmid():
    existing = make_vogelzang(doi="", title="A different title entirely")
    plan = plan_import(records_of("pubmed.nbib")[:1])
    assert [(item.reference, item.rule) for item in plan.existing] == [(existing, MATCH_PMID)]
    assert plan.new == [] and plan.rejected == []


def test_matches_existing_by_doi_ignoring_case_and_prefix():
    existing = make_vogelzang(pmid="", title="A different title entirely")
    text = ris([("TI", "TEST DATA"), ("DO", "https://doi.org/10.1200/jco.2003.11.136"), ("PY", "2003")])
    plan = plan_import(parse(text, "ris"))
    assert [(item.reference, item.rule) for item in plan.existing] == [(existing, MATCH_DOI)]


def test_matches_existing_by_normalised_title_and_year():
    existing = make_vogelzang(pmid="", doi="", title="Phase III Study of Pemetrexed: Cisplatin versus Cisplatin Alone")
    same = ris([("TI", "phase iii study of pemetrexed — cisplatin versus cisplatin alone."), ("PY", "2003")])
    other_year = ris([("TI", "Phase III study of pemetrexed: cisplatin versus cisplatin alone"), ("PY", "2004")])
    plan = plan_import(parse(same, "ris") + parse(other_year, "ris"))
    assert [(item.reference, item.rule) for item in plan.existing] == [(existing, MATCH_TITLE)]
    assert [item.record.fields["year"] for item in plan.new] == [2004]


def test_same_title_and_year_with_different_identifiers_is_not_a_match():
    make_reference(key="erratum-2020", title="Erratum", year=2020, pmid="99999981")
    text = ris(
        [("TI", "Erratum"), ("PY", "2020"), ("AN", "99999982")],
        [("TI", "Erratum."), ("PY", "2020"), ("AN", "99999983")],
        [("TI", "Erratum"), ("PY", "2020")],
    )
    plan = plan_import(parse(text, "ris"))
    assert [item.key for item in plan.new] == ["anon-2020", "anon-2020-b"]
    assert [(item.record.index, item.reference.key, item.rule) for item in plan.existing] == [
        (3, "erratum-2020", MATCH_TITLE)
    ]


def test_duplicates_within_the_file_are_rejected():
    text = ris(
        [("TI", "TEST DATA: first"), ("AN", "99999961"), ("DO", "10.9999/test.61"), ("PY", "2020")],
        [("TI", "TEST DATA: same PMID"), ("AN", "99999961"), ("PY", "2020")],
        [("TI", "TEST DATA: same DOI"), ("DO", "https://doi.org/10.9999/TEST.61"), ("PY", "2020")],
        [("TI", "Test data: FIRST!"), ("PY", "2020")],
        [("TI", "TEST DATA: first"), ("PY", "2021")],
    )
    plan = plan_import(parse(text, "ris"))
    assert [item.record.index for item in plan.new] == [1, 5]
    assert [(item.record.index, item.reason) for item in plan.rejected] == [
        (2, "duplicate of record 1 in this file"),
        (3, "duplicate of record 1 in this file"),
        (4, "duplicate of record 1 in this file"),
    ]


def test_duplicate_of_an_existing_reference_in_the_file_twice_is_already_present_twice():
    make_vogelzang()
    records = records_of("pubmed.nbib")[:1] * 2
    plan = plan_import(records)
    assert len(plan.existing) == 2 and plan.new == [] and plan.rejected == []


def test_plan_rejects_records_the_model_would_refuse():
    text = ris([("TI", "TEST DATA: long source"), ("JO", "J" * 300), ("PY", "2020")])
    plan = plan_import(parse(text, "ris"))
    assert plan.new == []
    assert plan.rejected[0].reason.startswith("source: Ensure this value has at most 255 characters")


def test_plan_query_count_does_not_grow_with_the_file():
    for n in range(5):
        make_reference(pmid=f"9999980{n}", doi=f"10.9999/existing.{n}", year=2020)

    def queries_for(count):
        text = ris(
            *[
                [("TI", f"TEST DATA: bulk {i}"), ("AN", str(99990000 + i)), ("DO", f"10.9999/b.{i}"), ("PY", "2020")]
                for i in range(count)
            ]
        )
        records = parse(text, "ris")
        with CaptureQueriesContext(connection) as context:
            plan = plan_import(records)
        assert len(plan.new) == count
        return len(context.captured_queries)

    small, large = queries_for(10), queries_for(1200)
    assert small <= 5
    assert large <= small + 4  # one more query per 500 PMIDs and per 500 DOIs, none per record


# --------------------------------------------------------------------------- importing


def test_import_creates_references_with_history():
    user = get_user_model().objects.create_user("importer")
    plan = plan_import(records_of("pubmed.nbib"))
    created = reference_import(plan, user=user)
    assert [ref.key for ref in created] == ["vogelzang-2003", "baas-2003", "author-2021", "de-pangher-manzini-2022"]
    vogelzang = Reference.objects.get(key="vogelzang-2003")
    assert vogelzang.citation() == (
        "Vogelzang NJ, Rusthoven JJ, Symanowski J. Phase III study of pemetrexed in combination with cisplatin "
        "versus cisplatin alone in patients with malignant pleural mesothelioma. J Clin Oncol. "
        "2003;21(14):2636-2644. doi:10.1200/JCO.2003.11.136"
    )
    assert vogelzang.version == 1
    history = Reference.history.filter(history_type="+")
    assert history.count() == 4
    first = vogelzang.history.get()
    assert (first.history_user, first.history_change_reason) == (user, "Imported from a reference file")


def test_import_with_nothing_new_does_nothing():
    assert reference_import(ImportPlan()) == []


@pytest.mark.django_db(transaction=True)
def test_import_is_all_or_nothing_when_the_database_fails_midway(monkeypatch):
    monkeypatch.setattr(importing, "BATCH_SIZE", 2)
    plan = plan_import(records_of("pubmed.nbib"))
    assert len(plan.new) == 4
    real_bulk_create = Reference.objects.bulk_create
    calls = []

    def failing_bulk_create(objs, *args, **kwargs):
        calls.append(len(objs))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real_bulk_create(objs, *args, **kwargs)

    monkeypatch.setattr(Reference.objects, "bulk_create", failing_bulk_create)
    with pytest.raises(RuntimeError, match="disk full"):
        reference_import(plan)
    assert calls == [2, 2]  # the first batch was written, then rolled back
    assert Reference.objects.count() == 0
    assert Reference.history.count() == 0


def test_import_saves_nothing_when_one_record_fails_full_clean():
    good, bad = records_of("partial.ris")[0], records_of("partial.ris")[2]
    bad.fields["doi"] = "not a doi"
    plan = ImportPlan(new=[NewReference(good, "author-2020"), NewReference(bad, "person-2021")])
    with pytest.raises(ValueError, match=r"Record 3 \(line 14\) is not valid: doi: A DOI starts with 10\."):
        reference_import(plan)
    assert Reference.objects.count() == 0


def test_import_saves_nothing_when_an_identifier_was_taken_since_the_plan():
    plan = plan_import(records_of("pubmed.nbib"))
    make_reference(key="someone-else", pmid="99999901")
    with pytest.raises(ValueError, match=r"Record 3 \(line 55\): its pmid '99999901' is now used by reference"):
        reference_import(plan)
    assert Reference.objects.count() == 1


# --------------------------------------------------------------------------- round trip


def round_trip_references():
    return [
        make_vogelzang(),
        make_baas(),
        make_reference(
            key="test-abstract-2019",
            authors="Author T, Person SA",
            title="TEST DATA: survival at 50% & more in a synthetic abstract",
            source="Proc Test Soc",
            year=2019,
            note="Abstract 9999",
            doi="10.9999/test.71",
        ),
        make_reference(
            key="test-web-nd",
            authors="de Pangher Manzini T",
            title="TEST DATA: a web page without a year",
            source="",
            year=None,
            url="https://example.org/test-page",
        ),
        make_reference(key="test-seven-2020", authors="A B, C D, E F, G H, I J, K L", title="TEST DATA: six authors"),
    ]


@pytest.mark.parametrize("export", [to_ris, to_bibtex], ids=["ris", "bibtex"])
def test_round_trip_everything_already_present(export):
    references = round_trip_references()
    text = export(references)
    plan = plan_import(parse(text, detect_format(text)))
    assert plan.new == [] and plan.rejected == []
    assert [item.reference for item in plan.existing] == references
    assert run("-", stdin=io.StringIO(text))[1].endswith("created 0 / already present 5 / rejected 0\n")
    assert Reference.objects.count() == 5


@pytest.mark.parametrize("export", [to_ris, to_bibtex], ids=["ris", "bibtex"])
def test_round_trip_into_an_empty_database_keeps_every_field(export):
    references = round_trip_references()
    originals = {ref.title: ref for ref in references}
    text = export(references)
    Reference.objects.all().delete()
    created = reference_import(plan_import(parse(text, detect_format(text))))
    assert len(created) == 5
    for ref in created:
        original = originals[ref.title]
        for name in importing.FIELDS:
            expected = getattr(original, name)
            if name == "authors" and export is to_ris:
                expected = expected.removesuffix(", et al")  # to_ris writes no 'et al' marker
            assert getattr(ref, name) == expected, (original.key, name)


# --------------------------------------------------------------------------- the command


def test_command_imports_a_file_and_prints_the_summary():
    make_vogelzang()
    code, out, err = run(str(SAMPLES / "pubmed.nbib"))
    assert code == 0
    assert "created 3 / already present 1 / rejected 0" in out
    assert "Rejected" not in out and err == ""
    assert Reference.objects.count() == 4
    assert Reference.history.exclude(key="vogelzang-2003").filter(history_type="+").count() == 3


def test_command_verbose_lists_each_record():
    make_vogelzang()
    code, out, _ = run(str(SAMPLES / "library.bib"), verbosity=2)
    assert "record 1: already present as vogelzang-2003 (same PMID)" in out
    assert "record 2: new baas-2003" in out


@pytest.mark.parametrize("name", ["partial.nbib", "partial.ris", "partial.bib"])
def test_command_partial_file_imports_the_good_records_and_exits_1(name):
    code, out, err = run(str(SAMPLES / name))
    assert code == 1
    assert "created 2 / already present 0 / rejected 1" in out
    rejected = out.split("Rejected:\n", 1)[1]
    expected = {"partial.nbib": "record 2 (line 10)", "partial.ris": "record 2 (line 9)", "partial.bib": "record 2"}
    assert rejected.strip().startswith(expected[name])
    assert "1 record(s) rejected" in err
    assert Reference.objects.count() == 2


@pytest.mark.parametrize(
    ("name", "lines"),
    [
        (
            "malformed.nbib",
            [
                "record 1 (line 1) “TEST DATA: a record whose date has no year”: year 'sometime' is not a year",
                "record 2 (line 7) “TEST DATA: a record whose PMID is not a number”: PMID '9999991X' is not a PMID",
                "record 3 (line 13): no title; line 17 is not a MEDLINE line",
            ],
        ),
        (
            "malformed.ris",
            [
                "record 1 (line 1) “TEST DATA: a record without an ER line”: unterminated record",
                "record 2 (line 5) “TEST DATA: a record whose year is not a year”: year 'abcd' is not a year",
                "record 3 (line 11) “TEST DATA: tags outside a record”: tags outside a record",
                "record 4 (line 15) “TEST DATA: the file ends before this record ends”: unterminated record",
            ],
        ),
        (
            "malformed.bib",
            [
                "record 1 (line 1): unterminated entry '@article{test_unclosed,'",
                "record 2 (line 6) “TEST DATA: an entry whose year is not a year”: year 'abcd' is not a year",
                "record 3 (line 12): no title",
                "record 4 (line 17): unterminated entry '@article{test_truncated,'",
            ],
        ),
    ],
)
def test_command_malformed_file_changes_nothing_and_names_each_bad_record(name, lines):
    make_vogelzang()
    before = list(Reference.history.values_list("pk", flat=True))
    code, out, _ = run(str(SAMPLES / name))
    assert code == 1
    assert f"created 0 / already present 0 / rejected {len(lines)}" in out
    for line in lines:
        assert f"\n  {line}" in out
    assert list(Reference.objects.values_list("key", flat=True)) == ["vogelzang-2003"]
    assert list(Reference.history.values_list("pk", flat=True)) == before


def test_command_dry_run_changes_nothing():
    code, out, _ = run(str(SAMPLES / "zotero.ris"), "--dry-run")
    assert code == 0
    assert "created 4 / already present 0 / rejected 0 (dry run: nothing was saved)" in out
    assert Reference.objects.count() == 0
    code, out, _ = run(str(SAMPLES / "partial.ris"), "--dry-run")
    assert code == 1
    assert "created 2 / already present 0 / rejected 1 (dry run: nothing was saved)" in out
    assert Reference.objects.count() == 0 and Reference.history.count() == 0


def test_command_strict_imports_nothing_when_a_record_is_rejected():
    code, out, _ = run(str(SAMPLES / "partial.bib"), "--strict")
    assert code == 1
    assert "created 0 / already present 0 / rejected 1 (--strict: nothing imported; 2 would have been created)" in out
    assert Reference.objects.count() == 0
    code, out, _ = run(str(SAMPLES / "library.bib"), "--strict")
    assert code == 0 and Reference.objects.count() == 4


def test_command_reads_standard_input(monkeypatch):
    code, out, _ = run("-", stdin=io.StringIO(sample("zotero.ris")))
    assert code == 0 and out.startswith("standard input: 4 RIS record(s).")
    assert Reference.objects.count() == 4
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(sample("library.bib").encode("utf-8-sig"))))
    code, out, _ = run("-")
    assert code == 0 and "created 2 / already present 2 / rejected 0" in out


def test_command_format_option_overrides_detection(tmp_path):
    path = tmp_path / "refs.txt"
    path.write_text(sample("pubmed.nbib"), encoding="utf-8")
    code, out, _ = run(str(path), "--format", "medline")
    assert code == 0 and "4 MEDLINE/PubMed record(s)" in out
    code, _, err = run(str(path), "--format", "bibtex")
    assert code == 2 and "no references found in this BibTeX file" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"Just some notes about mesothelioma.\n", "Cannot tell the format of this file"),
        (b"", "The file is empty"),
        ("TY  - JOUR\nTI  - TEST DATA caf\xe9\nER  - \n".encode("latin-1"), "is not UTF-8 text (line 2, byte 31"),
    ],
)
def test_command_unreadable_file_is_an_error_and_changes_nothing(tmp_path, content, message):
    path = tmp_path / "refs.ris"
    path.write_bytes(content)
    code, out, err = run(str(path))
    assert code == 2 and message in err and out == ""
    assert Reference.objects.count() == 0


def test_command_missing_file(tmp_path):
    code, _, err = run(str(tmp_path / "nope.ris"))
    assert code == 2 and "Cannot read" in err and "No such file" in err


def test_command_shows_progress_on_stderr_for_large_files(tmp_path):
    path = tmp_path / "big.ris"
    path.write_text(ris(*[[("TI", f"TEST DATA: bulk {i}"), ("PY", "2020")] for i in range(600)]), encoding="utf-8")
    code, out, err = run(str(path))
    assert code == 0 and "created 600 / already present 0 / rejected 0" in out
    assert "Read 600 records" in err and "Importing: 600/600" in err
    assert "Importing" not in run(str(SAMPLES / "zotero.ris"))[2]  # small files: no progress display


# --- hostile and huge files: field and record limits, linear-time parsing -------------------------------------


def realistic_ris(records, start=1):
    """About 1.4 KB a record, like a reference manager's export with abstracts."""
    abstract = "Background words of an abstract about a made-up study. " * 20
    return "".join(
        f"TY  - JOUR\nAU  - Smith, John\nAU  - Doe, Jane\nTI  - A made-up study number {n}\nJO  - J Test\n"
        f"PY  - 2001\nVL  - 1\nSP  - 1\nEP  - 2\nAB  - {abstract}\nER  - \n\n"
        for n in range(start, start + records)
    )


@pytest.mark.parametrize(
    ("fmt", "text", "reason"),
    [
        ("bibtex", "@article{a, title={" + "word " * 200_000 + "}, year={2001}}\n", "title too long"),
        ("bibtex", "@article{a, title={T}, author={" + "Doe, J and " * 100_000 + "}}\n", "author too long"),
        ("medline", "PMID- 1\nTI  - Start\n" + "      more words here\n" * 200_000 + "\n", "lines long"),
        ("medline", "PMID- 1\nTI  - " + "word " * 200_000 + "\n", "title too long"),
        ("ris", "TY  - JOUR\nTI  - " + "word " * 200_000 + "\nER  - \n", "title too long"),
        ("ris", "TY  - JOUR\nTI  - Title\n" + "AU  - Doe, J\n" * 100_000 + "ER  - \n", "lines long"),
    ],
    ids=["bibtex-1mb-title", "bibtex-huge-author-list", "medline-200k-lines", "medline-1mb-title", "ris-1mb-title",
         "ris-100k-authors"],
)  # fmt: skip
def test_oversized_fields_and_records_are_rejected_with_a_reason_in_linear_time(fmt, text, reason):
    started = time.monotonic()
    records = parse(text, fmt)
    assert time.monotonic() - started < 1.5
    assert len(records) == 1 and reason in records[0].error
    plan = plan_import(records)
    assert not plan.new and reason in plan.rejected[0].reason


def test_a_10_mb_file_is_parsed_and_planned_in_seconds():
    text = realistic_ris(8_500)
    assert len(text.encode()) > 10_000_000
    started = time.monotonic()
    plan = plan_import(parse(text, "ris"))
    assert time.monotonic() - started < 10
    assert len(plan.new) == 8_500 and not plan.rejected


def test_a_file_with_too_many_records_is_refused_before_parsing():
    text = "".join(f"TY  - JOUR\nTI  - Study {n}\nER  - \n" for n in range(importing.MAX_RECORDS + 1))
    started = time.monotonic()
    with pytest.raises(ValueError, match="at most 20,000 can be imported at once"):
        parse(text, "ris")
    assert time.monotonic() - started < 1
