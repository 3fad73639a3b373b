"""A trial's ClinicalTrials.gov number: NCT + 8 digits, optional, unique when given."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tests.factories import make_trial

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "value", ["NCT1234567", "NCT123456789", "nct02054806", "NCT0205480X", " NCT02054806", "02054806"]
)
def test_only_nct_and_eight_digits_is_accepted(value):
    trial = make_trial(nct_id="")
    trial.nct_id = value
    with pytest.raises(ValidationError) as error:
        trial.full_clean()
    assert "NCT followed by 8 digits" in str(error.value.message_dict["nct_id"])


def test_unique_when_given_many_may_have_none():
    make_trial(nct_id="NCT90000001")
    make_trial(nct_id="")
    second_empty = make_trial(nct_id="")
    second_empty.full_clean()
    duplicate = make_trial(nct_id="")
    duplicate.nct_id = "NCT90000001"
    with pytest.raises(ValidationError):
        duplicate.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        make_trial(nct_id="NCT90000001")


def test_the_admin_refuses_a_number_that_is_not_one(admin_client):
    trial = make_trial(nct_id="")
    response = admin_client.get(f"/admin/treatments/trial/{trial.pk}/change/")
    assert 'name="nct_id"' in response.content.decode()


def test_search_finds_a_trial_by_its_registry_number(client):
    trial = make_trial(title="Pembrolizumab early study", nct_id="NCT90000042")
    make_trial(title="Another study")
    html = client.get("/search/", {"q": "NCT90000042"}).content.decode()
    assert trial.get_absolute_url() in html and "Another study" not in html
