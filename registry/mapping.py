"""The one place that knows the shape of a ClinicalTrials.gov API v2 study record.

`study_fields(study)` turns one element of a page's `studies` array into the
values of a RegistryStudy and its interventions and locations. The field paths
are those of the API's study data structure:

    protocolSection
      identificationModule     nctId, briefTitle, officialTitle
      statusModule             overallStatus, startDateStruct.date, lastUpdatePostDateStruct.date
      sponsorCollaboratorsModule  leadSponsor.name
      conditionsModule         conditions[]
      designModule             studyType, phases[], enrollmentInfo.count / .type
      armsInterventionsModule  interventions[].type / .name
      contactsLocationsModule  locations[].facility / .city / .state / .country
      eligibilityModule        eligibilityCriteria, sex, minimumAge, maximumAge

Only the identification and status modules are required; any other module, or
field, may be missing and is then left empty. A value of the wrong type, a
study without an NCT number or an unreadable date is an `InvalidStudy` error:
the sync stops and changes nothing.

Registry text is third-party. It becomes plain text here: any HTML tags are
removed (nh3, with no tag allowed), Markdown's backslash escapes are undone,
and nothing is ever rendered as Markdown. Templates escape it as any text.
"""

import datetime
import hashlib
import html
import json
import re

import nh3

from mesoinfo.nct import NCT_ID_PATTERN

# The modules the sync reads, asked for with the API's `fields` parameter so that pages carry nothing else.
MODULES = (
    "IdentificationModule",
    "StatusModule",
    "SponsorCollaboratorsModule",
    "ConditionsModule",
    "DesignModule",
    "ArmsInterventionsModule",
    "ContactsLocationsModule",
    "EligibilityModule",
)

_NCT_ID = re.compile(NCT_ID_PATTERN)
_MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # CommonMark: a backslash before ASCII punctuation
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")
_EMPTY = object()  # a missing value reads as the empty value of its type
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")  # the API's enum values: RECRUITING, PHASE2, DRUG…


class InvalidStudy(ValueError):
    """A study record the sync cannot take as it is."""


def plain_text(value):
    """Registry text as plain text: tags removed (their text kept; script and style dropped with their content)."""
    text = value
    if "<" in text or "&" in text:  # most registry text has no markup: skip the parser then
        text = nh3.clean(text, tags=set(), strip_comments=True)
        text = html.unescape(text)  # nh3 escapes what it keeps; we store text, and templates escape it on output
    text = _MARKDOWN_ESCAPE.sub(r"\1", text)
    text = _CONTROL.sub("", text).replace("\r\n", "\n")
    return text.strip()


class _Reader:
    """Typed access to one study record; every error names the study and the field."""

    def __init__(self, study):
        if not isinstance(study, dict):
            raise InvalidStudy(f"a study is a {type(study).__name__}, not a JSON object")
        self.study = study
        self.nct_id = None

    def fail(self, path, problem):
        who = f"study {self.nct_id}" if self.nct_id else "a study"
        raise InvalidStudy(f"{who}: {path} {problem}")

    def get(self, path, kind, required=False, default=_EMPTY):
        value = self.study
        for key in path.split("."):
            if value is None:
                break
            if not isinstance(value, dict):
                self.fail(path, "is not inside a JSON object")
            value = value.get(key)
        if value is None:
            if required:
                self.fail(path, "is missing")
            return kind() if default is _EMPTY else default
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            self.fail(path, f"should be {kind.__name__}, not {type(value).__name__}")
        return value

    def text(self, path, required=False, limit=None):
        value = plain_text(self.get(path, str, required))
        if required and not value:
            self.fail(path, "is empty")
        return value[:limit] if limit else value

    def code(self, path, value=None, required=False):
        """An enum value of the API (RECRUITING, PHASE2…); one we do not know yet is kept as it is."""
        value = self.get(path, str, required) if value is None else value
        value = value.strip()
        if (value or required) and not _CODE.match(value):
            self.fail(path, f"is not a registry code: {value[:40]!r}")
        return value

    def objects(self, path):
        items = self.get(path, list)
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                self.fail(f"{path}[{index}]", f"should be an object, not {type(item).__name__}")
        return items

    def strings(self, path):
        items = self.get(path, list)
        for index, item in enumerate(items):
            if not isinstance(item, str):
                self.fail(f"{path}[{index}]", f"should be str, not {type(item).__name__}")
        return [plain_text(item) for item in items if item.strip()]

    def date(self, path, partial=False):
        """A date as the registry writes it: YYYY-MM-DD, or (partial dates) YYYY-MM or YYYY."""
        value = self.get(path, str)
        if not value:
            return "" if partial else None
        match = _DATE.match(value)
        try:
            if not match or (not partial and not match[3]):
                raise ValueError
            datetime.date(int(match[1]), int(match[2] or 1), int(match[3] or 1))
        except ValueError:
            self.fail(path, f"is not a date: {value[:40]!r}")
        return value if partial else datetime.date.fromisoformat(value)


def study_fields(study):
    """(RegistryStudy field values, [intervention values], [location values]) for one API v2 study record."""
    read = _Reader(study)
    p = "protocolSection."
    nct_id = read.get(p + "identificationModule.nctId", str, required=True).strip()
    if not _NCT_ID.match(nct_id):
        read.fail(p + "identificationModule.nctId", f"is not an NCT number: {nct_id[:40]!r}")
    read.nct_id = nct_id

    brief_title = read.text(p + "identificationModule.briefTitle", limit=500)
    official_title = read.text(p + "identificationModule.officialTitle")
    if not (brief_title or official_title):
        read.fail(p + "identificationModule.briefTitle", "is missing, and so is officialTitle")

    enrollment_count = read.get(p + "designModule.enrollmentInfo.count", int, default=None)
    if enrollment_count is not None and enrollment_count < 0:
        read.fail(p + "designModule.enrollmentInfo.count", "is negative")

    fields = {
        "nct_id": nct_id,
        "brief_title": brief_title or official_title[:500],
        "official_title": official_title,
        "overall_status": read.code(p + "statusModule.overallStatus", required=True),
        "phases": [read.code(p + "designModule.phases", code) for code in read.strings(p + "designModule.phases")],
        "study_type": read.code(p + "designModule.studyType"),
        "conditions": read.strings(p + "conditionsModule.conditions"),
        "enrollment_count": enrollment_count,
        "enrollment_type": read.code(p + "designModule.enrollmentInfo.type"),
        "sponsor": read.text(p + "sponsorCollaboratorsModule.leadSponsor.name", limit=500),
        "start_date": read.date(p + "statusModule.startDateStruct.date", partial=True),
        "last_update_posted": read.date(p + "statusModule.lastUpdatePostDateStruct.date"),
        "minimum_age": read.text(p + "eligibilityModule.minimumAge", limit=40),
        "maximum_age": read.text(p + "eligibilityModule.maximumAge", limit=40),
        "sex": read.code(p + "eligibilityModule.sex"),
        "eligibility_criteria": read.text(p + "eligibilityModule.eligibilityCriteria"),
    }
    interventions = []
    for index, item in enumerate(read.objects(p + "armsInterventionsModule.interventions")):
        where = f"{p}armsInterventionsModule.interventions[{index}]"
        kind, name = item.get("type") or "OTHER", item.get("name") or ""
        if not isinstance(kind, str) or not isinstance(name, str):
            read.fail(where, "has a type or name that is not text")
        if plain_text(name):
            interventions.append({"type": read.code(where + ".type", kind), "name": plain_text(name)[:500]})
    locations = []
    for index, item in enumerate(read.objects(p + "contactsLocationsModule.locations")):
        place = {}
        for key, limit in (("facility", 500), ("city", 200), ("state", 200), ("country", 200)):
            value = item.get(key) or ""
            if not isinstance(value, str):
                read.fail(f"{p}contactsLocationsModule.locations[{index}].{key}", "is not text")
            place[key] = plain_text(value)[:limit]
        if any(place.values()):
            locations.append(place)
    return fields, interventions, locations


def content_hash(fields, interventions, locations):
    """A fingerprint of what we keep of a study: the sync compares it to tell changed studies from unchanged."""
    payload = json.dumps([fields, interventions, locations], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()
