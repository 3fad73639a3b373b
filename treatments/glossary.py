"""Marking glossary terms in rendered text.

The first mention of each term in a section becomes a link to its definition
("Words used on this page" at the end of the page, or the glossary page). It
works without JavaScript; static/js/glossary.js turns the links into
pop-up definitions. Text inside links, headings, citations and code is left
alone.
"""

import re

from django.utils.html import format_html

from editorial import tracking
from references.citations import TAG_RE

# Tags whose text is never marked.
SKIP_TAGS = {"a", "h1", "h2", "h3", "h4", "h5", "h6", "sup", "code", "pre", "abbr", "caption", "th", "mark"}
_TAG_NAME_RE = re.compile(r"<\s*(/?)\s*([a-zA-Z0-9]+)")
_VOID_TAGS = {"br", "hr", "img"}
# Character references in the text of sanitised HTML ("&amp;", "&gt;", "&#39;"): never part of a word to mark.
_ENTITY_RE = re.compile(r"(&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);)")


class GlossaryMarker:
    def __init__(self, terms, href="#term-{slug}"):
        self.href = href
        self.by_form = {}
        with tracking.paused():  # a page shows only the terms it uses (noted in _link), not all it looked for
            terms = list(terms)
        # …but any term's wording can make it mark new words.
        tracking.listed("treatments.glossaryterm", ("term", "other_forms", "slug"))
        for term in terms:
            for form in term.forms:
                self.by_form.setdefault(form.lower(), term)
        forms = sorted(self.by_form, key=len, reverse=True)
        self.pattern = (
            re.compile(r"(?<![\w-])(" + "|".join(re.escape(form) for form in forms) + r")(?![\w-])", re.I)
            if forms
            else None
        )
        self.used = []  # terms marked anywhere on the page, in order of first use
        self._used_pks = set()

    def mark(self, html):
        """Mark the first mention of each term in this piece of HTML (one section)."""
        if self.pattern is None:
            return html
        marked_here = set()
        skipping = []
        parts = []
        for part in TAG_RE.split(str(html)):
            if part.startswith("<"):
                self._track(part, skipping)
                parts.append(part)
            elif skipping or not part.strip():
                parts.append(part)
            else:
                parts += [
                    piece
                    if _ENTITY_RE.fullmatch(piece)
                    else self.pattern.sub(lambda m: self._link(m, marked_here), piece)
                    for piece in _ENTITY_RE.split(part)
                ]
        return "".join(parts)

    def _track(self, tag, skipping):
        match = _TAG_NAME_RE.match(tag)
        if not match:
            return
        closing, name = match.group(1) == "/", match.group(2).lower()
        if name not in SKIP_TAGS or name in _VOID_TAGS or tag.endswith("/>"):
            return
        if closing:
            if skipping and skipping[-1] == name:
                skipping.pop()
        else:
            skipping.append(name)

    def _link(self, match, marked_here):
        term = self.by_form[match.group(0).lower()]
        if term.pk in marked_here:
            return match.group(0)
        marked_here.add(term.pk)
        if term.pk not in self._used_pks:
            self._used_pks.add(term.pk)
            self.used.append(term)
            tracking.shown(term)
        # The matched text is already-escaped HTML text; format_html would escape it twice.
        return str(
            format_html(
                '<a class="term" href="{}" data-term="{}">{}</a>',
                self.href.format(slug=term.slug),
                term.slug,
                _Raw(match.group(0)),
            )
        )


class _Raw(str):
    """Text that is already HTML-escaped (it comes from sanitised HTML)."""

    def __html__(self):
        return self
