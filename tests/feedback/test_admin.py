"""Reviewers read reader feedback in the admin (read-only, by page and answer, with counts) and on the admin
home's dashboard; nobody without the permission does."""

import datetime
import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from feedback.models import Feedback
from tests.factories import make_drug, make_overview, reviewer
from treatments.roles import EDITOR, MEDICAL_REVIEWER

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:feedback_feedback_changelist"


@pytest.fixture
def answers():
    overview = make_overview(title="Stage IV", slug="stage-iv")
    drug = make_drug(generic_name="pemetrexed", slug="pemetrexed", brand_names="Alimta")
    page, drug_page = overview.get_absolute_url(), drug.get_absolute_url()
    answers = [(page, True, ""), (page, True, "Very clear."), (page, False, "Too many long words.")]
    answers.append((drug_page, False, "What is a folate?"))
    for day, (path, helpful, comment) in enumerate(answers, 1):
        Feedback.objects.create(
            page=path, helpful=helpful, comment=comment, created=datetime.datetime(2027, 3, day, tzinfo=datetime.UTC)
        )
    return {"overview": page, "drug": drug_page}


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def editor(django_user_model):
    user = django_user_model.objects.create_user("ed", None, None, is_staff=True)
    user.groups.add(Group.objects.get(name=EDITOR))
    return user


def text(response):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_reviewers_see_answers_and_comments_filtered_by_page_and_answer_with_counts(answers):
    client = logged_in(reviewer())
    assert Group.objects.get(name=MEDICAL_REVIEWER).permissions.filter(codename="view_feedback").exists()
    everything = client.get(reverse(CHANGELIST))
    assert everything.status_code == 200
    assert "4 reader feedback" in text(everything)
    assert "Shown here: 2 found the page helpful, 2 did not; 3 left a comment." in text(everything)
    assert "Stage IV" in text(everything) and "pemetrexed (Alimta®)" in text(everything)  # the page filter's choices

    one_page = client.get(reverse(CHANGELIST), {"page": answers["overview"]})
    assert "Shown here: 2 found the page helpful, 1 did not; 2 left a comment." in text(one_page)
    assert "Very clear." in text(one_page) and "What is a folate?" not in text(one_page)

    not_helpful = client.get(reverse(CHANGELIST), {"page": answers["overview"], "helpful__exact": "0"})
    assert "Shown here: 0 found the page helpful, 1 did not; 1 left a comment." in text(not_helpful)
    assert "Too many long words." in text(not_helpful) and "Very clear." not in text(not_helpful)

    with_comment = client.get(reverse(CHANGELIST), {"comment": "yes"})
    assert "Shown here: 1 found the page helpful, 2 did not; 3 left a comment." in text(with_comment)


def test_feedback_is_read_only_and_a_reviewer_may_delete_an_answer(answers):
    client = logged_in(reviewer())
    answer = Feedback.objects.get(comment="Very clear.")
    change = reverse("admin:feedback_feedback_change", args=[answer.pk])
    page = client.get(change)
    assert page.status_code == 200 and 'name="comment"' not in page.content.decode()  # shown, not editable
    assert client.post(change, {"page": "/", "helpful": "on", "comment": "Changed."}).status_code == 403
    assert client.get(reverse("admin:feedback_feedback_add")).status_code == 403
    assert Feedback.objects.get(pk=answer.pk).comment == "Very clear."
    delete = reverse("admin:feedback_feedback_delete", args=[answer.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302  # spam, or something personal a reader wrote
    assert not Feedback.objects.filter(pk=answer.pk).exists()


def test_only_staff_with_the_permission_see_feedback(answers, editor, client):
    for who in (logged_in(editor), client):
        response = who.get(reverse(CHANGELIST))
        assert response.status_code in (302, 403)
        assert "Very clear." not in response.content.decode()
    home = logged_in(editor).get(reverse("admin:index"))
    assert home.status_code == 200 and "Reader feedback" not in home.content.decode()


def test_the_admin_home_summarises_feedback_per_page_with_links(answers, editor):
    home = logged_in(reviewer()).get(reverse("admin:index"))
    html = home.content.decode()
    summary = html[html.index('id="feedback-summary"') :]
    summary = summary[: summary.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", summary, flags=re.S)
    cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).split() for row in rows[1:]]
    # Newest feedback first: the drug page, then the overview (yes, no, comments).
    assert cells[0][:3] == ["pemetrexed", "(Alimta®)", "·"] and cells[0][5:8] == ["0", "1", "1"]
    assert cells[1][:2] == ["Stage", "IV"] and cells[1][5:8] == ["2", "1", "2"]
    changelist = reverse(CHANGELIST)
    assert f'href="{changelist}?page=%2Ftreatment%2Fstage-iv%2F"' in summary
    assert f'href="{changelist}?page=%2Ftreatment%2Fstage-iv%2F&amp;comment=yes"' in summary
    assert f'href="{answers["overview"]}"' in summary
    assert "4 answers" in summary
