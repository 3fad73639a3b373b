import pytest
from django.core.management import call_command
from django.urls import reverse

from mesoinfo.markdown import preview, readability
from tests.factories import make_overview, make_section
from treatments.models import Overview

pytestmark = pytest.mark.django_db

EASY = "The cat sat on the mat. It was a warm day. We had fun in the sun."
HARD = (
    "Multimodality therapeutic interventions incorporating cytoreductive pleurectomy demonstrate heterogeneous "
    "perioperative outcomes, necessitating individualized multidisciplinary consideration of contraindications."
)


def test_grade_reading_time_and_target():
    easy, hard = readability(EASY), readability(HARD)
    assert easy.grade < 3 and easy.on_target and easy.words == 17 and easy.minutes == 1
    assert hard.grade > 14 and not hard.on_target
    assert readability(" ".join([EASY] * 30)).minutes == 3  # 510 words at 200 a minute
    assert readability("") is None and readability("[@ref-2000]") is None


def test_markup_and_citations_do_not_count_as_words():
    assert readability("**The** cat [@smith-2000] sat.\n\n| a |\n|---|\n| b |").words == 5


def test_preview_shows_readability():
    html = preview(HARD)
    assert "Reading grade" in html and "above the target of 8" in html
    assert "on target" in preview(EASY)


def test_admin_list_column_and_change_form_panel(admin_client):
    overview = make_overview(intro=EASY)
    section = make_section(overview, body=HARD)
    changelist = admin_client.get(reverse("admin:treatments_treatmentoption_changelist")).content.decode()
    assert "reading grade" in changelist.lower() and "(above 8)" in changelist
    change = admin_client.get(reverse("admin:treatments_treatmentoption_change", args=[section.pk])).content.decode()
    assert "Body: Reading grade" in change and "above the target of 8" in change
    overview_page = admin_client.get(reverse("admin:treatments_overview_change", args=[overview.pk])).content.decode()
    assert "Introduction: Reading grade" in overview_page and "on target" in overview_page


def test_seed_sections_reach_the_target():
    call_command("loaddata", "seed", verbosity=0)
    overview = Overview.objects.get()
    grades = {section.heading: readability(section.body).grade for section in overview.sections.all()}
    grades["intro"] = readability(overview.intro).grade
    assert all(grade <= 8 for grade in grades.values()), grades
