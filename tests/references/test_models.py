import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from references.models import Reference
from tests.factories import make_overview, make_reference, make_section

pytestmark = pytest.mark.django_db


def test_citation_ama_style_with_all_parts():
    reference = Reference(
        key="vogelzang-2003",
        authors="Vogelzang NJ, Rusthoven JJ, Symanowski J, et al",
        title="Phase III study of pemetrexed in combination with cisplatin",
        source="J Clin Oncol",
        year=2003,
        volume="21",
        issue="14",
        pages="2636-2644",
        doi="10.1200/JCO.2003.11.136",
    )
    assert reference.citation() == (
        "Vogelzang NJ, Rusthoven JJ, Symanowski J, et al. Phase III study of pemetrexed in combination with "
        "cisplatin. J Clin Oncol. 2003;21(14):2636-2644. doi:10.1200/JCO.2003.11.136"
    )
    assert reference.doi_url == "https://doi.org/10.1200/JCO.2003.11.136"
    assert reference.pubmed_url == ""


def test_citation_conference_abstract_omits_missing_parts():
    reference = Reference(
        key="a", authors="Hillerdal G, et al", title="A title.", source="Proc Am Soc Clin Oncol", year=2003,
        note="Abstract 2534",
    )  # fmt: skip
    assert reference.citation() == "Hillerdal G, et al. A title. Proc Am Soc Clin Oncol. 2003. Abstract 2534."


def test_pubmed_link():
    assert Reference(key="a", title="t", pmid="12860938").pubmed_url == "https://pubmed.ncbi.nlm.nih.gov/12860938/"


def test_pmid_unique_when_present_blank_allowed_many_times():
    make_reference(pmid="")
    make_reference(pmid="")
    make_reference(pmid="123")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_reference(pmid="123")


def test_doi_unique_case_insensitive():
    make_reference(doi="10.1200/JCO.2003.11.136")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_reference(doi="10.1200/jco.2003.11.136")


@pytest.mark.parametrize(
    ("field", "value"),
    [("pmid", "PMID123"), ("doi", "doi:10.1/x"), ("doi", "https://doi.org/10.1/x"), ("key", "Has Spaces")],
)
def test_identifier_validation(field, value):
    reference = Reference(**{"key": "ok-key", "title": "t", field: value})
    with pytest.raises(ValidationError) as error:
        reference.full_clean()
    assert field in error.value.message_dict


def test_unknown_citation_key_is_a_validation_error_naming_it():
    make_reference(key="known-2000")
    section = make_section(make_overview())
    section.body = "Fact [@known-2000]. Other fact [@missing-1999; @known-2000]. [@ghost-2001]"
    with pytest.raises(ValidationError) as error:
        section.full_clean()
    message = " ".join(error.value.message_dict["body"])
    assert "missing-1999" in message and "ghost-2001" in message
    assert "known-2000" not in message


def test_save_stores_cites_relation_from_markers():
    a, b, c = make_reference(key="a-2000"), make_reference(key="b-2000"), make_reference(key="c-2000")
    section = make_section(make_overview(), body="x [@a-2000] y [@b-2000; @a-2000]")
    assert set(section.cites.all()) == {a, b}
    section.body = "now only [@c-2000]"
    section.save()
    assert list(section.cites.all()) == [c]
    assert list(c.treatments_treatmentoption_citing.all()) == [section]


def test_markdown_line_breaks_normalised_on_save():
    section = make_section(make_overview(), body="Line one.\r\n\r\nLine two.")
    section.refresh_from_db()
    assert section.body == "Line one.\n\nLine two."
