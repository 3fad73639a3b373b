from references.citations import CitationNumbering, find_keys
from references.models import Reference


def ref(key):
    return Reference(key=key, title=f"Title {key}")


def test_find_keys_in_order_without_repeats():
    text = "A [@b-2001]. B [@a-2000; @b-2001] and [@C-1999, @a-2000]. Email me@x.org [not a cite]"
    assert find_keys(text) == ["b-2001", "a-2000", "c-1999"]


def test_find_keys_ignores_non_markers():
    assert find_keys("[@] [ @ ] [@-bad] [link](http://x) @loose-key") == []
    assert find_keys("") == [] and find_keys(None) == []


def test_numbering_follows_first_appearance_and_dedupes():
    refs = {key: ref(key) for key in ["x", "y", "z"]}
    numbering = CitationNumbering(references=refs)
    first = numbering.resolve("<p>one [@y] two [@x; @y]</p>")
    second = numbering.resolve("<p>again [@z] and [@y]</p>")
    assert numbering.numbers == {"y": 1, "x": 2, "z": 3}
    assert [n for n, _ in numbering.cited] == [1, 2, 3]
    assert [r.key for _, r in numbering.cited] == ["y", "x", "z"]
    assert 'href="#ref-1"' in first and 'href="#ref-2"' in first
    assert 'href="#ref-3"' in second and 'href="#ref-1"' in second


def test_first_citation_carries_backlink_anchor_once():
    numbering = CitationNumbering(references={"x": ref("x")})
    html = numbering.resolve("<p>[@x] [@x] [@x]</p>")
    assert html.count('id="cite-1"') == 1
    assert html.count('href="#ref-1"') == 3


def test_grouped_citation_sorted_numbers():
    refs = {key: ref(key) for key in ["a", "b", "c"]}
    numbering = CitationNumbering(references=refs)
    numbering.resolve("[@c] [@b]")
    html = numbering.resolve("[@a; @c; @b]")
    assert html.index(">1<") < html.index(">2<") < html.index(">3<")


def test_unknown_key_renders_nothing_and_is_reported():
    numbering = CitationNumbering(references={"x": ref("x")})
    html = numbering.resolve("<p>fact [@nope] and [@x]</p>")
    assert "nope" not in html and "[@" not in html
    assert numbering.unknown == ["nope"]
    assert numbering.numbers == {"x": 1}


def test_number_adds_reference_not_in_initial_map():
    numbering = CitationNumbering(references={})
    assert numbering.number(ref("late")) == 1
    assert numbering.cited[0][1].key == "late"


def test_superscript_attaches_to_the_word_before_it():
    numbering = CitationNumbering(references={"x": ref("x")})
    assert numbering.resolve("<p>a fact [@x].</p>").startswith('<p>a fact<sup class="citation">')
