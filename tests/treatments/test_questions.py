"""“Questions to ask your care team”: records of their own, edited and reviewed like all content, shown on the
overview page (with a contents entry) only once a medical reviewer published them; seeded from fixtures."""

import re

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from editorial.admin import review_url
from editorial.models import Revision
from editorial.workflow import archive, editing
from mesoinfo.markdown import readability
from pages.models import PageVersion
from tests.factories import make_overview, make_question, make_section, publish_drafts, reviewer
from tests.treatments.test_permissions import assert_saved, form_data
from treatments.models import Overview, Question, Status
from treatments.roles import EDITOR

pytestmark = pytest.mark.django_db

HEADING = "Questions to ask your care team"


def public(url):
    return Client().get(url).content.decode()


def questions_on(html):
    """The questions in the page's "Questions to ask" section, in order ([] without the section)."""
    found = re.search(r'<section id="questions-to-ask".*?</section>', html, flags=re.S)
    if not found:
        return []
    items = re.findall(r"<li>(.*?)</li>", found.group(0), flags=re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", item)).strip() for item in items]


@pytest.fixture
def page():
    overview = make_overview(title="Stage IV", slug="stage-iv")
    make_section(overview, heading="Chemotherapy", slug="chemotherapy", body="Drugs kill cancer cells.")
    return overview


def test_live_questions_show_in_order_with_a_heading_and_a_contents_entry(page):
    make_question(page, text="Who should I call with new symptoms?", position=2)
    make_question(page, text="What is the goal of my treatment?", position=1)
    html = public(page.get_absolute_url())
    assert questions_on(html) == ["What is the goal of my treatment?", "Who should I call with new symptoms?"]
    assert f'<h2 id="questions-to-ask-heading">{HEADING}</h2>' in html
    start = html.index('<nav class="toc"')
    toc = html[start : html.index("</nav>", start)]
    assert f'<li><a href="#questions-to-ask">{HEADING}</a></li>' in toc
    assert toc.index("#chemotherapy") < toc.index("#questions-to-ask")  # after the sections, as on the page


def test_a_page_without_live_questions_has_no_such_section_or_entry(page):
    make_question(page, text="A draft question?", status=Status.DRAFT)
    html = public(page.get_absolute_url())
    assert HEADING not in html and "A draft question?" not in html and 'id="questions-to-ask"' not in html


def test_a_new_question_reaches_patients_only_when_a_reviewer_publishes_it(page, admin_user):
    url = page.get_absolute_url()
    make_question(page, text="What is the goal of my treatment?", position=1)
    before = public(url)
    with editing(None) as session:
        Question.objects.create(overview=page, text="Is there a clinical trial I could join?", position=99)
    (draft,) = session.revisions
    question = Question.objects.get(text="Is there a clinical trial I could join?")
    assert question.status == Status.DRAFT and draft.state == Revision.State.DRAFT
    assert public(url) == before  # patients: unchanged, from the stored page

    staff = Client()
    staff.force_login(admin_user)
    preview = staff.get(url)
    assert (
        questions_on(preview.content.decode())[-1]
        == "Is there a clinical trial I could join? Not yet live — not public"
    )
    assert "no-store" in preview["Cache-Control"]

    versions = PageVersion.objects.filter(page__path=url).count()
    publish_drafts(question)
    after = public(url)
    assert questions_on(after) == ["What is the goal of my treatment?", "Is there a clinical trial I could join?"]
    assert PageVersion.objects.filter(page__path=url).count() == versions + 1  # the stored page was re-rendered
    assert PageVersion.objects.filter(page__path=url).order_by("-number").first().content.html == after.encode()


def test_an_edited_question_stays_as_reviewed_until_published_and_can_be_taken_off(page):
    url = page.get_absolute_url()
    question = make_question(page, text="What is the goal of my treatment?")
    public(url)
    with editing(None, question) as session:
        session.record.text = "What are the aims of my treatment?"
        session.record.save()
    assert questions_on(public(url)) == ["What is the goal of my treatment?"]
    publish_drafts(question)
    assert questions_on(public(url)) == ["What are the aims of my treatment?"]
    archive(Question.objects.get(pk=question.pk), reviewer("dr-off"))
    assert questions_on(public(url)) == [] and HEADING not in public(url)


def test_last_updated_counts_a_published_question(page):
    make_question(page, text="What is the goal of my treatment?")
    question = make_question(page, text="What happens if this treatment stops working?", status=Status.DRAFT)
    publish_drafts(question)
    question.refresh_from_db()
    html = public(page.get_absolute_url())
    assert f'<time datetime="{question.last_published_at:%Y-%m-%dT%H:%M:%S%z}">' in html


def test_editors_add_questions_on_the_overview_form_as_drafts_that_the_page_review_lists(page, django_user_model):
    editor = django_user_model.objects.create_user("ed", None, None, is_staff=True)
    editor.groups.add(Group.objects.get(name=EDITOR))
    client = Client()
    client.force_login(editor)
    change = reverse("admin:treatments_overview_change", args=[page.pk])
    form = client.get(change)
    assert "Questions to ask" in form.content.decode()
    added = {
        "questions-TOTAL_FORMS": 1, "questions-0-overview": page.pk, "questions-0-position": 1,
        "questions-0-text": "What side effects could I have?",
    }  # fmt: skip
    assert_saved(client.post(change, form_data(form, **added)))
    question = Question.objects.get(text="What side effects could I have?")
    assert question.status == Status.DRAFT and question.draft_revision.created_by == editor
    assert questions_on(public(page.get_absolute_url())) == []

    boss = reviewer("dr-questions")
    client.force_login(boss)
    screen = client.get(review_url(page, page=page.get_absolute_url()))
    assert [change["record"] for change in screen.context["pending"]] == [question]
    publish_drafts(question, by=boss)
    assert questions_on(public(page.get_absolute_url())) == ["What side effects could I have?"]


# --- the seed -------------------------------------------------------------------------------------------------

SEED_QUESTIONS = 8


def test_the_seed_questions_load_with_plain_loaddata_and_show_on_the_seed_page():
    call_command("loaddata", "seed", verbosity=0)
    overview = Overview.objects.get(slug="stage-iv-recurrent-pleural-mesothelioma")
    questions = list(overview.questions.all())
    assert len(questions) == SEED_QUESTIONS and all(q.status == Status.PUBLISHED for q in questions)
    shown = questions_on(public(overview.get_absolute_url()))
    assert shown == [q.text for q in questions]
    topics = " ".join(shown).lower()
    for topic in ["goal", "side effects", "clinical trial", "supportive care", "stops working", "call"]:
        assert topic in topics, topic


def test_the_seed_questions_are_plain_questions_without_claims():
    call_command("loaddata", "seed", verbosity=0)
    texts = list(Question.objects.values_list("text", flat=True))
    assert 6 <= len(texts) <= 8
    for text in texts:
        assert text.endswith("?") and text.count("?") == 1, text
        assert not re.search(r"\d|%|\[@", text), text  # no figures, no citations: nothing to source
    report = readability(" ".join(texts))
    assert report.grade <= 8, report


def test_load_seed_gives_the_questions_their_first_live_version_and_history():
    call_command("load_seed", verbosity=0)
    for question in Question.objects.all():
        assert question.live_revision is not None and question.live_revision.state == Revision.State.PUBLISHED
        assert question.last_published_at is not None and question.history.count() == 1


def test_a_question_changed_on_the_overview_form_with_the_box_ticked_goes_for_review(page, django_user_model):
    question = make_question(page, text="What is the goal of my treatment?")
    editor = django_user_model.objects.create_user("ed", None, None, is_staff=True)
    editor.groups.add(Group.objects.get(name=EDITOR))
    client = Client()
    client.force_login(editor)
    change = reverse("admin:treatments_overview_change", args=[page.pk])
    changes = {"questions-0-text": "What are the aims of my treatment?", "submit_for_review": "on"}
    assert_saved(client.post(change, form_data(client.get(change), **changes)))
    question.refresh_from_db()
    assert question.draft_revision.state == Revision.State.IN_REVIEW
    assert Overview.objects.get(pk=page.pk).draft_revision is None  # the page's own text did not change
    assert question.text == "What is the goal of my treatment?"  # live until a reviewer publishes it
