"""Scheduled go-live (editorial.workflow.approve(go_live_at=…), publish_due, the page cache), with a frozen clock."""

import datetime

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from editorial.models import Revision, Status
from editorial.workflow import approve, editing, ensure_draft, send_back
from tests.factories import make_drug, make_overview, make_section, reviewer
from treatments.models import PageCacheGeneration

pytestmark = pytest.mark.django_db
State = Revision.State
NOON = datetime.datetime(2027, 3, 3, 12, 0, tzinfo=datetime.UTC)


def draft_of(record, **fields):
    with editing(None, record) as session:
        for name, value in fields.items():
            setattr(session.record, name, value)
        session.record.save()
    return session.revisions[0]


def page(url):
    return Client().get(url).content.decode()


def test_a_scheduled_change_goes_live_on_time_and_no_cached_page_shows_the_old_state():
    with time_machine.travel(NOON, tick=False) as clock:
        overview = make_overview(intro="Old words.")
        section = make_section(overview, body="Old section words.")
        url = overview.get_absolute_url()
        revisions = [draft_of(overview, intro="New words."), draft_of(section, body="New section words.")]
        approve(revisions, reviewer(), go_live_at=NOON + datetime.timedelta(hours=2))
        assert all(r.state == State.SCHEDULED for r in Revision.objects.filter(pk__in=[r.pk for r in revisions]))
        assert PageCacheGeneration.objects.get().next_go_live == NOON + datetime.timedelta(hours=2)
        html = page(url)  # now cached
        assert "Old words." in html and "Old section words." in html
        clock.move_to(NOON + datetime.timedelta(hours=1, minutes=59, seconds=59))
        assert "Old words." in page(url)  # a second early: still the live version
        clock.move_to(NOON + datetime.timedelta(hours=2))
        html = page(url)  # the very first request at go-live publishes both, together
        assert "New words." in html and "New section words." in html and "Old words." not in html
        overview.refresh_from_db()
        assert overview.status == Status.PUBLISHED and overview.last_published_at == NOON + datetime.timedelta(hours=2)
        assert PageCacheGeneration.objects.get().next_go_live is None


def test_first_publication_can_be_scheduled_and_lists_show_it_on_time():
    with time_machine.travel(NOON, tick=False) as clock:
        drug = make_drug(status=Status.DRAFT, generic_name="laterumab", slug="laterumab")
        approve([ensure_draft(drug)], reviewer(), go_live_at=NOON + datetime.timedelta(days=1))
        assert "laterumab" not in page("/drugs/")
        assert Client().get(drug.get_absolute_url()).status_code == 404
        clock.move_to(NOON + datetime.timedelta(days=1, seconds=1))
        assert "laterumab" in page("/drugs/")
        assert "laterumab" in page("/sitemap-drugs.xml")


def test_publish_scheduled_command_publishes_what_is_due(capsys):
    with time_machine.travel(NOON, tick=False) as clock:
        drug = make_drug(how_it_works="Before.")
        approve([draft_of(drug, how_it_works="After.")], reviewer(), go_live_at=NOON + datetime.timedelta(minutes=5))
        call_command("publish_scheduled")
        assert "Nothing was due" in capsys.readouterr().out
        clock.move_to(NOON + datetime.timedelta(minutes=5))
        call_command("publish_scheduled")
        assert "Published 1 scheduled change" in capsys.readouterr().out
        drug.refresh_from_db()
        assert drug.how_it_works == "After." and drug.draft_revision is None


def test_an_edit_after_approval_cancels_the_schedule_and_goes_back_to_review():
    with time_machine.travel(NOON, tick=False) as clock:
        drug = make_drug(how_it_works="Live.")
        approve([draft_of(drug, how_it_works="Approved.")], reviewer(), go_live_at=NOON + datetime.timedelta(hours=1))
        newer = draft_of(drug, how_it_works="Changed after approval.")
        assert newer.state == State.IN_REVIEW
        assert PageCacheGeneration.objects.get().next_go_live is None
        clock.move_to(NOON + datetime.timedelta(hours=2))
        page(drug.get_absolute_url())
        drug.refresh_from_db()
        assert drug.how_it_works == "Live."  # nothing unseen by a reviewer went live


def test_sending_back_a_scheduled_change_cancels_it():
    with time_machine.travel(NOON, tick=False) as clock:
        drug = make_drug(how_it_works="Live.")
        revision = draft_of(drug, how_it_works="Approved.")
        user = reviewer()
        approve([revision], user, go_live_at=NOON + datetime.timedelta(hours=1))
        send_back(revision, user, "Wait for the new data.")
        clock.move_to(NOON + datetime.timedelta(hours=2))
        assert "Approved." not in page(drug.get_absolute_url())
        drug.refresh_from_db()
        assert drug.how_it_works == "Live." and PageCacheGeneration.objects.get().next_go_live is None


def test_a_scheduled_change_that_can_no_longer_go_live_returns_to_review_with_the_reason():
    with time_machine.travel(NOON, tick=False) as clock:
        overview = make_overview()
        section = make_section(overview)
        drug = make_drug(generic_name="soonumab")
        with editing(None, section) as session:
            session.record.drugs.add(drug)
        approve(session.revisions, reviewer(), go_live_at=NOON + datetime.timedelta(hours=1))
        drug.status = Status.ARCHIVED  # taken off the site meanwhile
        drug.save()
        clock.move_to(NOON + datetime.timedelta(hours=1))
        page(overview.get_absolute_url())
        revision = Revision.objects.get(pk=session.revisions[0].pk)
        assert revision.state == State.IN_REVIEW and "Could not go live" in revision.comment
        assert "soonumab" in revision.comment
        assert not section.__class__.objects.get(pk=section.pk).drugs.exists()


def test_the_review_screen_schedules_with_a_go_live_time(client, admin_user):
    with time_machine.travel(NOON, tick=False):
        client.force_login(admin_user)  # a session started before the clock moved would have expired
        admin_client = client
        drug = make_drug(how_it_works="Live.")
        revision = draft_of(drug, how_it_works="Reviewed later.")
        url = f"/admin/editorial/revision/review/?records=treatments.drug:{drug.pk}"
        past = admin_client.post(
            url,
            {
                "revision": [revision.pk],
                "action": "schedule",
                "minor": "on",
                "go_live_at_0": "2027-03-03",
                "go_live_at_1": "11:00",
            },
        )
        assert past.status_code == 200 and "Choose a go-live time in the future" in past.content.decode()
        assert Revision.objects.get(pk=revision.pk).state == State.DRAFT
        response = admin_client.post(
            url,
            {
                "revision": [revision.pk],
                "action": "schedule",
                "minor": "on",
                "go_live_at_0": "2027-03-04",
                "go_live_at_1": "09:30",
            },
        )
        assert response.status_code == 302
        revision.refresh_from_db()
        assert revision.state == State.SCHEDULED
        assert revision.go_live_at == datetime.datetime(2027, 3, 4, 9, 30, tzinfo=datetime.UTC)
        assert timezone.now() == NOON
