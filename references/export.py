"""Reference lists for reference managers: RIS (rispy) and BibTeX (bibtexparser)."""

import re

import bibtexparser
import rispy
from bibtexparser.model import Entry, Field

ET_AL = re.compile(r",?\s*et al\.?$", re.I)
# Line breaks and other control characters end a RIS line (and so could start a record of their own).
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")


def _one_line(value):
    """A field's text on one line: every line break or control character becomes a space."""
    return " ".join(_CONTROL.sub(" ", str(value or "")).split())


def _bibtex_value(value):
    """Text safe inside a BibTeX field's braces. Balanced braces (LaTeX grouping) are kept; otherwise every brace
    is dropped, since a stray '}' (or one a backslash hides from the brace count) would end the field early and
    let the rest of the text add fields or entries of its own. No trailing backslash either: it would escape the
    closing brace."""
    value, depth = _one_line(value), 0
    for char in value:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0 or "\\{" in value or "\\}" in value:
        value = value.replace("{", "").replace("}", "")
    return value.rstrip("\\").rstrip()


def split_authors(authors):
    """'Vogelzang NJ, Rusthoven JJ, et al' → (['Vogelzang NJ', 'Rusthoven JJ'], True)."""
    authors = (authors or "").strip().rstrip(".")
    et_al = bool(ET_AL.search(authors))
    names = [name.strip() for name in ET_AL.sub("", authors).split(",") if name.strip()]
    return names, et_al


def _surname_first(name):
    """'Vogelzang NJ' → 'Vogelzang, NJ' (BibTeX's unambiguous form); a group name is kept whole in braces."""
    parts = name.rsplit(" ", 1)
    return f"{parts[0]}, {parts[1]}" if len(parts) == 2 and parts[1].isupper() else f"{{{name}}}"


def _pages(pages):
    start, _, end = (pages or "").partition("-")
    return start.strip(), end.strip()


def to_ris(references):
    entries = []
    for ref in references:
        names, _ = split_authors(_one_line(ref.authors))
        start, end = _pages(ref.pages)
        entry = {
            "type_of_reference": "ABST" if ref.note.lower().startswith("abstract") else "JOUR",
            "id": ref.key,
            "authors": names,
            "title": ref.title,
            "journal_name": ref.source,
            "year": str(ref.year or ""),
            "volume": ref.volume,
            "number": ref.issue,
            "start_page": start,
            "end_page": end,
            "notes": [ref.note] if ref.note else [],
            "doi": ref.doi,
            # Only web addresses: a stored javascript: or data: URL is never handed on.
            "urls": [ref.link_url] if ref.link_url else [],
            "accession_number": ref.pmid,
        }
        entry = {name: [_one_line(v) for v in value] if isinstance(value, list) else _one_line(value)
                 for name, value in entry.items()}  # fmt: skip
        entries.append({name: value for name, value in entry.items() if value})
    return rispy.dumps(entries)


def to_bibtex(references):
    library = bibtexparser.Library()
    for ref in references:
        names, et_al = split_authors(_bibtex_value(ref.authors))
        authors = " and ".join([*map(_surname_first, names), *(["others"] if et_al else [])])
        fields = {
            "author": authors,
            "title": ref.title,
            "journal": ref.source,
            "year": str(ref.year or ""),
            "volume": ref.volume,
            "number": ref.issue,
            "pages": (ref.pages or "").replace("-", "--"),
            "note": ref.note,
            "doi": ref.doi,
            "pmid": ref.pmid,
            "url": ref.link_url,
        }
        fields = {name: _bibtex_value(value) for name, value in fields.items()}
        library.add(Entry("article", ref.key, [Field(name, value) for name, value in fields.items() if value]))
    return bibtexparser.write_string(library)


def page_to_ris(page):
    """One of our own pages (a `treatments.views.PageCitation`) for a reference manager, as an electronic source."""
    entry = {
        "type_of_reference": "ELEC",
        "id": page.key,
        "title": _one_line(page.title),
        "publisher": _one_line(page.publisher),
        "urls": [page.url],
        "date": page.updated.strftime("%Y/%m/%d") if page.updated else "",
        "year": str(page.updated.year) if page.updated else "",
    }
    return rispy.dumps([{name: value for name, value in entry.items() if value}])


def page_to_bibtex(page):
    fields = {
        "title": page.title,
        "organization": page.publisher,
        "year": str(page.updated.year) if page.updated else "",
        "note": f"Updated {page.updated:%d %B %Y}" if page.updated else "",
        "url": page.url,  # our own address, from SITE_URL
    }
    fields = {name: _bibtex_value(value) for name, value in fields.items()}
    library = bibtexparser.Library()
    library.add(Entry("misc", page.key, [Field(name, value) for name, value in fields.items() if value]))
    return bibtexparser.write_string(library)
