import pytest
from django.core.management import call_command

from tests.factories import make_drug, make_overview, make_reference, make_section
from treatments.glossary import GlossaryMarker
from treatments.models import GlossaryTerm, Status

pytestmark = pytest.mark.django_db


def term(name, forms="", slug=None, definition=None, **extra):
    return GlossaryTerm.objects.create(
        term=name,
        slug=slug or name.replace(" ", "-"),
        other_forms=forms,
        definition=definition or f"Means {name}.",
        **{"status": Status.PUBLISHED, **extra},
    )


def test_first_mention_per_section_only():
    marker = GlossaryMarker([term("pleura", "pleural")])
    first = marker.mark("<p>The pleura is thin. The pleural lining and pleura again.</p>")
    second = marker.mark("<p>Pleura in another section.</p>")
    assert (
        first.count('class="term"') == 1
        and '<a class="term" href="#term-pleura" data-term="pleura">pleura</a>' in first
    )
    assert second.count('class="term"') == 1 and ">Pleura</a>" in second  # case kept as written
    assert [t.term for t in marker.used] == ["pleura"]


def test_never_inside_links_headings_citations_code_or_tables_headers():
    marker = GlossaryMarker([term("pleura")])
    html = (
        '<h3>pleura</h3><p><a href="/x">pleura</a> <sup class="citation"><a href="#ref-1">pleura</a></sup> '
        "<code>pleura</code></p><table><thead><tr><th>pleura</th></tr></thead></table><p>pleura here</p>"
    )
    marked = marker.mark(html)
    assert marked.count('class="term"') == 1
    assert marked.endswith('<p><a class="term" href="#term-pleura" data-term="pleura">pleura</a> here</p>')


def test_whole_words_longest_form_first_and_attributes_untouched():
    marker = GlossaryMarker([term("trial", "trials"), term("phase II trial", slug="phase-2")])
    marked = marker.mark('<p title="trial">A phase II trial is a trial. Pleurisy trialled.</p>')
    assert 'title="trial"' in marked
    assert 'data-term="phase-2">phase II trial</a>' in marked
    assert 'data-term="trial">trial</a>' in marked
    assert "trialled" in marked and marked.count('class="term"') == 2


def test_escaped_text_stays_escaped():
    marker = GlossaryMarker([term("R&D")])
    marked = marker.mark("<p>R&amp;D &lt;script&gt;</p>")
    assert "&lt;script&gt;" in marked and "<script>" not in marked


def test_overview_page_marks_terms_and_defines_them(client):
    reference = make_reference(key="def-2000", title="Definition source")
    term("mesothelioma", definition="A cancer [@def-2000].", pronunciation="MEE-zoh-THEE-lee-OH-muh")
    overview = make_overview(intro="About mesothelioma.")
    make_section(overview, heading="Mesothelioma basics", body="Mesothelioma and mesothelioma again.")
    html = client.get(overview.get_absolute_url()).content.decode()
    assert html.count('class="term"') == 2  # intro and section, once each; not in the heading
    assert 'id="term-mesothelioma"' in html and "Words used on this page" in html
    assert "MEE-zoh-THEE-lee-OH-muh" in html
    assert reference.title in html  # the definition's citation joins the page's reference list
    assert 'src="/static/js/glossary.js"' in html


def test_glossary_page_lists_every_term(client):
    term("pleura", definition="The thin lining of the chest.")
    term("regimen", definition="A plan of drugs.")
    html = client.get("/glossary/").content.decode()
    assert 'id="pleura"' in html and 'id="regimen"' in html and "The thin lining of the chest." in html
    assert html.index('id="pleura"') < html.index('id="regimen"')


def test_drug_page_marks_terms(client):
    term("antibody", "antibodies")
    drug = make_drug(how_it_works="It is an antibody.")
    html = client.get(drug.get_absolute_url()).content.decode()
    assert 'data-term="antibody"' in html and 'id="term-antibody"' in html


def test_seed_glossary_loads_and_marks_the_seed_page(client):
    call_command("load_seed", verbosity=0)
    assert GlossaryTerm.objects.count() >= 16
    for glossary_term in GlossaryTerm.objects.all():
        glossary_term.full_clean()
    html = client.get("/treatment/stage-iv-recurrent-pleural-mesothelioma/").content.decode()
    for slug in ["mesothelioma", "pleura", "chemotherapy", "debulking", "refractory", "immunotherapy"]:
        assert f'data-term="{slug}"' in html, slug


def test_terms_never_match_inside_character_references_or_tags():
    marker = GlossaryMarker([term("AMP", slug="amp"), term("gt", slug="gt"), term("href", slug="href")])
    html = '<p>R&amp;D with <a href="/x">a link</a> &gt; 5 mg &#39;quoted&#39;, then AMP and gt.</p>'
    marked = marker.mark(html)
    assert "R&amp;D" in marked and "&gt; 5 mg" in marked and "&#39;quoted&#39;" in marked
    assert '<a href="/x">a link</a>' in marked
    assert '>AMP</a> and <a class="term" href="#term-gt" data-term="gt">gt</a>.' in marked


def test_a_page_with_an_entity_and_a_term_named_like_it_renders_correctly(client):
    term("AMP", slug="amp", definition="A made-up test word.")
    overview = make_overview(intro="R&D results: > 5 mg of AMP.")
    html = client.get(overview.get_absolute_url()).content.decode()
    assert 'R&amp;D results: &gt; 5 mg of <a class="term"' in html
