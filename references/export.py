"""Reference lists for reference managers: RIS (rispy) and BibTeX (bibtexparser)."""

import re

import bibtexparser
import rispy
from bibtexparser.model import Entry, Field

ET_AL = re.compile(r",?\s*et al\.?$", re.I)


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
        names, _ = split_authors(ref.authors)
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
            "urls": [ref.url] if ref.url else [],
        }
        if ref.pmid:
            entry["accession_number"] = ref.pmid
        entries.append({name: value for name, value in entry.items() if value})
    return rispy.dumps(entries)


def to_bibtex(references):
    library = bibtexparser.Library()
    for ref in references:
        names, et_al = split_authors(ref.authors)
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
            "url": ref.url,
        }
        library.add(Entry("article", ref.key, [Field(name, value) for name, value in fields.items() if value]))
    return bibtexparser.write_string(library)
