"""The public pages that ask "Was this page helpful?", and what they are called.

A page's identity comes back from the visitor's browser (the form's hidden `page` field), so it is only believed
when it is the address of one of these pages, public now.
"""

from django.urls import Resolver404, resolve

from treatments.models import Drug, Overview, Trial

GLOSSARY = "treatments:glossary"
# URL name → the model whose record (by slug) the page shows; the glossary is one page.
PAGES = {
    "treatments:overview-detail": Overview,
    "treatments:drug-detail": Drug,
    "treatments:trial-detail": Trial,
    GLOSSARY: None,
}
MAX_PATH_LENGTH = 500


def _match(path):
    """(URL name, slug) of a page that takes feedback at `path`, or None."""
    if not isinstance(path, str) or not path.startswith("/") or len(path) > MAX_PATH_LENGTH:
        return None
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.view_name not in PAGES:
        return None
    return match.view_name, match.kwargs.get("slug")


def public_page_title(path):
    """The title of the public page at `path` that takes feedback, or None: not such a page, or not public now."""
    found = _match(path)
    if found is None:
        return None
    name, slug = found
    if name == GLOSSARY:
        return "Glossary"
    record = PAGES[name].objects.published().filter(slug=slug).first()
    return str(record) if record is not None else None


def page_titles(paths):
    """{path: title} for the pages among `paths` that take feedback (public or not any more), one query a kind."""
    slugs = {}
    for path in paths:
        found = _match(path)
        if found is not None:
            slugs.setdefault(found[0], {})[found[1]] = path
    titles = dict.fromkeys(slugs.pop(GLOSSARY, {}).values(), "Glossary")
    for name, by_slug in slugs.items():
        for record in PAGES[name].objects.filter(slug__in=by_slug):
            titles[by_slug[record.slug]] = str(record)
    return titles
