"""Citation markers: finding them in Markdown and numbering them on a page.

Writers cite with `[@key]`, or several works at once with `[@key1; @key2]`.
A page numbers the works it cites in order of first appearance across all of
its parts; a work cited again keeps its first number.
"""

import re
from dataclasses import dataclass, field

from django.utils.html import format_html
from django.utils.safestring import mark_safe

KEY_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]*"
MARKER_RE = re.compile(rf"\[\s*(@{KEY_PATTERN}(?:\s*[;,]\s*@{KEY_PATTERN})*)\s*\]")
_KEY_RE = re.compile(rf"@({KEY_PATTERN})")
# When rendering, the space before a marker goes too: "fact [@x]." reads "fact¹."
_MARKER_WITH_SPACE_RE = re.compile(r"[ \t]*" + MARKER_RE.pattern)
# A tag, with quoted attribute values that may contain ">".
TAG_RE = re.compile(r"""(<(?:[^>"']|"[^"]*"|'[^']*')*>)""")


def _marker_keys(marker_body):
    return [key.lower() for key in _KEY_RE.findall(marker_body)]


def find_keys(text):
    """Return the cited keys in `text`, in order of first appearance, without repeats."""
    keys = []
    for match in MARKER_RE.finditer(text or ""):
        for key in _marker_keys(match.group(1)):
            if key not in keys:
                keys.append(key)
    return keys


@dataclass
class CitationNumbering:
    """The numbered list of works one page cites.

    `references` maps each citable key to its Reference; the page passes the
    references it prefetched. A key missing from it is reported in `unknown`
    and renders as nothing, so a patient never sees a broken marker.
    """

    references: dict
    numbers: dict = field(default_factory=dict)
    unknown: list = field(default_factory=list)
    _anchored: set = field(default_factory=set, repr=False)

    def number(self, reference):
        """The number of `reference` on this page, giving it the next one if new."""
        key = reference.key.lower()
        self.references.setdefault(key, reference)
        if key not in self.numbers:
            self.numbers[key] = len(self.numbers) + 1
        return self.numbers[key]

    def number_key(self, key):
        reference = self.references.get(key)
        if reference is None:
            if key not in self.unknown:
                self.unknown.append(key)
            return None
        return self.number(reference)

    @property
    def cited(self):
        """(number, reference) pairs for the page's reference list, in number order."""
        return sorted((n, self.references[key]) for key, n in self.numbers.items())

    def superscript(self, numbers):
        """Superscript links to the reference list for the given numbers.

        The first citation of each work carries the id the reference list links back to.
        """
        parts = []
        for n in sorted(set(numbers)):
            if n in self._anchored:
                parts.append(format_html('<a href="#ref-{0}">{0}</a>', n))
            else:
                self._anchored.add(n)
                parts.append(format_html('<a href="#ref-{0}" id="cite-{0}">{0}</a>', n))
        if not parts:
            return ""
        return format_html(
            '<sup class="citation"><span class="visually-hidden">Reference </span>{}</sup>',
            mark_safe(",".join(parts)),
        )

    def resolve(self, html):
        """Replace every citation marker in the text of sanitised HTML with numbered superscripts.

        Markers inside tags (an image's alt text, a link's title) are left as they are.
        """

        def replace(match):
            numbers = [self.number_key(key) for key in _marker_keys(match.group(1))]
            return str(self.superscript(n for n in numbers if n is not None))

        return "".join(
            part if part.startswith("<") else _MARKER_WITH_SPACE_RE.sub(replace, part) for part in TAG_RE.split(html)
        )
