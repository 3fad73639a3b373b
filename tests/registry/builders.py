"""Made-up ClinicalTrials.gov API v2 records and pages, shaped as the API documents them (see samples/README.md).

NCT numbers start with NCT9: no real study has one.
"""

import datetime
import json
from pathlib import Path

SAMPLES = Path(__file__).parent / "samples"


def nct(n):
    return f"NCT9{n:07d}"


def api_study(n, *, status="RECRUITING", phases=("PHASE2",), updated=None, countries=("France",), cities=2, **extra):
    """One study record: every module the sync reads, filled in; `extra` replaces whole modules by name."""
    updated = updated or (datetime.date(2026, 1, 1) + datetime.timedelta(days=n % 300)).isoformat()
    section = {
        "identificationModule": {
            "nctId": nct(n),
            "briefTitle": f"Test study {n} in mesothelioma",
            "officialTitle": f"An Official Title of Test Study {n} in Malignant Pleural Mesothelioma",
        },
        "statusModule": {
            "overallStatus": status,
            "startDateStruct": {"date": "2025-06", "type": "ACTUAL"},
            "lastUpdatePostDateStruct": {"date": updated, "type": "ACTUAL"},
        },
        "sponsorCollaboratorsModule": {"leadSponsor": {"name": f"Example Sponsor {n % 7}", "class": "OTHER"}},
        "conditionsModule": {"conditions": ["Mesothelioma", "Pleural Mesothelioma"]},
        "designModule": {
            "studyType": "INTERVENTIONAL",
            "phases": list(phases),
            "enrollmentInfo": {"count": 20 + n % 100, "type": "ESTIMATED"},
        },
        "armsInterventionsModule": {
            "interventions": [
                {"type": "DRUG", "name": f"Test drug {n}", "description": "By vein."},
                {"type": "RADIATION", "name": "Radiation therapy"},
            ]
        },
        "eligibilityModule": {
            # About 2.5 KB, as long as a typical record's criteria.
            "eligibilityCriteria": "Inclusion Criteria:\n\n"
            + "* Age \\>= 18 years, with mesothelioma confirmed by a biopsy and measurable by a scan\n" * 30,
            "sex": "ALL",
            "minimumAge": "18 Years",
        },
        "contactsLocationsModule": {
            "locations": [
                {"facility": f"Hospital {i}", "city": f"City {i}", "country": country, "status": "RECRUITING"}
                for country in countries
                for i in range(cities)
            ]
        },
    }
    section.update(extra)
    return {"protocolSection": section, "hasResults": False}


def api_page(studies, token=None):
    page = {"studies": list(studies)}
    if token:
        page["nextPageToken"] = token
    return page


def write_pages(path, pages):
    """A JSON Lines file of pages, as `sync_registry_trials --save` writes it."""
    Path(path).write_text("".join(json.dumps(page) + "\n" for page in pages), encoding="utf-8")
    return path


def paged(studies, per_page):
    """Pages of `per_page` studies, each but the last with a nextPageToken."""
    studies = list(studies)
    starts = range(0, len(studies), per_page)
    return [
        api_page(studies[start : start + per_page], token=f"token-{start}" if start + per_page < len(studies) else None)
        for start in starts
    ] or [api_page([])]


def sample(name):
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))
