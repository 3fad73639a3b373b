"""History, compare and edit conflicts in the admin (mesoinfo/admin.py, mesoinfo/concurrency.py), on drafts."""

import pytest
from django.urls import reverse

from editorial.workflow import submit
from mesoinfo.admin import word_diff
from mesoinfo.concurrency import token_of
from references.models import Reference
from tests.factories import make_overview, make_reference, make_section, publish_drafts
from treatments.models import TreatmentOption

pytestmark = pytest.mark.django_db


def section_post(section, **changes):
    data = {
        "overview": section.overview_id, "position": section.position, "modality": section.modality,
        "heading": section.heading, "slug": section.slug, "body": section.body, "drugs": [], "trials": [],
        "trials_caption": "", "version_token": token_of(TreatmentOption.objects.get(pk=section.pk)),
    }  # fmt: skip
    data.update(changes)
    return data


def change_url(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def draft_body(section):
    return TreatmentOption.objects.get(pk=section.pk).draft_revision.data["fields"]["body"]


def test_word_diff_marks_removed_and_added_words_and_escapes():
    html = str(word_diff("Surgery may help <b>breathing</b>.", "Surgery can help <b>breathing</b> a lot."))
    assert "<del>may</del><ins>can</ins>" in html
    assert "&lt;b&gt;breathing&lt;/b&gt;" in html and "<b>" not in html
    assert "&lt;/b&gt;<ins> a lot</ins>." in html


def test_second_save_from_a_stale_form_is_refused_and_keeps_the_text(admin_client):
    section = make_section(make_overview(), body="Original text.")
    opened_by_both = section_post(section)
    first = admin_client.post(change_url(section), {**opened_by_both, "body": "First clinician's text."})
    assert first.status_code == 302

    second = admin_client.post(change_url(section), {**opened_by_both, "body": "Second clinician's careful text."})
    assert second.status_code == 200
    html = second.content.decode()
    assert "Someone else saved this record after you opened it" in html
    assert "Second clinician&#x27;s careful text." in html  # still in the form: nothing lost
    assert draft_body(section) == "First clinician's text."
    section.refresh_from_db()
    assert section.body == "Original text."  # and the live version never changed


def test_conflict_message_names_who_changed_it(client, admin_client, django_user_model):
    other = django_user_model.objects.create_superuser("dr_lee", "lee@example.org", "pw-123456789", first_name="Ann")
    other.last_name = "Lee"
    other.save()
    section = make_section(make_overview())
    stale = section_post(section)
    client.force_login(other)
    assert client.post(change_url(section), {**stale, "body": "Lee's edit."}).status_code == 302
    response = admin_client.post(change_url(section), {**stale, "body": "Mine."})
    assert "Ann Lee" in response.content.decode()


def test_a_form_opened_before_a_publish_is_stale(admin_client, admin_user):
    section = make_section(make_overview(), body="One.")
    admin_client.post(change_url(section), section_post(section, body="Two."))
    stale = section_post(section, body="Three, from a form opened before the publish.")
    publish_drafts(section, by=admin_user)
    response = admin_client.post(change_url(section), stale)
    assert response.status_code == 200 and "Someone else saved this record" in response.content.decode()
    assert TreatmentOption.objects.get(pk=section.pk).body == "Two."


def test_save_from_a_fresh_form_makes_a_new_draft_revision(admin_client):
    reference = make_reference(title="Old title")
    data = {
        "key": reference.key, "authors": reference.authors, "title": "New title", "source": reference.source,
        "year": reference.year, "volume": "", "issue": "", "pages": "", "note": "", "pmid": "", "doi": "",
        "url": "", "version_token": token_of(reference),
    }  # fmt: skip
    assert admin_client.post(change_url(reference), data).status_code == 302
    reference.refresh_from_db()
    assert reference.title == "Old title" and reference.draft_revision.data["fields"]["title"] == "New title"
    # The same (now stale) form again is refused.
    assert admin_client.post(change_url(reference), {**data, "title": "Newer"}).status_code == 200
    assert Reference.objects.get(pk=reference.pk).draft_revision.data["fields"]["title"] == "New title"


def test_admin_edits_are_revisions_with_their_author_and_publishes_are_history(admin_client, admin_user):
    section = make_section(make_overview(), body="Version one.")
    admin_client.post(change_url(section), section_post(section, body="Version two."))
    section.refresh_from_db()
    assert section.draft_revision.created_by == admin_user and section.draft_revision.number == 1
    assert [r.body for r in section.history.order_by("history_date")] == ["Version one."]  # live unchanged
    publish_drafts(section, by=admin_user)
    records = list(section.history.order_by("history_date"))
    assert [r.body for r in records] == ["Version one.", "Version two."]
    assert records[-1].history_user == admin_user and records[-1].history_change_reason == "Published revision 1"
    history_page = admin_client.get(change_url(section).replace("/change/", "/history/"))
    assert history_page.status_code == 200
    assert "Compare selected versions" in history_page.content.decode()
    change_page = admin_client.get(change_url(section)).content.decode()
    assert "Revisions" in change_page and "Live" in change_page


def test_compare_view_shows_word_diff_between_any_two_published_versions(admin_client, admin_user):
    section = make_section(make_overview(), body="Chemotherapy uses drugs.")
    for body in ["Chemotherapy uses medicines.", "Chemotherapy uses strong medicines."]:
        admin_client.post(change_url(section), section_post(section, body=body))
        publish_drafts(section, by=admin_user)
    first, _, last = section.history.order_by("history_date")
    url = reverse("admin:treatments_treatmentoption_history_compare", args=[section.pk])
    html = admin_client.get(url, {"old": first.history_id, "new": last.history_id}).content.decode()
    assert "uses <del>drugs</del><ins>strong medicines</ins>." in html
    # Default: the two newest versions.
    html = admin_client.get(url).content.decode()
    assert "<ins>strong </ins>" in html


def test_revert_in_the_history_view_makes_a_draft_and_never_publishes(admin_client, admin_user):
    section = make_section(make_overview(), body="Good text.")
    admin_client.post(change_url(section), section_post(section, body="Mistaken text."))
    publish_drafts(section, by=admin_user)
    good = section.history.order_by("history_date").first()
    revert_url = reverse("admin:treatments_treatmentoption_simple_history", args=[section.pk, good.history_id])
    form = admin_client.get(revert_url).context["adminform"].form
    data = {name: form.initial.get(name) for name in ["overview", "position", "modality", "heading", "slug", "body"]}
    data.update(drugs=[], trials=[], trials_caption="", version_token=form["version_token"].value())
    assert admin_client.post(revert_url, data).status_code == 302
    section.refresh_from_db()
    assert section.body == "Mistaken text."  # live: unchanged until a reviewer publishes the revert
    assert section.draft_revision.data["fields"]["body"] == "Good text."
    assert section.editorial_state == "Live + draft"
    assert section.history.count() == 2


def test_dashboard_lists_pending_drafts_by_page_and_overdue(admin_client):
    overview = make_overview(title="Waiting page")
    section = make_section(overview, heading="Changed section")
    admin_client.post(change_url(section), section_post(section, body="New words."))
    submit(section)
    overdue = make_section(make_overview(), heading="Old section", review_due="2020-01-01")
    html = admin_client.get(reverse("admin:index")).content.decode()
    dashboard = html[html.index('id="editorial-dashboard"') :]
    assert "Changes waiting to go live (1)" in dashboard
    assert "Waiting page" in dashboard and "Changed section" in dashboard and change_url(section) in dashboard
    assert "Live + in review" in dashboard and "Review this page" in dashboard
    assert "Review overdue (1)" in dashboard and "Old section" in dashboard and change_url(overdue) in dashboard


@pytest.mark.parametrize(("value", "expected"), [("awaiting", ["Waiting"]), ("overdue", ["Overdue"])])
def test_review_list_filter(admin_client, value, expected):
    overview = make_overview()
    waiting = make_section(overview, heading="Waiting")
    admin_client.post(change_url(waiting), {**section_post(waiting, body="Changed."), "submit_for_review": "on"})
    make_section(overview, heading="Overdue", review_due="2020-01-01")
    make_section(overview, heading="Fine", review_due="2999-01-01")
    response = admin_client.get(reverse("admin:treatments_treatmentoption_changelist"), {"review": value})
    shown = [obj.heading for obj in response.context["cl"].result_list]
    assert shown == expected
    assert TreatmentOption.objects.count() == 3


@pytest.mark.parametrize(
    "query", [{"new": "abc"}, {"old": "1; DROP"}, {"new": "١"}, {"old": "-1"}, {"new": "99999999"}]
)
def test_compare_view_answers_404_for_versions_that_are_not_numbers_or_do_not_exist(admin_client, query):
    section = make_section(make_overview(), body="Text.")
    url = reverse("admin:treatments_treatmentoption_history_compare", args=[section.pk])
    assert admin_client.get(url, query).status_code == 404
