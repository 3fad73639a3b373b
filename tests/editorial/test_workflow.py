"""The editorial workflow's named steps (editorial/workflow.py): drafts beside the live version, review pinned
to a revision, publishing exactly what was approved, links that must be live, revert and archive."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from editorial import registry
from editorial.models import Revision, Status
from editorial.workflow import (
    PublishRefused,
    StaleRevision,
    WorkflowError,
    approve,
    archive,
    editing,
    ensure_draft,
    revert,
    revisions_of,
    send_back,
    submit,
)
from tests.factories import (
    make_drug,
    make_overview,
    make_reference,
    make_regimen,
    make_section,
    make_trial,
    publish_drafts,
    reviewer,
)
from treatments.models import Drug, GlossaryTerm, Overview, TreatmentOption, Trial, TrialOutcome

pytestmark = pytest.mark.django_db
State = Revision.State


def public(url):
    response = Client().get(url)
    return response.status_code, response.content.decode()


def edit(record, user=None, **fields):
    with editing(user, record) as session:
        for name, value in fields.items():
            setattr(session.record, name, value)
        session.record.save()
    return session.revisions[0] if session.revisions else None


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def test_a_draft_leaves_the_live_version_and_the_public_page_alone():
    overview = make_overview(intro="Reviewed words.")
    revision = edit(overview, intro="Unreviewed words.")
    assert (revision.number, revision.state) == (1, State.DRAFT)
    assert fresh(overview).intro == "Reviewed words." and fresh(overview).draft_revision == revision
    status, html = public(overview.get_absolute_url())
    assert status == 200 and "Reviewed words." in html and "Unreviewed" not in html
    assert fresh(overview).editorial_state == "Live + draft"


def test_each_save_is_a_new_revision_and_one_working_draft():
    drug = make_drug(how_it_works="One.")
    first = edit(drug, how_it_works="Two.")
    second = edit(drug, how_it_works="Three.")
    assert second.number == first.number + 1
    assert fresh(first).state == State.SUPERSEDED and fresh(drug).draft_revision == second
    assert revisions_of(drug).filter(state__in=Revision.WORKING).count() == 1


def test_saving_what_is_live_again_leaves_no_draft():
    drug = make_drug(how_it_works="Live.")
    edit(drug, how_it_works="Changed.")
    assert edit(drug, how_it_works="Live.") is None
    assert fresh(drug).draft_revision is None and fresh(drug).editorial_state == "Live"


def test_a_change_after_submitting_stays_in_review_and_the_reviewer_must_approve_the_newer_one():
    trial = make_trial(summary="Old.")
    edit(trial, summary="Sent.")
    sent = submit(trial)
    assert sent.state == State.IN_REVIEW and fresh(trial).editorial_state == "Live + in review"
    newer = edit(trial, summary="Changed after sending.")
    assert newer.state == State.IN_REVIEW and newer.submitted_at == sent.submitted_at
    with pytest.raises(StaleRevision, match=f"revision {newer.number}"):
        approve([sent], reviewer())
    assert fresh(trial).summary == "Old."
    approve([newer], reviewer("dr-two"))
    assert fresh(trial).summary == "Changed after sending."


def test_what_goes_live_is_exactly_the_approved_revision_with_its_parts():
    drug = make_drug()
    trial = make_trial(outcomes=[("Alive at 1 year", "all", "42%", True)])
    with editing(None, trial) as session:
        session.record.title = "A renamed trial"
        session.record.save()
        session.record.drugs.add(drug)
        session.record.outcomes.filter(measure="Alive at 1 year").update(value="43%")
        TrialOutcome.objects.create(trial=session.record, measure="Stable disease", value="35 of 81", position=2)
    assert list(fresh(trial).outcomes.values_list("value", flat=True)) == ["42%"]  # live: untouched
    assert not fresh(trial).drugs.exists()
    (revision,) = session.revisions
    user = reviewer()
    approve([revision], user)
    trial = fresh(trial)
    assert registry.snapshot(trial) == revision.data
    assert trial.title == "A renamed trial" and list(trial.drugs.all()) == [drug]
    assert list(trial.outcomes.values_list("measure", "value")) == [
        ("Alive at 1 year", "43%"),
        ("Stable disease", "35 of 81"),
    ]
    assert trial.reviewed_by == user and trial.live_revision == revision and trial.draft_revision is None
    assert fresh(revision).state == State.PUBLISHED
    status, html = public(trial.get_absolute_url())
    assert "A renamed trial" in html and "35 of 81" in html


def test_a_new_record_is_a_draft_until_its_first_publication():
    with editing(None) as session:
        drug = Drug.objects.create(generic_name="newumab", slug="newumab", how_it_works="New text.")
    drug = fresh(drug)
    assert drug.status == Status.DRAFT and drug.editorial_state == "Draft"
    assert drug.draft_revision == session.revisions[0] and drug.how_it_works == "New text."
    assert public(drug.get_absolute_url())[0] == 404
    assert "newumab" not in public("/drugs/")[1]
    publish_drafts(drug)
    assert public(drug.get_absolute_url())[0] == 200 and fresh(drug).editorial_state == "Live"


def test_nothing_changes_when_the_block_fails():
    overview = make_overview(intro="Kept.")
    with pytest.raises(RuntimeError), editing(None, overview) as session:
        session.record.intro = "Half-done."
        session.record.save()
        raise RuntimeError
    assert fresh(overview).intro == "Kept." and fresh(overview).draft_revision is None
    assert not Revision.objects.exists()


def test_send_back_needs_a_comment_that_the_editor_then_sees(admin_client):
    section = make_section(make_overview())
    edit(section, body="Needs work.")
    revision = submit(section)
    with pytest.raises(WorkflowError, match="comment"):
        send_back(revision, reviewer(), "  ")
    send_back(revision, reviewer("dr-b"), "Please cite the source for this figure.")
    assert fresh(revision).state == State.DRAFT and fresh(section).editorial_state == "Live + draft"
    page = admin_client.get(f"/admin/treatments/treatmentoption/{section.pk}/change/").content.decode()
    assert "Please cite the source for this figure." in page and "Sent back by dr-b" in page


def test_only_a_medical_reviewer_approves_sends_back_or_archives(django_user_model):
    from django.contrib.auth.models import Group

    editor = django_user_model.objects.create_user("ed", is_staff=True)
    editor.groups.add(Group.objects.get(name="Editor"))
    drug = make_drug()
    revision = edit(drug, editor, how_it_works="An editor's text.")
    for step in (
        lambda: approve([revision], editor),
        lambda: send_back(revision, editor, "no"),
        lambda: archive(drug, editor),
    ):
        with pytest.raises(PermissionDenied):
            step()
    assert fresh(drug).how_it_works == "" and fresh(drug).status == Status.PUBLISHED


def test_a_view_only_user_cannot_save_a_draft(django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_drug"))
    drug = make_drug()
    with pytest.raises(PermissionDenied):
        edit(drug, viewer, how_it_works="Not allowed.")
    assert fresh(drug).draft_revision is None


def test_publishing_is_refused_while_a_live_page_would_link_content_that_is_not_live():
    overview = make_overview()
    section = make_section(overview)
    draft_reference = make_reference(key="new-study-2024", status=Status.DRAFT)
    draft_trial = make_trial(status=Status.DRAFT, title="An unpublished trial")
    with editing(None, section) as session:
        session.record.body = "A new fact [@new-study-2024]."
        session.record.save()
        session.record.trials.add(draft_trial)
    with pytest.raises(PublishRefused) as refused:
        publish_drafts(section)
    message = str(refused.value)
    assert "new-study-2024" in message and "An unpublished trial" in message and "not live" in message
    assert fresh(section).body != "A new fact [@new-study-2024]."  # nothing was published
    publish_drafts(section, draft_reference, draft_trial)  # together, in one step
    assert fresh(section).body == "A new fact [@new-study-2024]."
    assert all(fresh(obj).status == Status.PUBLISHED for obj in (section, draft_reference, draft_trial))


def test_a_regimen_and_its_drugs_must_be_live_with_the_trial():
    new_drug = make_drug(status=Status.DRAFT, generic_name="brandnewmab")
    regimen = make_regimen(new_drug, status=Status.DRAFT)
    trial = make_trial()
    edit(trial, regimen=regimen)
    with pytest.raises(PublishRefused, match="brandnewmab|regimen"):
        publish_drafts(trial)
    with pytest.raises(PublishRefused, match="brandnewmab"):
        publish_drafts(trial, regimen)
    publish_drafts(trial, regimen, new_drug)
    assert fresh(trial).regimen == regimen


def test_archiving_is_refused_while_live_content_shows_it_and_takes_it_off_the_site_otherwise():
    drug = make_drug(slug="used-drug")
    section = make_section(make_overview())
    section.drugs.add(drug)
    with pytest.raises(WorkflowError, match="still shown"):
        archive(drug, reviewer())
    section.drugs.clear()
    archive(drug, reviewer("dr-c"))
    assert fresh(drug).status == Status.ARCHIVED and public(drug.get_absolute_url())[0] == 404


def test_revert_makes_a_new_draft_from_an_old_revision_and_never_publishes():
    glossary_term = GlossaryTerm.objects.create(term="pleura", slug="pleura", definition="Old.", status="published")
    edit(glossary_term, definition="First reviewed change.")
    publish_drafts(glossary_term)
    first_live = fresh(glossary_term).live_revision
    edit(glossary_term, definition="Second change.")
    publish_drafts(glossary_term)
    draft = revert(glossary_term, first_live)
    assert draft.based_on == first_live and draft.state == State.DRAFT
    assert draft.data["fields"]["definition"] == "First reviewed change."
    assert fresh(glossary_term).definition == "Second change."
    assert "Second change." in public("/glossary/")[1]


def test_a_section_added_on_its_page_is_a_draft_of_its_own():
    overview = make_overview()
    with editing(None, overview) as session:
        TreatmentOption.objects.create(
            overview=session.record, modality="surgery", heading="Surgery", slug="surgery", body="x"
        )
    section = TreatmentOption.objects.get(slug="surgery")
    assert section.status == Status.DRAFT and section.draft_revision is not None
    assert "Surgery" not in public(overview.get_absolute_url())[1]
    assert fresh(overview).draft_revision is None  # the page itself did not change


def test_deleting_inside_an_edit_is_refused():
    section = make_section(make_overview())
    with pytest.raises(WorkflowError, match="deleted"), editing(None, section.overview) as session:
        TreatmentOption.objects.filter(pk=section.pk).delete()
        assert session.record
    assert TreatmentOption.objects.filter(pk=section.pk).exists()


def test_records_loaded_without_revisions_get_one_when_reviewed():
    reference = make_reference(status=Status.DRAFT)
    assert reference.draft_revision is None
    revision = ensure_draft(reference)
    assert revision.number == 1 and fresh(reference).draft_revision == revision
    approve([revision], reviewer())
    assert fresh(reference).status == Status.PUBLISHED


def test_live_pages_never_show_content_that_is_not_live(client):
    overview = make_overview()
    assert Overview.objects.published().filter(pk=overview.pk).exists()
    hidden = make_trial(status=Status.ARCHIVED, title="An archived trial")
    assert not Trial.objects.published().filter(pk=hidden.pk).exists()
    assert "An archived trial" not in client.get("/trials/").content.decode()


def test_a_reviewer_records_a_review_of_live_content_without_changing_it():
    from editorial.workflow import mark_reviewed

    overview = make_overview(intro="Still right.")
    assert "Not yet medically reviewed" in public(overview.get_absolute_url())[1]
    user = reviewer()
    from treatments.models import ReviewerProfile

    ReviewerProfile.objects.create(user=user, display_name="Jane Doe", credentials="MD", status="published")
    mark_reviewed([overview], user)
    overview = fresh(overview)
    assert overview.reviewed_by == user and overview.review_due is not None and overview.draft_revision is None
    html = public(overview.get_absolute_url())[1]
    assert "Medically reviewed by Jane Doe, MD" in html and "Still right." in html
    with pytest.raises(WorkflowError, match="not live"):
        mark_reviewed([make_drug(status=Status.DRAFT)], user)
