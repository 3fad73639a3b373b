import re
import time

import pytest

from mesoinfo.markdown import preview, render_markdown
from references.citations import CitationNumbering
from tests.factories import make_overview, make_reference, make_section

DANGEROUS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//x.test/x.js></SCRIPT>",
    '<img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
    "[click](javascript:alert(1))",
    "![img](data:image/svg+xml;base64,PHN2Zz4=)",
    '<iframe src="https://x.test"></iframe>',
    "<style>body{display:none}</style>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<svg onload="alert(1)"><circle/></svg>',
    "<math><mtext><script>alert(1)</script></mtext></math>",
    '<object data="x.swf"></object>',
    '<form action="https://x.test"><input name="q"></form>',
    '<meta http-equiv="refresh" content="0;url=https://x.test">',
    '<base href="https://x.test/">',
    '<div onmouseover="alert(1)">hover</div>',
    "<scr<script>ipt>alert(1)</script>",
    '<a href="vbscript:msgbox(1)">x</a>',
]


@pytest.mark.parametrize("payload", DANGEROUS)
def test_sanitiser_removes_active_content(payload):
    html = str(render_markdown(f"Some text.\n\n{payload}\n\nMore text."))
    lowered = html.lower()
    for forbidden in ["<script", "<iframe", "<style", "<object", "<form", "<meta", "<base", "<svg", "<math", "<input"]:
        assert forbidden not in lowered
    assert not re.search(r"\son\w+\s*=", lowered)
    assert "javascript:" not in lowered and "vbscript:" not in lowered and "data:" not in lowered
    assert "style=" not in lowered
    assert "Some text." in html and "More text." in html


def test_markdown_features_kept():
    text = "# Heading\n\n**bold** _em_ [link](https://example.org/)\n\n- a\n- b\n\n|A|B|\n|-|-|\n|1|2|"
    html = str(render_markdown(text))
    assert "<h3>Heading</h3>" in html  # shifted below the page's h1 and section h2s
    assert "<strong>bold</strong>" in html and "<em>em</em>" in html
    assert '<a href="https://example.org/" rel="noopener noreferrer">link</a>' in html
    assert "<ul>" in html and "<table>" in html and "<th>A</th>" in html and "<td>2</td>" in html


def test_escaped_text_stays_text():
    html = str(render_markdown("5 < 6 & AT&T"))
    assert "5 &lt; 6 &amp; AT&amp;T" in html


@pytest.mark.django_db
def test_citations_resolved_through_pipeline():
    reference = make_reference(key="smith-2020")
    numbering = CitationNumbering(references={"smith-2020": reference})
    html = str(render_markdown("Fact.[@smith-2020]", numbering))
    assert '<sup class="citation">' in html and 'href="#ref-1"' in html and "[@" not in html


def test_marker_inside_html_attribute_cannot_inject():
    numbering = CitationNumbering(references={})
    html = str(render_markdown('<a href="[@x]" title="[@x]">t</a> [@x"><script>]', numbering))
    assert "<script" not in html and "<sup" not in html


@pytest.mark.django_db
def test_preview_shows_reference_list_and_warns_about_unknown_keys():
    make_reference(key="smith-2020", title="Smith's important study")
    html = preview("Fact [@smith-2020]. Unknown [@nobody-1900].\n\n<script>alert(1)</script>")
    assert "<script" not in html
    assert 'id="ref-1"' in html and "Smith&#x27;s important study" in html
    assert "nobody-1900" in html and "Unknown reference key" in html


def test_public_pages_reuse_sanitised_html_from_the_cache_and_never_a_stale_one(monkeypatch):
    from mesoinfo import markdown

    converted = []
    real = markdown._to_html
    monkeypatch.setattr(markdown, "_to_html", lambda text: converted.append(text) or real(text))
    first = markdown.sanitised_html_many(["One *text*.", "Two <script>x</script>"])
    assert first == {"One *text*.": "<p>One <em>text</em>.</p>", "Two <script>x</script>": "<p>Two </p>"}
    assert markdown.sanitised_html_many(["One *text*.", "Two <script>x</script>"]) == first
    assert len(converted) == 2  # the second call came from the cache
    assert markdown.sanitised_html_many(["One *edited* text."]) == {
        "One *edited* text.": "<p>One <em>edited</em> text.</p>"
    }
    assert len(converted) == 3


def test_cache_keys_change_with_the_pipeline(monkeypatch):
    from mesoinfo import markdown

    assert markdown._html_key("Text.").startswith(f"mesoinfo:md:{markdown.pipeline_signature()}:")
    monkeypatch.setattr(markdown, "ALLOWED_TAGS", markdown.ALLOWED_TAGS | {"iframe"})
    assert markdown.pipeline_signature() != markdown._PIPELINE
    monkeypatch.undo()
    monkeypatch.setattr(markdown, "version", lambda package: "0.0")
    assert markdown.pipeline_signature() != markdown._PIPELINE


# --- pathological input: refused or rendered fast, never a 500, never lost text ---------------------------------

NESTED_300 = "".join("    " * level + "- item\n" for level in range(300))
PATHOLOGICAL = {
    "brackets-8000": "[" * 8000,
    "brackets-50000": "[" * 50_000,
    "nested-list-300": NESTED_300,
    "list-markers-in-a-row": "- " * 3000 + "x",
    "quotes-300": ">" * 300 + " deep",
    "headings-25000": "# a\n" * 25_000,
    "emphasis-50000": "*a" * 50_000,
    "tags-20000": "<a " * 20_000,
    "too-long": "word " * 30_000,
}


@pytest.fixture
def editor_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("writer", password="pw-123456789", is_staff=True))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("text", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_markdown_preview_answers_within_a_second_with_a_clear_message(editor_client, text):
    started = time.monotonic()
    response = editor_client.post("/markdownx/markdownify/", {"content": text})
    assert time.monotonic() - started < 1
    assert response.status_code == 200
    assert "This text cannot be shown" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("text", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_saving_pathological_markdown_keeps_the_text_in_the_form_with_an_error(admin_client, text):
    from tests.mesoinfo.test_admin_history import change_url, section_post

    section = make_section(make_overview(), body="Safe text.")
    started = time.monotonic()
    response = admin_client.post(change_url(section), section_post(section, body=text))
    assert time.monotonic() - started < 2
    assert response.status_code == 200  # the form again, not a redirect or a 500
    form = response.context["adminform"].form
    assert form.errors["body"] and form["body"].value() == text.replace("\r\n", "\n")
    section.refresh_from_db()
    assert section.body == "Safe text."


@pytest.mark.django_db
@pytest.mark.parametrize("text", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_stored_pathological_markdown_is_shown_as_plain_text_fast(client, text):
    from treatments.models import Overview

    overview = make_overview()
    Overview.objects.filter(pk=overview.pk).update(intro=text)  # as if loaded from a fixture, unchecked
    started = time.monotonic()
    response = client.get(overview.get_absolute_url())
    assert time.monotonic() - started < 1.5
    assert response.status_code == 200


def test_ordinary_markdown_passes_the_limits():
    from mesoinfo.markdown_limits import check

    text = "\n\n".join(
        "Chemotherapy [@vogelzang-2003] uses **drugs** such as [pemetrexed](/drugs/pemetrexed/) and `code`.\n"
        "- a list\n    - nested once\n        - nested twice\n\n> a quote\n\n| a | b |\n|---|---|\n| 1 | 2 |"
        for _ in range(40)
    )
    check(text)
