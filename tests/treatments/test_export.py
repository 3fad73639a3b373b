import bibtexparser
import pytest
import rispy

from tests.factories import make_overview, make_reference, make_section

pytestmark = pytest.mark.django_db


@pytest.fixture
def page():
    make_reference(
        key="vogelzang-2003", authors="Vogelzang NJ, Rusthoven JJ, Symanowski J, et al",
        title="Phase III study of pemetrexed", source="J Clin Oncol", year=2003, volume="21", issue="14",
        pages="2636-2644", pmid="12860938", doi="10.1200/JCO.2003.11.136",
    )  # fmt: skip
    make_reference(key="hillerdal-2003", authors="Hillerdal G, Sundstrom S", title="The CCG study",
                   source="Proc Am Soc Clin Oncol", year=2003, note="Abstract 2534")  # fmt: skip
    make_reference(key="not-on-page", title="Unrelated")
    overview = make_overview(slug="stage-iv", intro="A [@hillerdal-2003].")
    make_section(overview, body="B [@vogelzang-2003] [@hillerdal-2003].")
    return overview


def test_ris_export_in_page_order(client, page):
    response = client.get("/treatment/stage-iv/references.ris")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-research-info-systems")
    assert 'filename="stage-iv-references.ris"' in response["Content-Disposition"]
    entries = rispy.loads(response.content.decode())
    assert [e["id"] for e in entries] == ["hillerdal-2003", "vogelzang-2003"]
    vogelzang = entries[1]
    assert vogelzang["authors"] == ["Vogelzang NJ", "Rusthoven JJ", "Symanowski J"]
    assert vogelzang["doi"] == "10.1200/JCO.2003.11.136" and vogelzang["accession_number"] == "12860938"
    assert (vogelzang["start_page"], vogelzang["end_page"], vogelzang["number"]) == ("2636", "2644", "14")
    assert entries[0]["type_of_reference"] == "ABST" and entries[0]["notes"] == ["Abstract 2534"]


def test_bibtex_export(client, page):
    response = client.get("/treatment/stage-iv/references.bib")
    assert response.status_code == 200
    library = bibtexparser.parse_string(response.content.decode())
    assert [e.key for e in library.entries] == ["hillerdal-2003", "vogelzang-2003"]
    vogelzang = library.entries[1]
    assert vogelzang["author"] == "Vogelzang, NJ and Rusthoven, JJ and Symanowski, J and others"
    assert vogelzang["pages"] == "2636--2644" and vogelzang["doi"] == "10.1200/JCO.2003.11.136"


def test_export_links_on_page_and_unknown_format_404(client, page):
    html = client.get(page.get_absolute_url()).content.decode()
    assert "/treatment/stage-iv/references.ris" in html and "/treatment/stage-iv/references.bib" in html
    assert client.get("/treatment/stage-iv/references.exe").status_code == 404
    assert client.get("/treatment/missing/references.ris").status_code == 404


HOSTILE = {
    "title": "Line one\nER  - \n\nTY  - JOUR\nTI  - Injected record\r\nsecond line",
    "source": "J Test} , note = {injected field}, x = {",
    "authors": "Smith AB, Jones\nAU  - Injected CD",
    "note": "ends with a backslash \\",
    "url": "javascript:alert(document.domain)",
}


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", " java\nscript:x"])
def test_exports_hand_on_only_web_addresses(client, url):
    make_reference(key="bad-url-2001", url=url)
    make_reference(key="good-url-2002", url="https://example.org/paper")
    make_overview(slug="urls", intro="A [@bad-url-2001] [@good-url-2002].")
    ris = client.get("/treatment/urls/references.ris").content.decode()
    bib = client.get("/treatment/urls/references.bib").content.decode()
    for text in (ris, bib):
        assert "https://example.org/paper" in text
        assert "javascript" not in text and "data:" not in text and "script:x" not in text


def test_hostile_text_cannot_add_records_or_fields_to_exports(client):
    make_reference(key="hostile-2001", **HOSTILE)
    make_reference(key="plain-2002", title="A {Balanced} title", source="J {EORTC} Med")
    make_overview(slug="hostile", intro="A [@hostile-2001] [@plain-2002].")
    entries = rispy.loads(client.get("/treatment/hostile/references.ris").content.decode())
    assert [entry["id"] for entry in entries] == ["hostile-2001", "plain-2002"]
    assert entries[0]["title"] == "Line one ER - TY - JOUR TI - Injected record second line"
    assert entries[0]["authors"] == ["Smith AB", "Jones AU - Injected CD"]
    assert "urls" not in entries[0] and "Injected record" not in str(entries[1])

    library = bibtexparser.parse_string(client.get("/treatment/hostile/references.bib").content.decode())
    assert not library.failed_blocks
    hostile, plain = library.entries
    assert (hostile.key, plain.key) == ("hostile-2001", "plain-2002")
    assert set(hostile.fields_dict) == {"author", "title", "journal", "year", "note"}
    assert hostile["journal"] == "J Test , note = injected field, x ="
    assert hostile["note"] == "ends with a backslash"
    assert plain["title"] == "A {Balanced} title" and plain["journal"] == "J {EORTC} Med"
