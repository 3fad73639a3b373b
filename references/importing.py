"""Reference import from MEDLINE/PubMed (.nbib), RIS and BibTeX files.

One API for the admin page and the `import_references` command:

    fmt = detect_format(text)             # "medline" | "ris" | "bibtex"
    records = parse(text, fmt)            # list[ParsedRecord], bad records carry .error
    plan = plan_import(records)           # new / existing / rejected, a few queries per batch
    created = reference_import(plan)      # one transaction, all or nothing, with history

Reads back what `references.export` writes (`to_ris`, `to_bibtex`).
"""

import contextlib
import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import bibtexparser
import rispy
from bibtexparser.middlewares.names import InvalidNameError, parse_single_name_into_parts, split_multiple_persons_names
from bibtexparser.model import DuplicateBlockKeyBlock, DuplicateFieldKeyBlock, Entry, ParsingFailedBlock
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from pylatexenc.latex2text import LatexNodes2Text
from pylatexenc.latexwalker import LatexWalker, get_default_latex_context_db

from .export import split_authors
from .integrity import normalise_doi
from .models import Reference, normalise_title

FORMATS = ("medline", "ris", "bibtex")
FORMAT_NAMES = {"medline": "MEDLINE/PubMed", "ris": "RIS", "bibtex": "BibTeX"}
FIELDS = ("authors", "title", "source", "year", "volume", "issue", "pages", "note", "pmid", "doi", "url")
MAX_AUTHORS = 6  # AMA: list all up to 6; more than 6 → first 3 + "et al"
AMA_SHORT_LIST = 3
BATCH_SIZE = 500  # rows per IN (...) lookup and per bulk_create batch
MIN_YEAR = 1000
# Beyond these a record is rejected with a reason, and its text is never converted (LaTeX conversion takes time
# that grows with the square of a value's length). Real records are far smaller: a long title is 300 characters,
# a MEDLINE record with its abstract and 50 authors a few hundred lines.
MAX_FIELD_CHARS = 4_000
MAX_RECORD_LINES = 2_000
MAX_RECORDS = 20_000  # a file with more is refused before it is parsed: split it (each part takes seconds)
_RECORD_STARTS = {
    "medline": re.compile(r"^PMID-", re.M),
    "ris": re.compile(r"^TY  -", re.M),
    "bibtex": re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.M),
}

MATCH_PMID, MATCH_DOI, MATCH_TITLE = "PMID", "DOI", "title and year"
# full_clean's uniqueness checks cost queries per record; plan_import and _check_still_free do them in bulk.
NO_UNIQUE_CHECKS = {"validate_unique": False, "validate_constraints": False}


# --------------------------------------------------------------------------- records


def _empty_fields():
    return {name: None if name == "year" else "" for name in FIELDS}


@dataclass
class ParsedRecord:
    """One record read from a file. `error` says why it cannot be imported (None when it can)."""

    index: int  # 1-based record number in the file
    line: int  # 1-based line where the record starts
    fields: dict = field(default_factory=_empty_fields)
    error: str | None = None

    def where(self):
        return f"record {self.index} (line {self.line})"

    def label(self, width=70):
        title = self.fields.get("title") or ""
        return title if len(title) <= width else title[: width - 1] + "…"


@dataclass
class NewReference:
    record: ParsedRecord
    key: str

    def build(self):
        return Reference(key=self.key, **self.record.fields)


@dataclass
class ExistingReference:
    record: ParsedRecord
    reference: Reference
    rule: str  # MATCH_PMID, MATCH_DOI or MATCH_TITLE


@dataclass
class RejectedRecord:
    record: ParsedRecord
    reason: str


@dataclass
class ImportPlan:
    new: list[NewReference] = field(default_factory=list)
    existing: list[ExistingReference] = field(default_factory=list)
    rejected: list[RejectedRecord] = field(default_factory=list)

    @property
    def total(self):
        return len(self.new) + len(self.existing) + len(self.rejected)

    def summary(self, created=None):
        created = len(self.new) if created is None else created
        return f"created {created} / already present {len(self.existing)} / rejected {len(self.rejected)}"


# --------------------------------------------------------------------------- reading text


def decode(data: bytes) -> str:
    """UTF-8 bytes (with or without a byte-order mark) as text; ValueError if not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"The file is not UTF-8 text (line {line}, byte {error.start + 1} cannot be read). "
            "Export it again as UTF-8 from your reference manager."
        ) from error


def _normalise_text(text):
    return re.sub(r"\r\n?", "\n", (text or "").lstrip("\ufeff"))


RIS_TAG = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")
MEDLINE_TAG = re.compile(r"^([A-Z][A-Z0-9 ]{3})-(?: (.*))?$")
BIBTEX_START = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]")


def _medline_tag(line):
    match = MEDLINE_TAG.match(line)
    if not match or " " in match.group(1).strip():
        return None
    return match.group(1).strip(), (match.group(2) or "").strip()


def detect_format(text: str) -> str:
    """'medline', 'ris' or 'bibtex', from the first line that tells them apart."""
    text = _normalise_text(text)
    if not text.strip():
        raise ValueError("The file is empty.")
    lines = text.split("\n")
    for line in lines:
        if line.startswith("TY  -"):
            return "ris"
        if line.startswith("PMID-"):
            return "medline"
        if BIBTEX_START.match(line):
            return "bibtex"
    # No TY / PMID / @entry line: MEDLINE records without a PMID still have MEDLINE tags; RIS never lacks TY.
    if any(_medline_tag(line) for line in lines) and not any(line.startswith("ER  -") for line in lines):
        return "medline"
    raise ValueError(
        "Cannot tell the format of this file. Expected MEDLINE/PubMed (.nbib, lines like 'PMID- 12860938'), "
        "RIS (.ris, records starting 'TY  - JOUR') or BibTeX (.bib, entries like '@article{key, ...}')."
    )


def parse(text: str, fmt: str) -> list[ParsedRecord]:
    """Every record in the file, in order; malformed ones carry an `error`."""
    parsers = {"medline": _parse_medline, "ris": _parse_ris, "bibtex": _parse_bibtex}
    if fmt not in parsers:
        raise ValueError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}.")
    text = _normalise_text(text)
    count = len(_RECORD_STARTS[fmt].findall(text))
    if count > MAX_RECORDS:
        raise ValueError(
            f"The file has about {count:,} records; at most {MAX_RECORDS:,} can be imported at once. "
            "Split it into smaller files."
        )
    return parsers[fmt](text)


# --------------------------------------------------------------------------- field cleaning


YEAR = re.compile(r"^\s*(\d{4})(?!\d)")
INITIALS = re.compile(r"^[A-Z]{1,4}$")
SUFFIXES = {"jr", "sr", "ii", "iii", "iv", "2nd", "3rd"}
ET_AL_NAMES = {"et al", "et al.", "others", "et. al.", "and others"}


def _clean(value):
    """One line of text: no surrounding or repeated white space (incl. non-breaking spaces)."""
    return " ".join(str(value or "").split())


def _clean_title(title):
    title = _clean(title)
    if title.startswith("[") and title.rstrip(".").endswith("]"):  # MEDLINE: [Translated title].
        title = title.rstrip(".")[1:-1].strip()
    if title.endswith(".") and not title.endswith(".."):
        title = title[:-1].rstrip()
    return title


def _year(value, errors):
    value = _clean(value)
    if not value:
        return None
    match = YEAR.match(value)
    year = int(match.group(1)) if match else None
    if year is None or not MIN_YEAR <= year <= timezone.now().year + 1:
        errors.append(f"year {value!r} is not a year")
        return None
    return year


def _pmid(value, errors):
    value = re.sub(r"^pmid:?\s*", "", _clean(value), flags=re.I)
    if value and not re.fullmatch(r"[0-9]+", value):
        errors.append(f"PMID {value!r} is not a PMID (digits only)")
        return ""
    return value.lstrip("0") or ("0" if value else "")


def _doi(value, errors):
    value = _clean(value)
    value = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*|doi\s+)", "", value, flags=re.I).strip()
    if value and not re.match(r"^10\.\S+/\S+$", value):
        errors.append(f"DOI {value!r} is not a DOI (it starts with 10. and has a slash)")
        return ""
    return value


def _expand_range(match):
    prefix1, start, prefix2, end = match.groups()
    if len(end) < len(start):
        end = start[: len(start) - len(end)] + end
    return f"{prefix1}{start}-{prefix2 or prefix1}{end}"


def _pages(value):
    """'2636-44' → '2636-2644'; '2636--2644' and en dashes → '2636-2644'."""
    value = re.sub(r"\s*(--|[‐‑‒–—-])\s*", "-", _clean(value))
    return re.sub(r"\b([A-Za-z]?)(\d+)-([A-Za-z]?)(\d+)\b", _expand_range, value)


def _initials(given):
    """'Nicholas J.' → 'NJ'; 'Jean-Pierre' → 'JP'; 'NJ' and 'N. J.' stay 'NJ'."""
    letters = []
    for part in re.split(r"[\s.\-‐]+", given):
        part = part.strip("{}")
        if not part:
            continue
        if INITIALS.match(part) and len(part) <= 3:
            letters.append(part)
        else:
            letters.append(part[0].upper())
    return "".join(letters)


def vancouver_name(surname, given="", suffix=""):
    """Surname, given names and suffix as 'Surname GN Suffix'."""
    return " ".join(part for part in (_clean(surname), _initials(_clean(given)), _clean(suffix).rstrip(".")) if part)


def _vancouver_from_text(name):
    """'Vogelzang, Nicholas J.' / 'Vogelzang, N. J., Jr.' / 'Vogelzang NJ' → Vancouver form."""
    name = _clean(name).rstrip(",")
    if "," not in name:
        tokens = name.split()
        if re.search(r"\s[A-Z]{1,4}\.?$", name):  # 'Vogelzang NJ': already Vancouver
            return name.rstrip(".")
        if len(tokens) > 1 and any(re.match(r"^[A-Z]\.$", token) for token in tokens[:-1]):  # 'Nicholas J. Vogelzang'
            return vancouver_name(tokens[-1], " ".join(tokens[:-1]))
        return name  # a group ('EORTC Lung Cancer Group') or a name order we cannot tell
    surname, _, rest = name.partition(",")
    given, _, suffix = rest.partition(",")
    if _clean(given).rstrip(".").lower() in SUFFIXES and suffix:  # 'Smith, Jr, John' (BibTeX order)
        given, suffix = suffix, given
    return vancouver_name(surname, given, suffix)


def format_authors(names: Iterable[str], et_al=False) -> str:
    """Vancouver list: all names up to 6; more than 6 → first 3 + 'et al'; 'et al' kept if the source had it."""
    kept = []
    for name in names:
        name = _clean(name)
        if not name:
            continue
        if name.lower().rstrip(",") in ET_AL_NAMES:
            et_al = True
        else:
            kept.append(name)
    if len(kept) > MAX_AUTHORS:
        kept, et_al = kept[:AMA_SHORT_LIST], True
    return ", ".join([*kept, *(["et al"] if et_al else [])])


def _finish(index, line, fields, errors):
    if not fields.get("title") and not any("too long" in error for error in errors):
        errors.insert(0, "no title")
    for name, value in fields.items():
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            errors.append(_too_long(name, value))
            fields[name] = value[:MAX_FIELD_CHARS]  # shown shortened in the preview; never imported
    return ParsedRecord(index=index, line=line, fields=fields, error="; ".join(errors) or None)


def _too_long(name, value):
    return f"{name} too long ({len(value):,} characters; at most {MAX_FIELD_CHARS:,})"


# --------------------------------------------------------------------------- MEDLINE


def _medline_chunks(lines):
    """(first line number, [(line number, line)]) per record: records are separated by blank lines."""
    chunk, has_pmid = None, False
    for number, line in enumerate(lines, 1):
        if not line.strip():
            if chunk:
                yield chunk
            chunk, has_pmid = None, False
            continue
        if chunk and has_pmid and line.startswith("PMID-"):  # a new record without a blank line before it
            yield chunk
            chunk, has_pmid = None, False
        if chunk is None:
            chunk = (number, [])
        has_pmid = has_pmid or line.startswith("PMID-")
        chunk[1].append((number, line))
    if chunk:
        yield chunk


def _parse_medline(text):
    records = []
    for index, (start, lines) in enumerate(_medline_chunks(text.split("\n")), 1):
        tags, errors, last = {}, [], None
        if len(lines) > MAX_RECORD_LINES:
            errors.append(f"the record is {len(lines):,} lines long (at most {MAX_RECORD_LINES:,})")
            lines = []
        for number, line in lines:
            tagged = _medline_tag(line)
            if tagged:
                last = tagged[0]
                tags.setdefault(last, []).append([tagged[1]])
            elif line[:1].isspace() and last:
                tags[last][-1].append(line.strip())  # joined below: appending is linear, concatenating is not
            else:
                errors.append(f"line {number} is not a MEDLINE line ({_clean(line)[:40]!r})")
                break
        tags = {tag: [" ".join(parts).strip() for parts in values] for tag, values in tags.items()}

        def first(*names, tags=tags):
            return next((_clean(value) for name in names for value in tags.get(name, []) if _clean(value)), "")

        authors = tags.get("AU") or [_vancouver_from_text(name) for name in tags.get("FAU", [])]
        doi = next(
            (value[: -len("[doi]")] for value in tags.get("LID", []) + tags.get("AID", []) if value.endswith("[doi]")),
            "",
        )
        fields = {
            "authors": format_authors([*authors, *tags.get("CN", [])]),
            "title": _clean_title(first("TI", "BTI", "TT")),
            "source": first("TA", "JT"),
            "year": _year(first("DP"), errors),
            "volume": first("VI"),
            "issue": first("IP"),
            "pages": _pages(first("PG")),
            "note": "",
            "pmid": _pmid(first("PMID"), errors),
            "doi": _doi(doi, errors),
            "url": "",
        }
        records.append(_finish(index, start, fields, errors))
    return records


# --------------------------------------------------------------------------- RIS


# Journal abbreviation first: JA / J2 (Zotero) / JO, then full titles JF / T2 (Zotero, and proceedings).
RIS_SOURCES = ("alternate_title2", "alternate_title1", "journal_name", "alternate_title3", "secondary_title")
RIS_OUTSIDE = "tags outside a record (no 'TY  -' line before them)"


def _ris_chunks(lines):
    """(first line number, lines, problem) per record, TY to ER; tag lines outside a record are a bad record."""
    start, chunk, inside = 0, None, False
    for number, line in enumerate(lines, 1):
        match = RIS_TAG.match(line)
        tag = match.group(1) if match else None
        if tag == "TY":
            if chunk is not None:
                problem = f"unterminated record: no 'ER  -' line before the next record at line {number}"
                yield start, chunk, problem if inside else RIS_OUTSIDE
            start, chunk, inside = number, [line], True
        elif inside:
            if line.strip():
                chunk.append(line)
            if tag == "ER":
                yield start, chunk, None
                chunk, inside = None, False
        elif tag:  # a tag line before any TY: collected up to its ER or a blank line, and reported
            if chunk is None:
                start, chunk = number, []
            chunk.append(line)
            if tag == "ER":
                yield start, chunk, RIS_OUTSIDE
                chunk = None
        elif chunk is not None and not line.strip():
            yield start, chunk, RIS_OUTSIDE
            chunk = None
        # other text between records (headers such as 'Provider: ...') is ignored, as RIS readers do
    if chunk is not None:
        yield start, chunk, "unterminated record: the file ends before its 'ER  -' line" if inside else RIS_OUTSIDE


def _ris_values(entry, *names):
    values = []
    for name in names:
        value = entry.get(name)
        for item in value if isinstance(value, list) else [value]:
            if _clean(item):
                values.append(_clean(item))
    return values


def _parse_ris(text):
    records = []
    for index, (start, lines, problem) in enumerate(_ris_chunks(text.split("\n")), 1):
        errors = [problem] if problem else []
        if len(lines) > MAX_RECORD_LINES:
            errors.append(f"the record is {len(lines):,} lines long (at most {MAX_RECORD_LINES:,})")
            lines = lines[:1]
        body = lines if lines and lines[0].startswith("TY") else ["TY  - GEN", *lines]
        if not body[-1].startswith("ER"):
            body.append("ER  - ")
        entries = rispy.loads("\n".join(body))
        entry = entries[0] if entries else {}

        def first(*names, entry=entry):
            return next(iter(_ris_values(entry, *names)), "")

        authors = _ris_values(entry, "authors") or _ris_values(entry, "first_authors")
        start_page, end_page = first("start_page"), first("end_page")
        accession = re.sub(r"^pmid:?\s*", "", first("accession_number"), flags=re.I)
        fields = {
            "authors": format_authors(_vancouver_from_text(name) for name in authors),
            "title": _clean_title(first("title", "primary_title")),
            "source": first(*RIS_SOURCES),
            "year": _year(first("year", "publication_year", "date"), errors),
            "volume": first("volume"),
            "issue": first("number"),
            "pages": _pages(f"{start_page}-{end_page}" if start_page and end_page else start_page or end_page),
            "note": "; ".join(_clean(re.sub(r"<[^>]+>", " ", note)) for note in _ris_values(entry, "notes")),
            # AN is any accession number (Web of Science, Embase...): a PMID only when it is digits.
            "pmid": _pmid(accession, errors) if re.fullmatch(r"[0-9]+", accession) else "",
            "doi": _doi(first("doi"), errors),
            "url": first("urls"),
        }
        records.append(_finish(index, start, fields, errors))
    return records


# --------------------------------------------------------------------------- BibTeX

_latex = LatexNodes2Text(math_mode="text", strict_latex_spaces=True)
_LATEX_CONTEXT = get_default_latex_context_db()  # built once: pylatexenc otherwise builds it for every value
_LATEX_MARKUP = re.compile(r"[\\{}$~^_]")


def _detex(value):
    """LaTeX to plain text: accents, {Protected} braces, \\& and math. A bare % or & is literal text."""
    value = str(value or "")
    if not _LATEX_MARKUP.search(value):  # plain text (most values): nothing to convert
        return _clean(value)
    value = re.sub(r"(?<!\\)([%&#])", r"\\\1", value)
    try:
        nodes = LatexWalker(value, latex_context=_LATEX_CONTEXT).get_latex_nodes()[0]
        return _clean(_latex.nodelist_to_text(nodes))
    except Exception:  # pylatexenc is lenient; keep the raw text rather than lose the record
        return _clean(value.replace("{", "").replace("}", ""))


def _bibtex_name(name):
    parts = parse_single_name_into_parts(name)
    if not parts.first and not parts.von and not parts.jr and len(parts.last) == 1:
        return _detex(parts.last[0])  # '{EORTC Lung Cancer Group}' or a single surname
    if "," not in name and parts.first and parts.last and INITIALS.match(parts.last[-1].strip("{}.")):
        return _detex(name)  # 'Vogelzang NJ' written without a comma: already Vancouver
    surname = _detex(" ".join([*parts.von, *parts.last]))
    return vancouver_name(surname, _detex(" ".join(parts.first)), _detex(" ".join(parts.jr)))


def _bibtex_authors(value):
    names, et_al = [], False
    for name in split_multiple_persons_names(value or ""):
        if name.strip().lower() == "others":
            et_al = True
        else:
            names.append(_bibtex_name(name))
    return format_authors(names, et_al)


def _bibtex_failure(block, first_line):
    error = block.error
    reason = getattr(error, "abort_reason", "") or str(error)
    head = _clean((block.raw or "").split("\n", 1)[0])[:40]
    if isinstance(block, DuplicateFieldKeyBlock):
        return f"field given twice in '{head}': {', '.join(sorted(block.duplicate_keys))}"
    if "end of file" in reason:
        return f"unterminated entry '{head}': the file ends before its closing brace"
    if reason.startswith("Unexpected block start"):
        missing = re.search(r"looking for (?:field-value closing |closing )?(.*?)\s*$", reason)
        what = f" (missing {missing.group(1)})" if missing and missing.group(1) else ""
        next_line = first_line + (block.raw or "").count("\n") + 1  # raw stops before the newline ending it
        return f"unterminated entry '{head}': the entry at line {next_line} starts before this one is closed{what}"
    return f"malformed entry '{head}' (line {first_line}): {reason.strip()}"


class _SilenceInThisThread(logging.Filter):
    """Drops bibtexparser's log records while this thread parses: it logs each failed block (with 0-based
    line numbers), and we report those ourselves. Other threads' records pass."""

    local = threading.local()

    def filter(self, record):
        return not getattr(self.local, "active", False)


_silence = _SilenceInThisThread()
logging.getLogger("bibtexparser.splitter").addFilter(_silence)


@contextlib.contextmanager
def _quiet_bibtexparser():
    _silence.local.active = True
    try:
        yield
    finally:
        _silence.local.active = False


def _parse_bibtex(text):
    with _quiet_bibtexparser():
        library = bibtexparser.parse_string(text)
    records = []
    for block in library.blocks:
        if isinstance(block, DuplicateBlockKeyBlock):  # same citation key twice: still a record of its own
            block = block.ignore_error_block
        if not isinstance(block, Entry | ParsingFailedBlock):
            continue  # @string, @preamble, @comment and text between entries
        index, line = len(records) + 1, (block.start_line or 0) + 1
        if isinstance(block, ParsingFailedBlock):
            entry = block.ignore_error_block if isinstance(block, DuplicateFieldKeyBlock) else None
            error = _bibtex_failure(block, line)
            fields = _bibtex_fields(entry, []) if isinstance(entry, Entry) else _empty_fields()
            records.append(ParsedRecord(index=index, line=line, fields=fields, error=error))
            continue
        errors = []
        fields = _bibtex_fields(block, errors)
        records.append(_finish(index, line, fields, errors))
    return records


def _bibtex_fields(entry, errors):
    values = {}
    for key, value in entry.fields_dict.items():
        text = str(value.value or "")
        if len(text) > MAX_FIELD_CHARS:  # never converted: refused before the slow LaTeX conversion
            errors.append(_too_long(key.lower(), text))
            text = ""
        values[key.lower()] = _clean(text)

    def first(*names):
        return next((values[name] for name in names if values.get(name)), "")

    try:
        authors = _bibtex_authors(first("author"))
    except InvalidNameError as error:
        errors.append(f"author list cannot be read: {error.reason}")
        authors = ""
    pmid = first("pmid")
    if not pmid and first("eprinttype").lower() == "pubmed":
        pmid = first("eprint")
    return {
        "authors": authors,
        "title": _clean_title(_detex(first("title"))),
        "source": _detex(first("journal", "journaltitle", "booktitle", "howpublished")),
        "year": _year(first("year", "date"), errors),
        "volume": first("volume"),
        "issue": first("number", "issue"),
        "pages": _pages(first("pages")),
        "note": _detex(first("note")),
        "pmid": _pmid(pmid, errors),
        "doi": _doi(first("doi"), errors),
        "url": first("url"),
    }


# --------------------------------------------------------------------------- keys


def _slug(text):
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    ascii_text = re.sub(r"['’`]", "", ascii_text)
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


def _suffix(number):
    """2 → 'b', 26 → 'z', 27 → 'aa': spreadsheet-style letters."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


def first_author_surname(authors):
    names, _ = split_authors(authors)
    if not names:
        return ""
    tokens = names[0].split()
    while len(tokens) > 1 and tokens[-1].rstrip(".").lower() in SUFFIXES:
        tokens.pop()
    if len(tokens) > 1 and INITIALS.match(tokens[-1].rstrip(".")):
        tokens.pop()
    return " ".join(tokens)


def generate_key(authors: str, year: int | None, taken: set, tried: dict | None = None) -> str:
    """'vogelzang-2003', 'de-pangher-manzini-2003', 'anon-2003', 'vogelzang-nd'; then '-b', '-c'… if taken.

    Adds the key it returns to `taken`. `tried` (stem → last suffix number tried), kept across the calls of one
    import, makes the next key with the same stem start where the last one stopped: linear, not quadratic, in
    a file with thousands of works by one first author in one year.
    """
    base = _slug(first_author_surname(authors))[:60].strip("-") or "anon"
    stem = f"{base}-{year or 'nd'}"
    number = (tried or {}).get(stem, 1)
    key = stem if number == 1 else f"{stem}-{_suffix(number)}"
    while key in taken:
        number += 1
        key = f"{stem}-{_suffix(number)}"
    if tried is not None:
        tried[stem] = number
    taken.add(key)
    return key


# --------------------------------------------------------------------------- planning


def _chunks(values, size=None):
    values, size = list(values), size or BATCH_SIZE
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _identities(fields):
    """What makes two records the same work, strongest first."""
    found = []
    if fields["pmid"]:
        found.append((MATCH_PMID, fields["pmid"].lstrip("0")))
    if fields["doi"]:
        found.append((MATCH_DOI, normalise_doi(fields["doi"])))
    title = normalise_title(fields["title"])
    if title:
        found.append((MATCH_TITLE, (title, fields["year"])))
    return found


def _load_existing(records):
    """{(rule, value): Reference} for every existing reference one of `records` could match."""
    wanted = {rule: set() for rule in (MATCH_PMID, MATCH_DOI, MATCH_TITLE)}
    for record in records:
        for rule, value in _identities(record.fields):
            wanted[rule].add(value)
    found, title_ids = {}, {}
    for chunk in _chunks(wanted[MATCH_PMID]):
        for ref in Reference.objects.filter(pmid__in=chunk):
            found[(MATCH_PMID, ref.pmid.lstrip("0"))] = ref
    for chunk in _chunks(wanted[MATCH_DOI]):
        for ref in Reference.objects.annotate(doi_lower=Lower("doi")).filter(doi_lower__in=chunk):
            found[(MATCH_DOI, normalise_doi(ref.doi))] = ref
    years = {year for _, year in wanted[MATCH_TITLE]}
    if years:
        # Titles are matched after normalising in Python: fetch only id/title/year of the years concerned.
        candidates = Reference.objects.filter(year__in=[y for y in years if y is not None])
        if None in years:
            candidates = candidates | Reference.objects.filter(year__isnull=True)
        for pk, title, year in candidates.order_by("key").values_list("pk", "title", "year").iterator():
            identity = (normalise_title(title), year)
            if identity in wanted[MATCH_TITLE]:
                title_ids.setdefault(identity, pk)
    loaded = {ref.pk: ref for ref in found.values()}
    for chunk in _chunks(set(title_ids.values()) - set(loaded)):
        loaded.update(Reference.objects.in_bulk(chunk))
    for identity, pk in title_ids.items():
        found[(MATCH_TITLE, identity)] = loaded[pk]
    return found


def find_existing(fields, exclude_pk=None):
    """(rule, Reference) for an existing reference that these fields describe, or None.

    The same rules as an import (PMID, DOI, title and year), for one record typed in the admin.
    """
    fields = {**_empty_fields(), **fields}
    record = ParsedRecord(index=1, line=1, fields=fields)
    existing = {identity: ref for identity, ref in _load_existing([record]).items() if ref.pk != exclude_pk}
    return _first_match(record, _identities(fields), existing, lambda ref: (ref.pmid, ref.doi))


def _validation_message(error):
    if hasattr(error, "message_dict"):
        return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items())
    return " ".join(error.messages)


def plan_import(records: list[ParsedRecord]) -> ImportPlan:
    """Sort records into new / already present / rejected, with keys for the new ones.

    Existing references are looked up for the whole batch at once: one query per 500 PMIDs and per 500 DOIs,
    one for the titles of the years concerned, one for the keys in use.
    """
    plan = ImportPlan()
    existing = _load_existing([record for record in records if not record.error])
    taken, tried = set(Reference.objects.values_list("key", flat=True)), {}
    seen = {}  # (rule, value) → the first record in this file with it
    for record in records:
        if record.error:
            plan.rejected.append(RejectedRecord(record, record.error))
            continue
        identities = _identities(record.fields)
        match = _first_match(record, identities, existing, lambda ref: (ref.pmid, ref.doi))
        duplicate = _first_match(record, identities, seen, lambda other: (other.fields["pmid"], other.fields["doi"]))
        if match:
            plan.existing.append(ExistingReference(record, match[1], match[0]))
        elif duplicate:
            plan.rejected.append(RejectedRecord(record, f"duplicate of record {duplicate[1].index} in this file"))
            continue
        else:
            try:
                Reference(**record.fields).full_clean(exclude=["key"], **NO_UNIQUE_CHECKS)
            except ValidationError as error:
                plan.rejected.append(RejectedRecord(record, _validation_message(error)))
                continue
            key = generate_key(record.fields["authors"], record.fields["year"], taken, tried)
            plan.new.append(NewReference(record, key))
        for identity in identities:
            seen.setdefault(identity, record)
    return plan


def _first_match(record, identities, known, identifiers):
    """(rule, what matched) by the strongest rule. A title match does not count when PMIDs or DOIs differ:
    'Erratum' in the same year, or two works with one generic title, are not the same work."""
    for rule, value in identities:
        other = known.get((rule, value))
        if other is None:
            continue
        if rule == MATCH_TITLE:
            pmid, doi = identifiers(other)
            mine = record.fields
            if (pmid and mine["pmid"] and pmid.lstrip("0") != mine["pmid"].lstrip("0")) or (
                doi and mine["doi"] and normalise_doi(doi) != normalise_doi(mine["doi"])
            ):
                continue
        return rule, other
    return None


# --------------------------------------------------------------------------- importing


def _check_still_free(new):
    """Inside the import transaction: keys, PMIDs and DOIs taken since the plan was made."""
    by = {"key": {}, "pmid": {}, "doi": {}}
    for item in new:
        by["key"][item.key] = item
        if item.record.fields["pmid"]:
            by["pmid"][item.record.fields["pmid"]] = item
        if item.record.fields["doi"]:
            by["doi"][item.record.fields["doi"].lower()] = item
    lookups = [
        ("key", "key", Reference.objects.all()),
        ("pmid", "pmid", Reference.objects.all()),
        ("doi", "doi_lower", Reference.objects.annotate(doi_lower=Lower("doi"))),
    ]
    for name, column, queryset in lookups:
        for chunk in _chunks(by[name]):
            clash = queryset.filter(**{f"{column}__in": chunk}).values_list(column, "key").first()
            if clash:
                item = by[name][clash[0]]
                raise ValueError(
                    f"{item.record.where().capitalize()}: its {name} {clash[0]!r} is now used by reference "
                    f"{clash[1]!r}, added since the file was checked. Nothing was imported; check the file again."
                )


def reference_import(
    plan: ImportPlan,
    *,
    user=None,
    change_reason: str = "Imported from a reference file",
    progress: Callable[[int, int], None] | None = None,
) -> list[Reference]:
    """Create every new reference of `plan` in one transaction, with a history entry each.

    Each is full-cleaned first; if any is invalid, or the database refuses one, nothing is saved and
    ValueError names the record. `progress(done, total)` is called after each batch.
    """
    objects = []
    for item in plan.new:
        obj = item.build()
        try:
            obj.full_clean(**NO_UNIQUE_CHECKS)
        except ValidationError as error:
            raise ValueError(
                f"{item.record.where().capitalize()} is not valid: {_validation_message(error)}. Nothing was imported."
            ) from error
        objects.append(obj)
    if not objects:
        return []
    try:
        with transaction.atomic():
            _check_still_free(plan.new)
            done = 0
            for batch in _chunks(objects):
                Reference.objects.bulk_create(batch)
                if any(obj.pk is None for obj in batch):  # databases that do not return ids from bulk inserts
                    ids = dict(Reference.objects.filter(key__in=[o.key for o in batch]).values_list("key", "pk"))
                    for obj in batch:
                        obj.pk = ids[obj.key]
                Reference.history.bulk_history_create(batch, default_user=user, default_change_reason=change_reason)
                done += len(batch)
                if progress:
                    progress(done, len(objects))
    except IntegrityError as error:
        raise ValueError(
            f"The database refused the import ({error}). Nothing was imported; check the file again."
        ) from error
    # No page shows a reference until some text cites it, and saving that text refreshes the page cache.
    return objects
