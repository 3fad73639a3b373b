"""Cross-site scripting: every text an editor can type, through every page that shows it.

Each attack vector is saved (published, through the ORM, so no form validation
helps) into every Markdown field and every plain-text field the public sees,
then every page that shows those fields is rendered: overview, drug, trial,
the lists, glossary, search results, sitemap, the RIS/BibTeX downloads, and
the staff Markdown preview. Every response is parsed and must contain no
active content (see `active_content`, which has its own tests below so this
suite cannot pass by checking nothing).

When a vector gets through, the test re-renders with the vector in one field
at a time and names the fields responsible.
"""

import json
import os
import re
import threading
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from references.models import Reference
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, _missing
from treatments.models import (
    Drug,
    GlossaryTerm,
    NextLink,
    Overview,
    Question,
    Regimen,
    RegimenDrug,
    ReviewerProfile,
    Status,
    TreatmentOption,
    Trial,
    TrialOutcome,
)

# --- the checker --------------------------------------------------------------------------------------------

GLOSSARY_SCRIPT = "/static/js/glossary.js"
SEARCH_ACTION = "/search/"
# "Was this page helpful?" (feedback/): the one other form a public page has, once, exactly as its template writes it.
FEEDBACK_FORM = {"class": "feedback-form", "method": "post", "action": "/feedback/"}
URL_ATTRIBUTES = {
    "href", "src", "action", "formaction", "data", "xlink:href", "srcset", "poster", "background",
    "cite", "codebase", "ping", "lowsrc", "dynsrc", "manifest", "icon", "longdesc",
}  # fmt: skip
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:")
# Elements that embed other documents, change how the page resolves URLs, or switch the parser into
# foreign content; none belongs in a public page's body.
FORBIDDEN_ELEMENTS = {"iframe", "frame", "frameset", "object", "embed", "applet", "portal", "base", "svg", "math"}
FORM_CONTROLS = {"input", "button", "select", "textarea"}
ALLOWED_LINK_RELS = {"alternate", "stylesheet", "icon", "canonical"}
# Browsers ignore whitespace and control characters around (and tabs/newlines inside) a URL's scheme;
# removing every one of them is stricter still.
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f]+")
_RAW_SCRIPT = re.compile(r"<script(?![\w-])", re.I)
_RAW_FORBIDDEN = re.compile(r"<({}|style)(?![\w-])".format("|".join(sorted(FORBIDDEN_ELEMENTS))), re.I)


def dangerous_url(value):
    """True for a javascript:, vbscript: or data: URL, however it is cased or padded.

    `value` is an attribute value as the HTML parser delivers it, i.e. with character
    references already decoded once (as a browser does); it is not decoded again.
    """
    return _INVISIBLE.sub("", value or "").lower().startswith(DANGEROUS_SCHEMES)


class _Scanner(HTMLParser):
    def __init__(self, allow_style):
        super().__init__(convert_charrefs=True)
        self.allow_style = allow_style
        self.found = []
        self.scripts = 0
        self._script = None  # "glossary", "json-ld" or "other" while inside a <script>
        self._script_text = []
        self._search_forms = 0
        self._feedback_forms = 0  # seen on this page

    def _add(self, category, detail):
        line, column = self.getpos()
        self.found.append(f"{category}: {detail} (line {line}, col {column})")

    def handle_starttag(self, tag, attrs):
        self._element(tag, attrs)

    def handle_startendtag(self, tag, attrs):
        self._element(tag, attrs)
        if tag in ("script", "form"):
            self.handle_endtag(tag)

    def _element(self, tag, attrs):
        shown = f"<{tag} {' '.join(f'{n}={v!r}' for n, v in attrs)}>"[:200]
        for name, value in attrs:
            if name.startswith("on"):
                self._add("event-handler", shown)
            if name == "style" and not self.allow_style:
                self._add("style-attribute", shown)
            if name == "srcdoc":
                self._add("srcdoc", shown)
            if name in URL_ATTRIBUTES and value:
                parts = value.split(",") if name == "srcset" else [value]
                if any(dangerous_url(part) for part in parts):
                    self._add("dangerous-url", shown)
        attributes = dict(attrs)
        if tag == "script":
            self.scripts += 1
            self._script_text = []
            if attributes == {"src": GLOSSARY_SCRIPT, "defer": None} and len(attrs) == 2:
                self._script = "glossary"
            elif attrs == [("type", "application/ld+json")]:
                self._script = "json-ld"
            else:
                self._script = "other"
                self._add("script", shown)
        elif tag in FORBIDDEN_ELEMENTS:
            self._add("forbidden-element", shown)
        elif tag == "style":
            if not self.allow_style:
                self._add("style-element", shown)
        elif tag == "form":
            if attributes.get("action") == SEARCH_ACTION and not self._search_forms:
                self._search_forms += 1
            elif attributes == FEEDBACK_FORM and not self._search_forms and not self._feedback_forms:
                self._feedback_forms += 1
                self._search_forms += 1  # its controls are the site's own too
            else:
                self._add("form", shown)
        elif tag in FORM_CONTROLS and not self._search_forms:
            self._add("form-control", shown)
        elif tag == "meta" and "http-equiv" in attributes:
            self._add("meta-http-equiv", shown)
        elif tag == "link":
            rels = (attributes.get("rel") or "").lower().split()
            if len(rels) != 1 or rels[0] not in ALLOWED_LINK_RELS:
                self._add("link", shown)

    def handle_data(self, data):
        if self._script is not None:
            self._script_text.append(data)

    def handle_endtag(self, tag):
        if tag == "form" and self._search_forms:
            self._search_forms -= 1
        if tag != "script" or self._script is None:
            return
        text = "".join(self._script_text)
        if self._script == "json-ld":
            if "<" in text:
                self._add("json-ld", f"contains '<': {text[:120]!r}")
            try:
                json.loads(text)
            except ValueError:
                self._add("json-ld", f"not valid JSON: {text[:120]!r}")
        elif self._script == "glossary" and text.strip():
            self._add("script", f"glossary script with inline code: {text[:120]!r}")
        self._script = None


def active_content(markup, allow_style=False):
    """Everything in `markup` that could run script or load active content: a list of descriptions."""
    scanner = _Scanner(allow_style)
    scanner.feed(markup)
    scanner.close()
    if scanner._script is not None:
        scanner._add("script", "unclosed <script> element")
    found = scanner.found
    # Belt and braces against the stdlib parser reading markup differently from a browser:
    # text and attribute values are always escaped, so any raw "<script" is an element.
    raw_scripts = len(_RAW_SCRIPT.findall(markup))
    if raw_scripts != scanner.scripts:
        found.append(f"raw-script: {raw_scripts} '<script' in the source, {scanner.scripts} parsed as elements")
    for match in _RAW_FORBIDDEN.finditer(markup):
        if allow_style and match.group(1).lower() == "style":
            continue
        found.append(f"raw-forbidden: {markup[match.start() : match.start() + 80]!r}")
    return found


def response_problems(response, public=True):
    """Problems with one response: active content in documents, and downloads that could be sniffed as HTML."""
    problems = []
    if response.status_code != 200:
        return [f"status {response.status_code}"]
    if response.get("X-Content-Type-Options") != "nosniff":
        problems.append("no X-Content-Type-Options: nosniff")
    content_type = response.get("Content-Type", "")
    body = response.content.decode()
    if content_type.startswith("text/html"):
        problems += active_content(body, allow_style=not public)
        if public:
            script_src = response.get("Content-Security-Policy", "").split("script-src", 1)[-1].split(";")[0]
            if "'self'" not in script_src or "unsafe" in script_src or "data:" in script_src:
                problems.append(f"weak or missing CSP script-src: {script_src!r}")
    elif content_type.startswith(("application/xml", "text/xml")):
        problems += active_content(body)
    else:
        # Reference-manager downloads: the editors' text verbatim, but never a document a browser renders.
        if any(kind in content_type for kind in ("html", "xml", "svg", "javascript")):
            problems.append(f"download served as {content_type}")
        if not response.get("Content-Disposition", "").startswith("attachment"):
            problems.append("download not served as an attachment")
    return problems


# --- the checker's own tests: each category is caught, and our real pages pass ----------------------------

FEEDBACK_MARKUP = (
    '<form class="feedback-form" method="post" action="/feedback/"><input type="hidden" name="page" value="/">'
    '<input type="radio" name="helpful" value="yes"><textarea name="comment"></textarea>'
    '<button type="submit">Send feedback</button></form>'
)
CHECKER_CASES = [
    ("script", "<script>alert(1)</script>"),
    ("script", '<script src="/static/js/other.js"></script>'),
    ("script", '<script src="/static/js/glossary.js" defer onload="x()"></script>'),
    ("script", '<script src="/static/js/glossary.js" defer>alert(1)</script>'),
    ("script", '<script type="text/javascript">alert(1)</script>'),
    ("script", "<script>alert(1)"),
    ("json-ld", '<script type="application/ld+json">{"a": "</b>"}</script>'),
    ("json-ld", '<script type="application/ld+json">{"a": </script>'),
    ("event-handler", '<img src="x.png" onerror="alert(1)">'),
    ("event-handler", "<body onload=alert(1)>"),
    ("event-handler", '<a href="#" ONMOUSEOVER="alert(1)">x</a>'),
    ("dangerous-url", '<a href="javascript:alert(1)">x</a>'),
    ("dangerous-url", '<a href="&#106;avascript:alert(1)">x</a>'),
    ("dangerous-url", '<a href=" \n\tJaVa\tScRiPt:alert(1)">x</a>'),
    ("dangerous-url", '<a href="&#x01;javascript:alert(1)">x</a>'),
    ("dangerous-url", '<img src="data:image/svg+xml,x">'),
    ("dangerous-url", '<a href="VBScript:msgbox(1)">x</a>'),
    ("dangerous-url", '<form action="/search/"><button formaction="javascript:alert(1)">x</button></form>'),
    ("dangerous-url", '<a xlink:href="javascript:alert(1)">x</a>'),
    ("dangerous-url", '<img srcset="a.png 1x, data:image/png;base64,xx 2x">'),
    ("forbidden-element", '<iframe src="https://example.org/"></iframe>'),
    ("forbidden-element", '<object data="x.swf"></object>'),
    ("forbidden-element", '<embed src="x.swf">'),
    ("forbidden-element", '<base href="https://example.org/">'),
    ("forbidden-element", "<svg><circle/></svg>"),
    ("forbidden-element", "<math><mi>x</mi></math>"),
    ("form", '<form action="https://example.org/"><input name="q"></form>'),
    ("form", '<form action="/feedback/" method="post"><input name="comment"></form>'),  # not the site's form
    ("form", FEEDBACK_MARKUP * 2),  # the site's feedback form once; a second one is not ours
    ("form-control", '<input type="submit" formaction="/x">'),
    ("form-control", "<button>Click</button>"),
    ("meta-http-equiv", '<meta http-equiv="refresh" content="0;url=https://example.org/">'),
    ("link", '<link rel="import" href="/x.html">'),
    ("link", '<link rel="preload stylesheet" href="/x.css">'),
    ("style-element", "<style>body { display: none }</style>"),
    ("style-attribute", '<p style="color: red">x</p>'),
    ("srcdoc", '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>'),
    ("raw-script", '<p title="<script>alert(1)</script>">x</p>'),
]


@pytest.mark.parametrize(
    ("category", "markup"), CHECKER_CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CHECKER_CASES)]
)
def test_checker_catches(category, markup):
    found = active_content(f"<!DOCTYPE html><html><body><p>Text</p>{markup}<p>More</p></body></html>")
    assert any(item.startswith(f"{category}:") for item in found), found


@pytest.mark.parametrize(
    "markup",
    [
        '<script src="/static/js/glossary.js" defer></script>',
        '<script type="application/ld+json">{"name": "A \\u003Cb\\u003E"}</script>',
        '<form class="site-search" role="search" action="/search/" method="get"><input name="q">'
        '<button type="submit">Search</button></form>',
        FEEDBACK_MARKUP,
        '<link rel="stylesheet" href="/static/css/site.css"><link rel="icon" href="/static/favicon.svg">'
        '<link rel="canonical" href="https://mesoinfo.example.org/">',
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width">',
        '<a href="https://example.org/">x</a> <a href="#ref-1">1</a> <a href="/drugs/">d</a>',
        '<a href="&amp;#106;avascript:alert(1)">relative, not a script URL</a>',
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; onerror=alert(1) javascript:alert(1)</p>",
    ],
)
def test_checker_passes_inert_markup(markup):
    assert active_content(f"<html><head></head><body>{markup}</body></html>") == []


def test_checker_rejects_downloads_served_as_documents():
    from django.http import HttpResponse

    response = HttpResponse("<script>alert(1)</script>", content_type="text/plain")
    response["X-Content-Type-Options"] = "nosniff"
    assert response_problems(response) == ["download not served as an attachment"]
    response = HttpResponse("x", content_type="image/svg+xml")
    response["Content-Disposition"] = "attachment"
    assert response_problems(response) == ["no X-Content-Type-Options: nosniff", "download served as image/svg+xml"]


@pytest.mark.django_db
def test_real_pages_pass_the_checker_and_exercise_its_allowances(client, staff_client):
    build({})
    for url, response in render_all(client, staff_client, {}):
        assert response_problems(response, public=url != PREVIEW) == [], url
    home = client.get("/").content.decode()
    # The page really has what the checker allows, so the allowances are exercised, not vacuous.
    assert GLOSSARY_SCRIPT in home and 'type="application/ld+json"' in home and 'action="/search/"' in home
    overview = client.get("/treatment/xss-overview/").content.decode()
    assert "Zebracorn" in overview and 'class="term"' in overview and 'id="ref-1"' in overview
    assert '<form class="feedback-form" method="post" action="/feedback/">' in overview


# --- the vectors ----------------------------------------------------------------------------------------------

VECTORS = [
    # <script> in every case and encoding
    ("script-plain", "<script>alert(1)</script>"),
    ("script-upper", "<SCRIPT>alert(1)</SCRIPT>"),
    ("script-mixed-case", "<ScRiPt>window.__xss=1</sCrIpT>"),
    ("script-src", "<script src=//evil.example/x.js></script>"),
    ("script-nested", "<scr<script>ipt>alert(1)</scr</script>ipt>"),
    ("script-spaces-slash", "<script/x >alert(1)</script >"),
    ("script-unclosed", "<script>alert(1)"),
    ("script-entities", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("script-decimal-entities", "&#60;script&#62;alert(1)&#60;/script&#62;"),
    ("script-double-escaped", "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;"),
    ("script-utf7", "+ADw-script+AD4-alert(1)+ADw-/script+AD4-"),
    ("script-fullwidth", "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e"),
    ("jsonld-close", "</script><script>alert(1)</script>"),
    ("jsonld-close-upper", '</SCRIPT ><script>window.__xss=1</script><!--"'),
    # event handlers
    ("img-onerror", "<img src=x onerror=alert(1)>"),
    ("img-onerror-quoted", '<img src="x" onerror="window.__xss=1">'),
    ("img-slashes", "<img/src=x/onerror=alert(1)>"),
    ("body-onload", "<body onload=alert(1)>"),
    ("div-onmouseover", '<div onmouseover="alert(1)">hover</div>'),
    ("input-onfocus-autofocus", "<input onfocus=alert(1) autofocus>"),
    ("details-ontoggle", "<details open ontoggle=alert(1)>x</details>"),
    ("a-onclick", '<a href="https://example.org/" onclick="alert(1)">x</a>'),
    ("video-source-onerror", "<video><source onerror=alert(1)></video>"),
    # dangerous URL schemes and their disguises
    ("href-javascript", '<a href="javascript:alert(1)">x</a>'),
    ("href-javascript-case", '<a href="JaVaScRiPt:alert(1)">x</a>'),
    ("href-decimal-entity", '<a href="&#106;avascript:alert(1)">x</a>'),
    ("href-hex-entity", '<a href="&#x6A;avascript&#x3A;alert(1)">x</a>'),
    ("href-entity-no-semicolon", '<a href="&#0000106avascript:alert(1)">x</a>'),
    ("href-named-entities", '<a href="java&Tab;script&colon;alert(1)">x</a>'),
    ("href-newline", '<a href="java\nscript:alert(1)">x</a>'),
    ("href-tab-entity", '<a href="java&#x09;script:alert(1)">x</a>'),
    ("href-leading-control", '<a href=" &#x01;javascript:alert(1)">x</a>'),
    ("href-percent-encoded", '<a href="javascript%3Aalert(1)">x</a>'),
    ("href-vbscript", '<a href="vbscript:msgbox(1)">x</a>'),
    ("href-data-html", '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>'),
    ("img-src-javascript", '<img src="javascript:alert(1)">'),
    ("img-src-data-svg", '<img src="data:image/svg+xml,<svg onload=alert(1)>">'),
    ("bare-javascript-url", "javascript:alert(1)"),
    # Markdown links and images
    ("md-link-javascript", "[click](javascript:alert(1))"),
    ("md-link-javascript-upper", "[click](JAVASCRIPT:alert(1))"),
    ("md-link-entity", "[click](&#106;avascript:alert(1))"),
    ("md-link-percent", "[click](javascript%3Aalert(1))"),
    ("md-link-space-title", '[click]( javascript:alert(1) "title")'),
    ("md-link-angle", "[click](<javascript:alert(1)>)"),
    ("md-link-vbscript", "[click](vbscript:msgbox(1))"),
    ("md-link-data", "[click](data:text/html,<script>alert(1)</script>)"),
    ("md-link-title-breakout", '[x](https://example.org/ "a\\" onmouseover=\\"alert(1))'),
    ("md-image-data", "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)"),
    ("md-image-javascript", "![x](javascript:alert(1))"),
    ("md-reference-link", "[click][r]\n\n[r]: javascript:alert(1)"),
    ("md-reference-image", "![x][i]\n\n[i]: data:text/html,alert(1)"),
    ("autolink-javascript", "<javascript:alert(1)>"),
    ("autolink-data", "<data:text/html,alert(1)>"),
    ("autolink-breakout", '<https://example.org/"onmouseover="alert(1)>'),
    # SVG and MathML
    ("svg-onload", "<svg onload=alert(1)>"),
    ("svg-script", "<svg><script>alert(1)</script></svg>"),
    ("svg-animate", "<svg><animate onbegin=alert(1) attributeName=x dur=1s>"),
    ("svg-xlink", '<svg><a xlink:href="javascript:alert(1)"><text y=20>x</text></a></svg>'),
    ("svg-foreignobject", "<svg><foreignObject><iframe src=javascript:alert(1)></iframe></foreignObject></svg>"),
    ("math-xlink", '<math><mi xlink:href="javascript:alert(1)">x</mi></math>'),
    ("math-mglyph-style", "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"),
    # embedding, forms and document-level elements
    ("iframe-javascript", '<iframe src="javascript:alert(1)"></iframe>'),
    ("iframe-srcdoc", '<iframe srcdoc="<script>alert(1)</script>"></iframe>'),
    ("object-data", '<object data="javascript:alert(1)"></object>'),
    ("embed-src", '<embed src="data:text/html,<script>alert(1)</script>">'),
    ("form-action", '<form action="javascript:alert(1)"><button>x</button></form>'),
    ("input-formaction", "<input type=submit formaction=javascript:alert(1)>"),
    ("button-formaction", '<button formaction="javascript:alert(1)">x</button>'),
    ("meta-refresh", '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'),
    ("base-href", '<base href="javascript:alert(1)//">'),
    ("style-element", "<style>@import 'javascript:alert(1)';</style>"),
    ("style-attribute-url", '<p style="background:url(javascript:alert(1))">x</p>'),
    ("style-attribute-expression", '<div style="width:expression(alert(1))">x</div>'),
    ("link-import", '<link rel=import href="data:text/html,<script>alert(1)</script>">'),
    ("link-stylesheet", "<link rel=stylesheet href=javascript:alert(1)>"),
    # broken, nested and unclosed markup; comments and CDATA
    ("unclosed-img", "<img src=x onerror=alert(1)//"),
    ("attribute-breakout-double", '"><script>alert(1)</script>'),
    ("attribute-breakout-single", "'><img src=x onerror=alert(1)>"),
    ("title-breakout", "</title><script>alert(1)</script>"),
    ("textarea-breakout", "</textarea><script>alert(1)</script>"),
    ("comment-script", "<!--<script>alert(1)</script>-->"),
    ("comment-early-close", "<!--><script>alert(1)</script>-->"),
    ("comment-bang-close", "<!-- --!><img src=x onerror=alert(1)>-->"),
    ("cdata", "<![CDATA[<script>alert(1)</script>]]>"),
    ("cdata-in-svg", "<svg><![CDATA[><img src=x onerror=alert(1)>]]></svg>"),
    ("noscript-mxss", '<noscript><p title="</noscript><img src=x onerror=alert(1)>">'),
    ("template-script", "<template><script>alert(1)</script></template>"),
    # citation markers and entities
    ("citation-with-html", '[@x"><script>alert(1)</script>]'),
    ("citation-in-link-url", "[@evil-ref](javascript:alert(1))"),
    ("entity-img", "&#x3C;img src=x onerror=alert(1)&#x3E;"),
    ("entity-named-colon", '<a href="javascript&colon;alert(1)">x</a>'),
]
assert len({name for name, _ in VECTORS}) == len(VECTORS) >= 40
assert len({payload for _, payload in VECTORS}) == len(VECTORS)
# Every vector fits the shortest text field it goes into (100 characters; PostgreSQL enforces it).
assert all(len(payload) <= 100 for _, payload in VECTORS)

MARKDOWN_FIELDS = [
    "Overview.intro", "TreatmentOption.body", "Drug.how_it_works", "Drug.approval_note", "Trial.summary",
    "GlossaryTerm.definition",
]  # fmt: skip
PLAIN_FIELDS = [
    "Overview.title", "Overview.summary", "Overview.stage_label",
    "TreatmentOption.heading", "TreatmentOption.trials_caption",
    "Drug.generic_name", "Drug.brand_names", "Drug.drug_class",
    "Trial.title", "Trial.design",
    "TrialOutcome.measure", "TrialOutcome.population", "TrialOutcome.value",
    "Regimen.name", "Regimen.note",
    "Reference.authors", "Reference.title", "Reference.source", "Reference.note",
    "NextLink.label",
    "Question.text",
    "GlossaryTerm.term", "GlossaryTerm.pronunciation", "GlossaryTerm.other_forms",
    "ReviewerProfile.display_name", "ReviewerProfile.credentials",
]  # fmt: skip
# Not stored: what a visitor types into search, and what an editor types into the live preview.
SEARCH_QUERY = "search query"
PREVIEW_TEXT = "markdownx preview"
ALL_FIELDS = [*MARKDOWN_FIELDS, *PLAIN_FIELDS, SEARCH_QUERY, PREVIEW_TEXT]

SAFE_MARKDOWN = "Zebracorn: a word about the pleura, cited [@evil-ref]."
PREVIEW = "/markdownx/markdownify/"
OVERVIEW_URL = "/treatment/xss-overview/"
PUBLIC_URLS = [
    "/", OVERVIEW_URL, f"{OVERVIEW_URL}references.ris", f"{OVERVIEW_URL}references.bib", "/drugs/",
    "/drugs/xss-drug/", "/trials/", "/trials/xss-trial/", "/glossary/", "/search/?q=zebracorn", "/sitemap.xml",
    "/sitemap-overviews.xml", "/sitemap-drugs.xml", "/sitemap-trials.xml",
]  # fmt: skip


def as_markdown(vector):
    """A Markdown field holding the vector as a block of its own and inline, around ordinary cited text."""
    return f"{SAFE_MARKDOWN}\n\n{vector}\n\nInline: {vector} (end).\n"


def build(values, reference_url="https://example.org/study"):
    """One published page of everything, with `values` ({field: vector}) in the named fields."""

    def v(field, default):
        if field not in values:
            return default
        return as_markdown(values[field]) if field in MARKDOWN_FIELDS else values[field]

    reference = Reference.objects.create(
        key="evil-ref", authors=v("Reference.authors", "Smith AB, Jones CD"), title=v("Reference.title", "A study"),
        source=v("Reference.source", "J Test Med"), note=v("Reference.note", "Abstract 12"), year=2020,
        url=reference_url, status=Status.PUBLISHED,
    )  # fmt: skip
    reviewer = get_user_model().objects.create_user("xss-reviewer")
    ReviewerProfile.objects.create(
        user=reviewer, display_name=v("ReviewerProfile.display_name", "Jane Doe"),
        credentials=v("ReviewerProfile.credentials", "MD"), status=Status.PUBLISHED,
    )  # fmt: skip
    definition = v("GlossaryTerm.definition", "The thin lining around the lungs [@evil-ref].")
    GlossaryTerm.objects.create(
        term="pleura", slug="pleura", other_forms=v("GlossaryTerm.other_forms", "pleural"),
        pronunciation=v("GlossaryTerm.pronunciation", "PLOOR-uh"), definition=definition, status=Status.PUBLISHED,
    )  # fmt: skip
    GlossaryTerm.objects.create(
        term=v("GlossaryTerm.term", "pericardium"), slug="second-term", definition=definition, status=Status.PUBLISHED
    )
    published = {"status": Status.PUBLISHED}
    drug = Drug.objects.create(
        generic_name=v("Drug.generic_name", "drugamab"), slug="xss-drug", brand_names=v("Drug.brand_names", "Drugex"),
        drug_class=v("Drug.drug_class", "antibody"), how_it_works=v("Drug.how_it_works", SAFE_MARKDOWN),
        approval_note=v("Drug.approval_note", SAFE_MARKDOWN), **published,
    )  # fmt: skip
    regimen = Regimen.objects.create(
        name=v("Regimen.name", "drugamab alone"), note=v("Regimen.note", "weekly"), status=Status.PUBLISHED
    )
    RegimenDrug.objects.create(regimen=regimen, drug=drug, position=1)
    trial = Trial.objects.create(
        title=v("Trial.title", "A trial of drugamab"), slug="xss-trial", phase="2", patient_count=40,
        design=v("Trial.design", "single arm"), summary=v("Trial.summary", SAFE_MARKDOWN), regimen=regimen,
        **published,
    )  # fmt: skip
    trial.references.set([reference])
    TrialOutcome.objects.create(
        trial=trial, measure=v("TrialOutcome.measure", "Alive at 1 year"), is_key_result=True,
        population=v("TrialOutcome.population", "everyone"), value=v("TrialOutcome.value", "12 of 40"),
    )  # fmt: skip
    overview = Overview.objects.create(
        title=v("Overview.title", "Pleural mesothelioma"), slug="xss-overview",
        stage_label=v("Overview.stage_label", "Stage IV"), summary=v("Overview.summary", "What helps."),
        intro=v("Overview.intro", SAFE_MARKDOWN), reviewed_by=reviewer, reviewed_on=timezone.localdate(),
        **published,
    )  # fmt: skip
    section = TreatmentOption.objects.create(
        overview=overview, modality=TreatmentOption.Modality.CHEMOTHERAPY, slug="xss-section",
        heading=v("TreatmentOption.heading", "Chemotherapy"), body=v("TreatmentOption.body", SAFE_MARKDOWN),
        trials_caption=v("TreatmentOption.trials_caption", "Trials of chemotherapy"), **published,
    )  # fmt: skip
    section.trials.set([trial])
    section.drugs.set([drug])
    Question.objects.create(overview=overview, text=v("Question.text", "What is the goal?"), **published)
    label = v("NextLink.label", "Next page")
    NextLink.objects.create(overview=overview, label=label, position=1)  # not yet written: label as text
    NextLink.objects.create(overview=overview, label=label, target=overview, position=2)  # written: a link


def render_all(client, staff_client, values):
    """(url, response) for every public page showing the content, the searches, and the staff preview."""
    cache.clear()  # savepoint rollbacks can reuse a page-cache generation; never read a stale page
    responses = [(url, client.get(url)) for url in PUBLIC_URLS]
    if SEARCH_QUERY in values:
        query = values[SEARCH_QUERY]
        responses.append((f"/search/?q={query!r}", client.get("/search/", {"q": query})))
        word = max(re.findall(r"[A-Za-z]{3,}", query), key=len, default="")
        if word:
            responses.append((f"/search/?q={word}", client.get("/search/", {"q": word})))
    content = as_markdown(values[PREVIEW_TEXT]) if PREVIEW_TEXT in values else SAFE_MARKDOWN
    responses.append((PREVIEW, staff_client.post(PREVIEW, {"content": content})))
    return responses


def problems_for(client, staff_client, values, **build_options):
    """{url: problems} for the content built from `values`, which is rolled back afterwards."""

    class Rollback(Exception):
        pass

    problems = {}
    try:
        with transaction.atomic():
            build(values, **build_options)
            for url, response in render_all(client, staff_client, values):
                found = response_problems(response, public=url != PREVIEW)
                if found:
                    problems[url] = found
                if url == "/trials/xss-trial/" and "Trial.title" in values:
                    # Not vacuous: the vector really reached the page (as escaped text in its heading).
                    assert f"<h1>{escape(values['Trial.title'])}</h1>" in response.content.decode()
            raise Rollback
    except Rollback:
        pass
    return problems


def report(name, problems, culprits):
    lines = [f"vector {name!r} produced active content:"]
    for url, found in problems.items():
        lines += [f"  {url}"] + [f"    {item}" for item in found[:10]]
    lines.append("  fields responsible: " + (", ".join(culprits) or "only in combination"))
    return "\n".join(lines)


@pytest.fixture
def staff_client(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_user("xss-editor", is_staff=True))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("vector", [payload for _, payload in VECTORS], ids=[name for name, _ in VECTORS])
def test_vector_is_inert_in_every_field_and_page(vector, request, client, staff_client):
    problems = problems_for(client, staff_client, dict.fromkeys(ALL_FIELDS, vector))
    if problems:
        culprits = [field for field in ALL_FIELDS if problems_for(client, staff_client, {field: vector})]
        pytest.fail(report(request.node.callspec.id, problems, culprits), pytrace=False)


# --- reference URLs: the one field rendered as a link target ------------------------------------------------

URL_VECTORS = [
    ("url-javascript", "javascript:alert(1)"),
    ("url-javascript-case", "JaVaScRiPt:alert(1)"),
    ("url-leading-space", " javascript:alert(1)"),
    ("url-tab-inside", "java\tscript:alert(1)"),
    ("url-newline-inside", "java\nscript:alert(1)"),
    ("url-leading-control", "\x01javascript:alert(1)"),
    ("url-vbscript", "vbscript:msgbox(1)"),
    ("url-data-html", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="),
    ("url-decimal-entity", "&#106;avascript:alert(1)"),
    ("url-named-entity", "javascript&colon;alert(1)"),
    ("url-percent-encoded", "javascript%3Aalert(1)"),
    ("url-quote-breakout", 'https://example.org/"onmouseover="alert(1)'),
    ("url-tag-breakout", "https://example.org/'><script>alert(1)</script>"),
    ("url-protocol-relative", "//evil.example/x"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", [pytest.param(url, id=name) for name, url in URL_VECTORS])
def test_reference_url_is_never_an_active_link(url, request, client, staff_client):
    problems = problems_for(client, staff_client, {}, reference_url=url)
    assert not problems, report(request.node.callspec.id, problems, ["Reference.url"])


# --- markup produced after sanitising -----------------------------------------------------------------------


@pytest.mark.django_db
def test_citation_marker_inside_an_attribute_leaves_the_markup_intact(client):
    from mesoinfo.markdown import render_markdown
    from references.citations import CitationNumbering

    reference = Reference.objects.create(key="evil-ref", title="A study")
    html = str(
        render_markdown(
            '<img src="https://example.org/i.png" alt="x [@evil-ref] onerror=alert(1)">',
            CitationNumbering(references={"evil-ref": reference}),
        )
    )
    tags = re.findall(r"<[a-z]+", html)
    assert tags == ["<p", "<img"], html


# --- a real browser ---------------------------------------------------------------------------------------


def build_everything():
    """One page set holding every vector: long fields hold them all, short fields get one object per vector."""
    payloads = [payload for _, payload in VECTORS]
    everything = "\n\n".join(payloads)
    build(
        {
            **dict.fromkeys(MARKDOWN_FIELDS, everything),
            "Overview.summary": everything,
            "Reference.authors": everything,
            "Reference.title": everything,
        }
    )
    overview, trial, drug = Overview.objects.get(), Trial.objects.get(), Drug.objects.get()
    for n, payload in enumerate(payloads):
        section = TreatmentOption.objects.create(
            overview=overview, modality=TreatmentOption.Modality.RESEARCH, slug=f"v{n}", heading=payload,
            body=as_markdown(payload), trials_caption=payload, position=10 + n, status=Status.PUBLISHED,
        )  # fmt: skip
        section.trials.set([trial])
        TrialOutcome.objects.create(trial=trial, measure=payload, population=payload, value=payload, position=n + 2)
        NextLink.objects.create(overview=overview, label=payload, position=10 + n)
        Question.objects.create(overview=overview, text=payload, position=n, status=Status.PUBLISHED)
        GlossaryTerm.objects.create(
            term=payload, slug=f"v{n}", pronunciation=payload, definition=as_markdown(payload), status=Status.PUBLISHED
        )
        other = Drug.objects.create(
            generic_name=payload, slug=f"v{n}", brand_names=payload, drug_class=payload,
            how_it_works=as_markdown(payload), status=Status.PUBLISHED,
        )  # fmt: skip
        section.drugs.set([drug, other])
    return overview


BROWSER_PATHS = [
    OVERVIEW_URL, "/drugs/xss-drug/", "/drugs/", "/trials/xss-trial/", "/trials/", "/glossary/", "/",
    "/search/?q=zebracorn", "/search/?q=%3Cscript%3Ewindow.__xss%3D1%3C%2Fscript%3E",
]  # fmt: skip


def browse(base_url, paths):
    """Visit each page in headless Chromium (the browser tests' binary, arguments and timeout) and report.

    Runs in a thread of its own: Playwright's sync API allows one instance per thread, and the browser
    tests' session-wide `browser` fixture (tests/browser/conftest.py, visible only under tests/browser/)
    may already hold this one.
    """
    from playwright.sync_api import sync_playwright

    seen = {"dialogs": [], "errors": [], "csp": [], "pages": {}}
    failures = []

    def console(message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            seen["csp"].append(message.text)

    def visit_all():
        try:
            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    context = chromium.new_context()
                    context.set_default_timeout(TIMEOUT_MS)
                    page = context.new_page()
                    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
                    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
                    page.on("console", console)
                    for path in paths:
                        response = page.goto(base_url + path)
                        page.wait_for_load_state("load")
                        for _ in range(5):  # move focus through the page: focus handlers would fire
                            page.keyboard.press("Tab")
                        page.mouse.move(200, 200)
                        seen["pages"][path] = {
                            "status": response.status,
                            "xss": page.evaluate("window.__xss"),
                            "vectors shown": page.content().count("alert(1)"),
                        }
                finally:
                    chromium.close()
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
            failures.append(error)

    worker = threading.Thread(target=visit_all, daemon=True)
    worker.start()
    worker.join(timeout=180)
    assert not worker.is_alive(), "the browser did not finish within 180 s"
    if failures:
        raise failures[0]
    return seen


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_no_vector_runs_in_a_real_browser(live_server):
    if not os.path.exists(CHROMIUM):
        _missing(f"{CHROMIUM} not found: install it with `apt-get install -y chromium`")
    build_everything()
    seen = browse(live_server.url, BROWSER_PATHS)
    assert list(seen["pages"]) == BROWSER_PATHS
    for path, result in seen["pages"].items():
        assert result["status"] == 200, path
        assert result["xss"] is None, path
    # The pages really hold the vectors (as text), so the browser was given them.
    assert seen["pages"][OVERVIEW_URL]["vectors shown"] > 50
    assert seen["dialogs"] == []
    assert seen["errors"] == []
    # Images pointing off-site are refused by the policy (img-src 'self'); nothing else may be.
    unexpected = [text for text in seen["csp"] if "img-src" not in text]
    assert unexpected == [], unexpected
