"""The one place where text typed by editors becomes HTML.

Markdown (tables allowed) → HTML → sanitised with an nh3 allowlist →
citation markers resolved to numbered superscripts → safe string.

Citation markers (`[@key]`) contain no HTML-special characters, so they pass
through Markdown and the sanitiser as plain text; resolving them last means the
only markup added after sanitising is our own, built with format_html from
reference numbers.
"""

import hashlib
import html as html_lib
import math
import re
import threading
from dataclasses import dataclass
from importlib.metadata import version

import markdown as md
import nh3
import textstat
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.html import strip_tags
from django.utils.safestring import mark_safe

from references.citations import CitationNumbering, find_keys
from references.models import Reference

from .markdown_limits import MarkdownTooComplex, check

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "dl", "dt", "em",
    "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "strong", "sub", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "th": {"scope", "colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}

# Headings typed in a body ("# Side effects") sit below the page's own <h1>
# and section <h2>s: Markdown's level 1 becomes <h3>.
_EXTENSIONS = ["tables", "sane_lists", "toc"]
_EXTENSION_CONFIGS = {"toc": {"baselevel": 3, "anchorlink": False, "permalink": False}}
# Building a Markdown converter (loading its extensions) costs far more than converting a section,
# so each thread keeps one and resets it between texts (converters are not thread-safe).
_local = threading.local()
_PARAGRAPHS = re.compile(r"\n[ \t]*\n")


def _to_html(text):
    converter = getattr(_local, "converter", None)
    if converter is None:
        converter = _local.converter = md.Markdown(extensions=_EXTENSIONS, extension_configs=_EXTENSION_CONFIGS)
    return converter.reset().convert(text)


def sanitise(html):
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def _scrollable_tables(html):
    # Wide tables scroll inside their own region instead of widening the page on a phone.
    return html.replace(
        "<table>", '<div class="table-scroll" role="region" aria-label="Table" tabindex="0"><table>'
    ).replace("</table>", "</table></div>")


def _sanitised_html(text):
    """Markdown → sanitised HTML: the part of the pipeline that depends on nothing but the text.

    A text the pipeline cannot render in reasonable time or stack (markdown_limits; saving such text is refused,
    but one may come from a fixture or an older release) is shown as plain paragraphs instead.
    """
    text = text or ""
    try:
        check(text)
        html = _to_html(text)
    except (MarkdownTooComplex, RecursionError):
        _local.converter = None  # a converter interrupted mid-way is not reused
        html = "".join(f"<p>{html_lib.escape(part.strip())}</p>" for part in _PARAGRAPHS.split(text) if part.strip())
    return _scrollable_tables(sanitise(html))


def pipeline_signature():
    """Names the pipeline's settings and library versions. Cache keys include it, so a deploy that changes how
    Markdown becomes HTML never serves HTML made the old way, even from a cache shared with older servers."""
    parts = (
        4,  # bump when _sanitised_html's own code changes
        sorted(ALLOWED_TAGS),
        sorted((tag, sorted(names)) for tag, names in ALLOWED_ATTRIBUTES.items()),
        sorted(ALLOWED_URL_SCHEMES),
        _EXTENSIONS,
        _EXTENSION_CONFIGS,
        version("markdown"),
        version("nh3"),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


_PIPELINE = pipeline_signature()
HTML_CACHE_SECONDS = 7 * 24 * 3600


def _html_key(text):
    return f"mesoinfo:md:{_PIPELINE}:{hashlib.sha256((text or '').encode()).hexdigest()}"


def sanitised_html_many(texts):
    """{text: sanitised HTML} for public pages, from the cache where possible.

    Keyed by a hash of the text itself, so an entry can never be stale: an
    edited text has a new key. A page whose whole-page cache entry was
    invalidated by a change elsewhere re-renders only the texts that changed.
    """
    keys = {_html_key(text): text for text in set(texts)}
    found = cache.get_many(keys)
    missing = {key: _sanitised_html(text) for key, text in keys.items() if key not in found}
    if missing:
        cache.set_many(missing, HTML_CACHE_SECONDS)
    return {keys[key]: html for key, html in {**found, **missing}.items()}


def render_markdown(text, citations=None, glossary=None, html=None):
    """Render editor Markdown to safe HTML.

    `citations` is the page's CitationNumbering; markers are numbered in the
    order this function meets them, so a page renders its parts top to bottom.
    Without one, markers are left out. `glossary` (an object with `mark(html)`)
    links the first mention of each glossary term in this text to its definition.
    `html` is this text's sanitised HTML if the caller has it already (`sanitised_html_many`).
    """
    if html is None:
        html = _sanitised_html(text)
    numbering = citations if citations is not None else CitationNumbering(references={})
    html = numbering.resolve(html)
    if glossary is not None:
        html = glossary.mark(html)
    return mark_safe(html)  # noqa: S308 - sanitised above; citation and glossary markup are ours


def plain_text(text):
    """What a reader sees of Markdown, as plain text (no markup, no citation markers)."""
    return html_lib.unescape(strip_tags(render_markdown(text))).strip()


READING_GRADE_TARGET = 8
WORDS_PER_MINUTE = 200


@dataclass
class Readability:
    grade: float
    words: int

    @property
    def minutes(self):
        return max(1, math.ceil(self.words / WORDS_PER_MINUTE))

    @property
    def on_target(self):
        return self.grade <= READING_GRADE_TARGET

    def __str__(self):
        target = "on target" if self.on_target else f"above the target of {READING_GRADE_TARGET}"
        return f"Reading grade {self.grade:.1f} ({target}) · {self.words} words · about {self.minutes} min to read"


def readability(text):
    """Flesch–Kincaid grade and reading time of Markdown as patients read it; None for empty text."""
    plain = plain_text(text)
    words = textstat.lexicon_count(plain)
    if not words:
        return None
    return Readability(grade=round(textstat.flesch_kincaid_grade(plain), 1), words=words)


def preview(text):
    """django-markdownx preview: the same pipeline, with this text's own reference list.

    Unknown keys are named in a warning so the editor can fix them before saving.
    """
    try:
        check(text)
    except MarkdownTooComplex as error:
        return render_to_string("includes/_preview.html", {"error": str(error)})
    keys = find_keys(text)
    citations = CitationNumbering(references={ref.key: ref for ref in Reference.objects.filter(key__in=keys)})
    body = render_markdown(text, citations)
    context = {"body": body, "citations": citations, "readability": readability(text)}
    return render_to_string("includes/_preview.html", context)
