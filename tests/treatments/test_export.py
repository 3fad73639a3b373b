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
