"""Who may do what in the editorial workflow: a permission matrix driven through the admin.

Roles: an editor (group "Editor"), a medical reviewer (group "Medical reviewer"), a superuser and a
staff user in no group. Every case asserts what ends up in the database, not only the status code.
"""

import datetime

import pytest
from django import forms
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_drug, make_overview, make_section, make_trial
from treatments.models import (
    REVIEW_INTERVAL,
    Drug,
    NextLink,
    Overview,
    Status,
    TreatmentOption,
    Trial,
    TrialOutcome,
)
from treatments.roles import ensure_editorial_groups

pytestmark = pytest.mark.django_db

EDITOR, REVIEWER, SUPERUSER, NO_GROUP = "editor", "reviewer", "superuser", "no_group"
ROLES = [EDITOR, REVIEWER, SUPERUSER, NO_GROUP]
CAN_EDIT = {EDITOR, REVIEWER, SUPERUSER}
CAN_PUBLISH = {REVIEWER, SUPERUSER}
PUBLISHABLE = [Overview, TreatmentOption, Drug, Trial]
# A Markdown or plain-text field of each model that its public page shows.
TEXT_FIELD = {Overview: "summary", TreatmentOption: "body", Drug: "how_it_works", Trial: "summary"}
REVERTED = "Reverted to an earlier version"


# --- users and clients -------------------------------------------------------------------------


@pytest.fixture
def users(django_user_model):
    def staff(username, *group_names):
        # No password (fast to create): the tests log in with force_login.
        user = django_user_model.objects.create_user(username, f"{username}@example.org", None)
        user.is_staff = True
        user.save()
        for name in group_names:
            user.groups.add(Group.objects.get(name=name))
        return user

    return {
        EDITOR: staff("ed", "Editor"),
        REVIEWER: staff("dr_rev", "Medical reviewer"),
        SUPERUSER: django_user_model.objects.create_superuser("root", "root@example.org", None),
        NO_GROUP: staff("nobody"),
    }


@pytest.fixture
def client_as(users):
    def login(role):
        client = Client()
        client.force_login(users[role])
        return client

    return login


# --- content -----------------------------------------------------------------------------------


def make(model, **fields):
    if model is Overview:
        return make_overview(**fields)
    if model is TreatmentOption:
        return make_section(make_overview(), **fields)
    if model is Drug:
        return make_drug(**fields)
    return make_trial(**fields)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def shown_publicly(obj):
    """Whether an anonymous visitor sees `obj`, with its current text, on its public page."""
    obj = fresh(obj)
    page_url = obj.overview.get_absolute_url() if isinstance(obj, TreatmentOption) else obj.get_absolute_url()
    response = Client().get(page_url)
    return response.status_code == 200 and getattr(obj, TEXT_FIELD[type(obj)]) in response.content.decode()


def admin_url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


def history_url(obj, record):
    return admin_url(type(obj), "simple_history", obj.pk, record.history_id)


# --- posting admin forms as a browser would -------------------------------------------------------


def _field_data(form, name):
    """POST items for one form field, from the value the form was opened with."""
    bound, field = form[name], form.fields[name]
    value, key = bound.value(), bound.html_name
    widget = getattr(field.widget, "widget", field.widget)  # unwrap the admin's related-field wrapper
    if isinstance(widget, forms.MultiWidget):  # split date and time
        parts = widget.decompress(value)
        return {
            f"{key}{suffix}": "" if part is None else str(part)
            for suffix, part in zip(widget.widgets_names, parts, strict=True)
        }
    if isinstance(field, forms.BooleanField):
        return {key: "on"} if value else {}
    if isinstance(value, list | tuple):
        return {key: [str(item) for item in value]}
    return {key: "" if value is None else value}


def form_data(response, **changes):
    """Everything a browser would POST back from an admin change (or revert) page, plus `changes`.

    `changes` use the POST names, e.g. title="…", **{"sections-0-status": "published"}. A value of
    None removes the item (an unticked checkbox).
    """
    assert response.status_code == 200, response.status_code
    forms_to_send = [response.context["adminform"].form]
    data = {}
    for inline in response.context.get("inline_admin_formsets", []):
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        forms_to_send += formset.forms
    for form in forms_to_send:
        for name in form.fields:
            data.update(_field_data(form, name))
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def assert_saved(response):
    """A successful admin save redirects; otherwise show why the form was refused."""
    if response.status_code == 200 and response.context and "adminform" in response.context:
        errors = response.context["adminform"].form.errors
        inline_errors = [fs.formset.errors for fs in response.context.get("inline_admin_formsets", [])]
        pytest.fail(f"form refused: {errors.as_data()} {inline_errors}")
    assert response.status_code == 302, response.status_code


def open_and_post(client, url, opener=None, **changes):
    """GET `url` (as `opener`, when `client` may not open it) and POST it back with `changes` as `client`."""
    page = (opener or client).get(url)
    return client.post(url, form_data(page, **changes))


def run_action(client, obj, action):
    return client.post(admin_url(type(obj), "changelist"), {"action": action, "_selected_action": [obj.pk]})


def assert_published_by(obj, user):
    obj = fresh(obj)
    today = timezone.localdate()
    assert obj.status == Status.PUBLISHED
    assert obj.reviewed_by == user
    assert obj.reviewed_on == today
    assert obj.review_due == today + REVIEW_INTERVAL == today + datetime.timedelta(days=365)
    assert obj.last_published_at is not None
    assert abs(obj.last_published_at - timezone.now()) < datetime.timedelta(minutes=5)


def assert_not_published(obj):
    obj = fresh(obj)
    assert obj.status != Status.PUBLISHED
    assert obj.reviewed_by is None and obj.reviewed_on is None and obj.last_published_at is None


# --- viewing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", PUBLISHABLE)
@pytest.mark.parametrize(("role", "expected"), [(EDITOR, 200), (REVIEWER, 200), (SUPERUSER, 200), (NO_GROUP, 403)])
def test_view_draft_in_admin(client_as, model, role, expected):
    obj = make(model, status=Status.DRAFT)
    response = client_as(role).get(admin_url(model, "change", obj.pk))
    assert response.status_code == expected
    if expected == 200:
        assert response.context["original"] == obj
        assert getattr(obj, TEXT_FIELD[model]) in response.content.decode()


@pytest.mark.parametrize(("role", "status_editable"), [(EDITOR, False), (REVIEWER, True), (SUPERUSER, True)])
def test_status_and_review_due_are_read_only_without_publish_permission(client_as, role, status_editable):
    overview = make_overview(status=Status.DRAFT)
    make_section(overview, status=Status.DRAFT)
    response = client_as(role).get(admin_url(Overview, "change", overview.pk))
    form = response.context["adminform"].form
    assert ("status" in form.fields) is status_editable
    assert ("review_due" in form.fields) is status_editable
    assert "reviewed_by" not in form.fields and "last_published_at" not in form.fields
    (sections,) = [fs for fs in response.context["inline_admin_formsets"] if fs.formset.model is TreatmentOption]
    assert ("status" in sections.formset.forms[0].fields) is status_editable
    publish_actions = {"publish_selected", "archive_selected", "return_to_draft"}
    changelist = client_as(role).get(admin_url(Overview, "changelist"))
    offered = {name for name, _label in changelist.context["action_form"].fields["action"].choices}
    assert "send_for_review" in offered
    assert (publish_actions <= offered) is status_editable
    assert not (publish_actions & offered) or status_editable


# --- editing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", PUBLISHABLE)
@pytest.mark.parametrize("role", ROLES)
def test_edit_draft(client_as, model, role):
    obj = make(model, status=Status.DRAFT)
    field = TEXT_FIELD[model]
    url = admin_url(model, "change", obj.pk)
    opener = client_as(SUPERUSER) if role == NO_GROUP else None
    response = open_and_post(client_as(role), url, opener=opener, **{field: "Edited plain words."})
    after = fresh(obj)
    if role in CAN_EDIT:
        assert_saved(response)
        assert getattr(after, field) == "Edited plain words."
        assert after.status == Status.DRAFT  # an edit alone never moves a draft on
        assert after.version == obj.version + 1
        assert after.history.order_by("-history_date", "-history_id").first().history_type == "~"
    else:
        assert response.status_code == 403
        assert getattr(after, field) == getattr(obj, field) and after.version == obj.version


@pytest.mark.parametrize("model", PUBLISHABLE)
@pytest.mark.parametrize("role", ROLES)
def test_edit_without_current_version_token_is_refused(client_as, model, role):
    obj = make(model, status=Status.DRAFT)
    url = admin_url(model, "change", obj.pk)
    opener = client_as(SUPERUSER) if role == NO_GROUP else None
    response = open_and_post(
        client_as(role), url, opener=opener, version_token=obj.version - 1, **{TEXT_FIELD[model]: "Lost?"}
    )
    assert response.status_code == (200 if role in CAN_EDIT else 403)
    assert getattr(fresh(obj), TEXT_FIELD[model]) == getattr(obj, TEXT_FIELD[model])


# --- sending for review ------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["checkbox", "send_for_review action"])
@pytest.mark.parametrize("model", PUBLISHABLE)
@pytest.mark.parametrize("role", ROLES)
def test_submit_draft_for_review(client_as, users, model, role, route):
    obj = make(model, status=Status.DRAFT)
    client = client_as(role)
    if route == "checkbox":
        opener = client_as(SUPERUSER) if role == NO_GROUP else None
        response = open_and_post(client, admin_url(model, "change", obj.pk), opener=opener, submit_for_review="on")
    else:
        response = run_action(client, obj, "send_for_review")
    after = fresh(obj)
    if role in CAN_EDIT:
        assert response.status_code == 302
        assert after.status == Status.IN_REVIEW
        assert after.reviewed_by is None  # sending for review is not a review
        assert after.history.order_by("-history_date", "-history_id").first().history_user == users[role]
    else:
        assert response.status_code == 403
        assert after.status == Status.DRAFT


@pytest.mark.parametrize("role", [EDITOR, REVIEWER, SUPERUSER])
def test_send_for_review_action_leaves_published_content_alone(client_as, role):
    drug = make_drug(status=Status.PUBLISHED)
    run_action(client_as(role), drug, "send_for_review")
    assert fresh(drug).status == Status.PUBLISHED


# --- publishing: every route, every role ---------------------------------------------------------


@pytest.mark.parametrize("model", PUBLISHABLE)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("start", [Status.DRAFT, Status.IN_REVIEW])
def test_publish_via_change_form_status(client_as, users, model, role, start):
    obj = make(model, status=start)
    # An editor's form has no status field: the POST carries one anyway, as a tampered request would.
    opener = client_as(SUPERUSER) if role == NO_GROUP else None
    response = open_and_post(client_as(role), admin_url(model, "change", obj.pk), opener=opener, status="published")
    if role in CAN_PUBLISH:
        assert_saved(response)
        assert_published_by(obj, users[role])
        assert shown_publicly(obj)
    else:
        assert response.status_code == (403 if role == NO_GROUP else 302)
        assert_not_published(obj)
        assert fresh(obj).status == start
        assert not shown_publicly(obj)


@pytest.mark.parametrize("model", PUBLISHABLE)
@pytest.mark.parametrize("role", ROLES)
def test_publish_via_changelist_action(client_as, users, model, role):
    obj = make(model, status=Status.IN_REVIEW)
    response = run_action(client_as(role), obj, "publish_selected")
    if role in CAN_PUBLISH:
        assert response.status_code == 302
        assert_published_by(obj, users[role])
        record = fresh(obj).history.order_by("-history_date", "-history_id").first()
        assert record.history_change_reason == "published after medical review"
        assert record.history_user == users[role]
    else:
        assert response.status_code == (403 if role == NO_GROUP else 302)
        assert_not_published(obj)
        assert fresh(obj).status == Status.IN_REVIEW


@pytest.mark.parametrize("role", ROLES)
def test_publish_section_via_overview_inline(client_as, users, role):
    overview = make_overview(status=Status.PUBLISHED)
    section = make_section(overview, status=Status.IN_REVIEW, heading="Inline section")
    opener = client_as(SUPERUSER) if role == NO_GROUP else None
    response = open_and_post(
        client_as(role), admin_url(Overview, "change", overview.pk), opener=opener, **{"sections-0-status": "published"}
    )
    if role in CAN_PUBLISH:
        assert_saved(response)
        assert_published_by(section, users[role])
        assert shown_publicly(section)
    else:
        assert response.status_code == (403 if role == NO_GROUP else 302)
        assert_not_published(section)
        assert fresh(section).status == Status.IN_REVIEW
        assert not shown_publicly(section)
    # Saving the page without changing it neither reviews nor unpublishes the overview itself.
    assert fresh(overview).status == Status.PUBLISHED and fresh(overview).reviewed_by is None


@pytest.mark.parametrize("role", ROLES)
def test_publish_when_adding(client_as, users, role):
    add_url = admin_url(Drug, "add")
    opener = client_as(SUPERUSER) if role == NO_GROUP else None
    response = open_and_post(
        client_as(role), add_url, opener=opener, generic_name="newumab", slug="newumab", status="published"
    )
    created = Drug.objects.filter(slug="newumab").first()
    if role == NO_GROUP:
        assert response.status_code == 403
        assert created is None
        return
    assert_saved(response)
    if role in CAN_PUBLISH:
        assert_published_by(created, users[role])
    else:
        assert created.status == Status.DRAFT
        assert_not_published(created)


def previously_published(model):
    """Content with a published version in its history, now back in review with different text."""
    obj = make(model, status=Status.PUBLISHED, **{TEXT_FIELD[model]: "Reviewed old text."})
    published_record = obj.history.get()
    obj.status = Status.IN_REVIEW
    setattr(obj, TEXT_FIELD[model], "Newer unreviewed text.")
    obj.save()
    return fresh(obj), published_record


@pytest.mark.parametrize("model", PUBLISHABLE)
@pytest.mark.parametrize("role", ROLES)
def test_revert_to_a_published_version_never_publishes(client_as, model, role):
    obj, published_record = previously_published(model)
    assert published_record.status == Status.PUBLISHED
    url = history_url(obj, published_record)
    opener = client_as(SUPERUSER) if role == NO_GROUP else None
    response = open_and_post(client_as(role), url, opener=opener, status="published")
    assert response.status_code == (302 if role in CAN_EDIT else 403)
    assert_not_published(obj)
    assert not shown_publicly(obj)
    assert fresh(obj).status == Status.IN_REVIEW


# --- changing published content ------------------------------------------------------------------


@pytest.fixture
def earlier_reviewer(django_user_model):
    user = django_user_model.objects.create_user("dr_earlier", None, None, is_staff=True)
    user.groups.add(Group.objects.get(name="Medical reviewer"))
    return user


def reviewed_and_published(model, reviewer, **fields):
    """Content published the proper way, with a medical review on record."""
    obj = make(model, status=Status.IN_REVIEW, **fields)
    obj.publish(reviewer)
    obj.save()
    return fresh(obj)


UPDATING_NOTICE = "We are updating this section."


@pytest.mark.parametrize("model", PUBLISHABLE)
@pytest.mark.parametrize("role", [EDITOR, REVIEWER, SUPERUSER])
def test_change_to_published_content(client_as, users, earlier_reviewer, model, role):
    field = TEXT_FIELD[model]
    obj = reviewed_and_published(model, earlier_reviewer, **{field: "Reviewed wording."})
    assert shown_publicly(obj)
    response = open_and_post(client_as(role), admin_url(model, "change", obj.pk), **{field: "Changed wording."})
    assert_saved(response)
    after = fresh(obj)
    assert getattr(after, field) == "Changed wording."
    if role in CAN_PUBLISH:
        # A reviewer's save vouches for the content: it stays live and their review is recorded.
        assert_published_by(obj, users[role])
        assert shown_publicly(obj)
        return
    # Anyone else's change takes it off the public site until a reviewer publishes it again.
    assert after.status == Status.IN_REVIEW
    assert after.reviewed_by == earlier_reviewer  # the last review stays on record; nobody reviewed this change
    assert not shown_publicly(obj)
    if model is TreatmentOption:
        # A once-published section keeps its heading, with a notice instead of any text.
        html = Client().get(obj.overview.get_absolute_url()).content.decode()
        assert obj.heading in html and UPDATING_NOTICE in html
        assert "Changed wording." not in html and "Reviewed wording." not in html
    else:
        assert Client().get(obj.get_absolute_url()).status_code == 404


@pytest.mark.parametrize("role", [EDITOR, REVIEWER])
def test_unchanged_save_of_published_content_changes_nothing(client_as, role):
    drug = make_drug(status=Status.PUBLISHED)
    assert_saved(open_and_post(client_as(role), admin_url(Drug, "change", drug.pk)))
    after = fresh(drug)
    assert after.status == Status.PUBLISHED and after.reviewed_by is None


def test_editor_sees_warning_when_opening_published_content(client_as):
    drug = make_drug(status=Status.PUBLISHED)
    warning = "it leaves the site until a medical reviewer publishes it again"
    assert warning in client_as(EDITOR).get(admin_url(Drug, "change", drug.pk)).content.decode()
    assert warning not in client_as(REVIEWER).get(admin_url(Drug, "change", drug.pk)).content.decode()


@pytest.mark.parametrize("role", [EDITOR, REVIEWER])
def test_change_to_published_section_through_overview_inline(client_as, users, earlier_reviewer, role):
    overview = reviewed_and_published(Overview, earlier_reviewer)
    section = make_section(overview, status=Status.IN_REVIEW, heading="Live section", body="Reviewed inline.")
    section.publish(earlier_reviewer)
    section.save()
    response = open_and_post(
        client_as(role), admin_url(Overview, "change", overview.pk), **{"sections-0-body": "Changed inline."}
    )
    assert_saved(response)
    after = fresh(section)
    assert after.body == "Changed inline."
    html = Client().get(overview.get_absolute_url()).content.decode()
    if role in CAN_PUBLISH:
        assert_published_by(section, users[role])
        assert "Changed inline." in html
    else:
        assert after.status == Status.IN_REVIEW and after.reviewed_by == earlier_reviewer
        assert "Changed inline." not in html and "Reviewed inline." not in html
        assert "Live section" in html and UPDATING_NOTICE in html
    # The overview's own form was not changed: it stays published with its earlier review.
    assert fresh(overview).status == Status.PUBLISHED and fresh(overview).reviewed_by == earlier_reviewer


@pytest.mark.parametrize("inline", ["trial outcome", "next link"])
def test_editor_change_in_inline_of_published_content_goes_back_to_review(client_as, inline):
    if inline == "trial outcome":
        obj = make_trial(status=Status.PUBLISHED, outcomes=[("Alive at 1 year", "", "42%", True)])
        item, post_name, field = TrialOutcome.objects.get(trial=obj), "outcomes-0-value", "value"
    else:
        obj = make_overview(status=Status.PUBLISHED)
        item = NextLink.objects.create(overview=obj, label="Reviewed label", position=1)
        post_name, field = "next_links-0-label", "label"
    response = open_and_post(client_as(EDITOR), admin_url(type(obj), "change", obj.pk), **{post_name: "Unreviewed"})
    assert_saved(response)
    item.refresh_from_db()
    assert getattr(item, field) == "Unreviewed"  # the editor's change is saved…
    assert "Unreviewed" not in Client().get(obj.get_absolute_url()).content.decode()  # …but not shown yet
    assert fresh(obj).status == Status.IN_REVIEW


# --- reverting -----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", PUBLISHABLE)
@pytest.mark.parametrize("role", [EDITOR, REVIEWER, SUPERUSER])
def test_revert_restores_old_text_and_goes_to_review(client_as, users, model, role):
    obj, published_record = previously_published(model)
    records_before = obj.history.count()
    response = open_and_post(client_as(role), history_url(obj, published_record))
    assert_saved(response)
    after = fresh(obj)
    assert getattr(after, TEXT_FIELD[model]) == "Reviewed old text."
    assert after.status == Status.IN_REVIEW
    assert after.history.count() == records_before + 1
    latest = after.history.order_by("-history_date", "-history_id").first()
    assert latest.history_change_reason == REVERTED
    assert latest.history_user == users[role]
    assert latest.status == Status.IN_REVIEW and getattr(latest, TEXT_FIELD[model]) == "Reviewed old text."


def test_revert_moves_the_version_forward_so_stale_forms_are_refused(client_as):
    drug = make_drug(status=Status.DRAFT, drug_class="First")  # version 1
    first = drug.history.get()
    drug.drug_class = "Second"
    drug.save()  # version 2
    url = admin_url(Drug, "change", drug.pk)
    stale = form_data(client_as(EDITOR).get(url), drug_class="Stale edit")  # opened at version 2
    for text in ["Third", "Fourth"]:
        drug.drug_class = text
        drug.save()  # versions 3, 4
    assert_saved(open_and_post(client_as(REVIEWER), history_url(drug, first)))
    assert fresh(drug).drug_class == "First"
    assert fresh(drug).version > 4
    assert client_as(EDITOR).post(url, stale).status_code == 200  # refused as an edit conflict
    assert fresh(drug).drug_class == "First"


# --- archive and return to draft -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "expected"), [("archive_selected", Status.ARCHIVED), ("return_to_draft", Status.DRAFT)]
)
@pytest.mark.parametrize("model", PUBLISHABLE)
@pytest.mark.parametrize("role", ROLES)
def test_archive_and_return_to_draft(client_as, model, role, action, expected):
    obj = make(model, status=Status.PUBLISHED)
    response = run_action(client_as(role), obj, action)
    if role in CAN_PUBLISH:
        assert response.status_code == 302
        assert fresh(obj).status == expected
        assert not shown_publicly(obj)
    else:
        assert response.status_code == (403 if role == NO_GROUP else 302)
        assert fresh(obj).status == Status.PUBLISHED
        assert shown_publicly(obj)


# --- the groups themselves -----------------------------------------------------------------------


def group_permissions(name):
    group = Group.objects.get(name=name)
    return set(group.permissions.values_list("content_type__app_label", "codename"))


@pytest.fixture
def keep_app_registry():
    """Snapshot the app registry's models modules, and put them back whatever ensure_editorial_groups did."""
    saved = {config.label: config.models_module for config in django_apps.get_app_configs()}
    yield saved
    for config in django_apps.get_app_configs():
        config.models_module = saved[config.label]


def test_groups_have_the_intended_permissions():
    editor, reviewer = group_permissions("Editor"), group_permissions("Medical reviewer")
    publish = {("treatments", f"publish_{model}") for model in ["overview", "treatmentoption", "drug", "trial"]}
    assert publish <= reviewer
    assert not publish & editor
    assert not {codename for _app, codename in editor if codename.startswith("delete_")}
    assert {("treatments", "change_overview"), ("treatments", "view_historicaloverview")} <= editor
    assert editor < reviewer


def test_groups_migration_is_idempotent(keep_app_registry):
    before = {name: group_permissions(name) for name in ["Editor", "Medical reviewer"]}
    ensure_editorial_groups(django_apps)
    ensure_editorial_groups(django_apps)
    for name, permissions in before.items():
        assert Group.objects.filter(name=name).count() == 1
        assert group_permissions(name) == permissions
    assert Group.objects.count() == 2


def test_groups_migration_restores_a_removed_permission(keep_app_registry):
    reviewer = Group.objects.get(name="Medical reviewer")
    publish = Permission.objects.get(content_type__app_label="treatments", codename="publish_overview")
    before = group_permissions("Medical reviewer")
    reviewer.permissions.remove(publish)
    assert ("treatments", "publish_overview") not in group_permissions("Medical reviewer")
    ensure_editorial_groups(django_apps)
    assert group_permissions("Medical reviewer") == before


def test_groups_migration_leaves_the_app_registry_intact(keep_app_registry):
    ensure_editorial_groups(django_apps)
    damaged = [c.label for c in django_apps.get_app_configs() if c.models_module != keep_app_registry[c.label]]
    assert damaged == []
