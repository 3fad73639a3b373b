"""ClinicalTrials.gov identifiers (NCT numbers): one format check and one study address for every app."""

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

NCT_ID_PATTERN = r"^NCT\d{8}\Z"

validate_nct_id = RegexValidator(
    NCT_ID_PATTERN,
    _("Enter the ClinicalTrials.gov number as it is written there: NCT followed by 8 digits."),
    code="invalid_nct_id",
)


def nct_url(nct_id):
    """The study's public page on ClinicalTrials.gov."""
    return f"https://clinicaltrials.gov/study/{nct_id}"
