"""registry/mapping.py: API v2 study records → RegistryStudy values, field for field."""

import datetime

import pytest

from registry.mapping import InvalidStudy, content_hash, plain_text, study_fields
from tests.registry.builders import api_study, sample


def test_a_full_record_maps_field_for_field():
    fields, interventions, locations = study_fields(sample("page1.json")["studies"][0])
    assert fields == {
        "nct_id": "NCT90000001",
        "brief_title": "Test Drug A With Radiation for Pleural Mesothelioma",
        "official_title": "A Phase 2 Study of Test Drug A Given With Radiation Therapy in Adults With Malignant "
        "Pleural Mesothelioma",
        "overall_status": "RECRUITING",
        "phases": ["PHASE2"],
        "study_type": "INTERVENTIONAL",
        "conditions": ["Malignant Pleural Mesothelioma"],
        "enrollment_count": 40,
        "enrollment_type": "ESTIMATED",
        "sponsor": "Example Cancer Centre",
        "start_date": "2025-03-14",
        "last_update_posted": datetime.date(2026, 10, 3),
        "minimum_age": "18 Years",
        "maximum_age": "",
        "sex": "ALL",
        # Markdown's escape (\>=) is undone; the text stays plain, bullets and all.
        "eligibility_criteria": "Inclusion Criteria:\n\n* Age >= 18 years\n* Malignant pleural mesothelioma "
        "confirmed by biopsy\n\nExclusion Criteria:\n\n* Earlier radiation to the chest",
    }
    assert interventions == [
        {"type": "DRUG", "name": "Test Drug A"},
        {"type": "RADIATION", "name": "Radiation therapy"},
    ]
    # No contact people, phone numbers or coordinates are kept: only where the study runs.
    assert locations == [
        {"facility": "Example Cancer Centre", "city": "Lyon", "state": "", "country": "France"},
        {"facility": "Example University Hospital", "city": "Milan", "state": "", "country": "Italy"},
        {"facility": "Second Example Hospital", "city": "Paris", "state": "", "country": "France"},
    ]


def test_two_phases_no_locations_no_enrollment_type():
    fields, interventions, locations = study_fields(sample("page1.json")["studies"][1])
    assert fields["phases"] == ["PHASE1", "PHASE2"]
    assert (fields["enrollment_count"], fields["enrollment_type"]) == (120, "")
    assert fields["official_title"] == "" and fields["maximum_age"] == "80 Years"
    assert interventions == [{"type": "BIOLOGICAL", "name": "Test Antibody B"}]
    assert locations == []


def test_missing_optional_modules_leave_fields_empty():
    fields, interventions, locations = study_fields(sample("page1.json")["studies"][2])
    assert fields["phases"] == [] and fields["study_type"] == "OBSERVATIONAL"
    assert fields["start_date"] == "2026-12"  # a partial date, as the registry gives it
    assert fields["eligibility_criteria"] == fields["minimum_age"] == fields["sex"] == ""
    assert interventions == []
    assert locations == [{"facility": "Example Clinic", "city": "Leeds", "state": "", "country": "United Kingdom"}]

    bare = {
        "protocolSection": {
            "identificationModule": {"nctId": "NCT90000009", "briefTitle": "Bare"},
            "statusModule": {"overallStatus": "RECRUITING"},
        }
    }
    fields, interventions, locations = study_fields(bare)
    assert fields["enrollment_count"] is None and fields["last_update_posted"] is None
    assert fields["sponsor"] == "" and fields["conditions"] == [] and interventions == locations == []


def test_third_party_markup_becomes_plain_text():
    fields, interventions, _ = study_fields(sample("page2.json")["studies"][0])
    # Tags go (script with its content); Markdown stays as typed, never rendered.
    assert fields["brief_title"] == "Immunotherapy Test C for **Peritoneal** Mesothelioma"
    assert fields["official_title"] == "Test C & Test D in Peritoneal Mesothelioma"
    assert fields["sponsor"] == "Example Research Group"
    assert interventions[1] == {"type": "PROCEDURE", "name": "Surgery"}
    assert "javascript" not in fields["eligibility_criteria"] and "<" not in fields["eligibility_criteria"]
    assert "* Peritoneal mesothelioma" in fields["eligibility_criteria"]
    assert "[@alley-2017]" in fields["eligibility_criteria"]  # not a citation: plain text


def test_plain_text_keeps_characters_that_look_like_markup():
    assert plain_text("Age < 18 & > 75") == "Age < 18 & > 75"
    assert plain_text("&lt;b&gt; stays text") == "<b> stays text"  # stored as text; templates escape it on output
    assert plain_text("tab\tand\x00null") == "tab\tandnull"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["protocolSection"]["identificationModule"].pop("nctId"), "nctId is missing"),
        (lambda s: s["protocolSection"]["identificationModule"].update(nctId="NCT123"), "not an NCT number"),
        (lambda s: s["protocolSection"]["identificationModule"].update(nctId=90000001), "should be str"),
        (lambda s: s.pop("protocolSection"), "nctId is missing"),
        (lambda s: s["protocolSection"]["statusModule"].pop("overallStatus"), "overallStatus is missing"),
        (lambda s: s["protocolSection"]["statusModule"].update(overallStatus="<b>open</b>"), "not a registry code"),
        (lambda s: s["protocolSection"]["designModule"].update(phases="PHASE2"), "phases should be list"),
        (lambda s: s["protocolSection"]["designModule"].update(phases=[2]), r"phases\[0\] should be str"),
        (lambda s: s["protocolSection"]["designModule"]["enrollmentInfo"].update(count="40"), "should be int"),
        (lambda s: s["protocolSection"]["designModule"]["enrollmentInfo"].update(count=True), "should be int"),
        (lambda s: s["protocolSection"]["designModule"]["enrollmentInfo"].update(count=-1), "is negative"),
        (
            lambda s: s["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"].update(date="2026-02-30"),
            "is not a date",
        ),
        (lambda s: s["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"].update(date="2026-02"), "date"),
        (lambda s: s["protocolSection"]["contactsLocationsModule"].update(locations=["Paris"]), "should be an object"),
        (lambda s: s["protocolSection"]["contactsLocationsModule"]["locations"][0].update(city=7), "is not text"),
        (lambda s: s["protocolSection"]["identificationModule"].update(briefTitle="", officialTitle=""), "missing"),
        (lambda s: s["protocolSection"].update(designModule=[]), "is not inside a JSON object"),
    ],
)
def test_records_not_as_documented_are_refused_with_the_field_named(change, message):
    study = api_study(1)
    change(study)
    with pytest.raises(InvalidStudy, match=message):
        study_fields(study)


def test_a_study_that_is_not_an_object_is_refused():
    with pytest.raises(InvalidStudy, match="not a JSON object"):
        study_fields(["NCT90000001"])


def test_unknown_codes_are_kept_as_the_registry_writes_them():
    study = api_study(1, status="SOME_NEW_STATUS", phases=["PHASE5"])
    fields, _, _ = study_fields(study)
    assert fields["overall_status"] == "SOME_NEW_STATUS" and fields["phases"] == ["PHASE5"]


def test_the_fingerprint_changes_with_any_kept_value_only():
    first = content_hash(*study_fields(api_study(1)))
    assert first == content_hash(*study_fields(api_study(1)))
    moved = api_study(1, countries=("Spain",))
    assert content_hash(*study_fields(moved)) != first
    unkept = api_study(1)
    unkept["protocolSection"]["contactsLocationsModule"]["centralContacts"] = [{"name": "Someone"}]
    assert content_hash(*study_fields(unkept)) == first
