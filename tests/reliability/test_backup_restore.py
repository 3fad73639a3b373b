"""Backing up and restoring content with its history (backup_content / restore_content).

The round trip starts from the seed, edits through the admin (several history records per
object, a revert, two authors, a reviewer whose account is later deleted), backs up, empties
the database completely, restores, and compares every record, field, many-to-many relation and
history entry. Damaged backups must fail with a clear message and change nothing.
"""

import json
import os
import stat

import pytest
from django import forms
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from editorial.workflow import revisions_of, submit
from feedback.models import Feedback
from references.models import Reference
from tests.factories import publish_drafts
from treatments.management.commands.backup_content import backup_models
from treatments.models import (
    Drug,
    GlossaryTerm,
    Overview,
    Question,
    Regimen,
    ReviewerProfile,
    SearchDocument,
    TreatmentOption,
    Trial,
)
from treatments.search import search

# --- helpers ------------------------------------------------------------------------------------------------


def snapshot():
    """Every backed-up record as plain data: concrete fields by column, many-to-many as sorted keys.

    Groups are keyed by name and permissions by natural key: ids of both may differ between databases.
    """
    data = {}
    for model in backup_models():
        label = model._meta.label_lower
        fields = model._meta.concrete_fields
        rows = {}
        for obj in model._base_manager.order_by("pk"):
            row = {
                # Content types have their own ids in each database: compare them by name.
                field.attname: getattr(obj, field.name).natural_key()
                if field.is_relation and field.related_model is ContentType
                else getattr(obj, field.attname)
                for field in fields
            }
            for field in model._meta.many_to_many:
                related = getattr(obj, field.name).all()
                if field.related_model is Permission:
                    row[field.name] = sorted(permission.natural_key() for permission in related)
                elif field.related_model is Group:
                    row[field.name] = sorted(group.name for group in related)
                else:
                    row[field.name] = sorted(item.pk for item in related)
            if model is Group:
                del row["id"]
                rows[row.pop("name")] = row
            else:
                rows[obj.pk] = row
        data[label] = rows
    return data


def differences(before, after, limit=15):
    found = []
    for label in sorted(set(before) | set(after)):
        old, new = before.get(label, {}), after.get(label, {})
        for key in sorted(set(old) - set(new), key=str):
            found.append(f"{label} {key}: missing after restore")
        for key in sorted(set(new) - set(old), key=str):
            found.append(f"{label} {key}: not in the original")
        for key in sorted(set(old) & set(new), key=str):
            for field in old[key]:
                if old[key][field] != new[key].get(field):
                    found.append(f"{label} {key}.{field}: {old[key][field]!r} != {new[key].get(field)!r}")
    return found[:limit]


def change_url(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def form_data(response):
    """What the browser would submit unchanged from an admin change (or revert) page, inlines included."""
    context = response.context
    all_forms = [context["adminform"].form]
    for inline in context.get("inline_admin_formsets", []):  # the revert page has none
        all_forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in all_forms:
        for name, field in form.fields.items():
            key, value = form.add_prefix(name), form[name].value()
            widget = field.widget
            while hasattr(widget, "widget"):  # the admin's related-object wrapper
                widget = widget.widget
            if isinstance(widget, forms.CheckboxInput):
                if value:
                    data[key] = "on"
            elif isinstance(widget, forms.MultiWidget):
                parts = value if isinstance(value, list | tuple) else widget.decompress(value)
                for index, part in enumerate(parts):
                    data[f"{key}_{index}"] = "" if part is None else str(part)
            elif isinstance(value, list | tuple):
                data[key] = [str(getattr(item, "pk", item)) for item in value]
            else:
                data[key] = "" if value is None else str(getattr(value, "pk", value))
    return data


def admin_edit(client, obj, url=None, **changes):
    """Open the object's admin page, change some fields, save; the save must succeed."""
    url = url or change_url(obj)
    page = client.get(url)
    assert page.status_code == 200, url
    data = {**form_data(page), **changes}
    response = client.post(url, data)
    if response.status_code != 302:
        form = response.context["adminform"].form
        inline_errors = [inline.formset.errors for inline in response.context.get("inline_admin_formsets", [])]
        pytest.fail(f"admin save of {obj!r} refused: {form.errors} {inline_errors}")


def revert(client, obj, record):
    url = reverse(
        f"admin:{obj._meta.app_label}_{obj._meta.model_name}_simple_history", args=[obj.pk, record.history_id]
    )
    admin_edit(client, obj, url=url)


def history(obj):
    return [
        (r.history_date, r.history_user and r.history_user.username, r.history_change_reason, r.history_type)
        for r in obj.history.order_by("history_date", "history_id")
    ]


@pytest.fixture
def edited_content(client, django_user_model):
    """The seed, then a day's work in the admin by two people, and a reviewer who has since left."""
    call_command("load_seed", verbosity=0)
    ann = django_user_model.objects.create_superuser("ann", "ann@example.org", "ann-password-123", first_name="Ann")
    bo = django_user_model.objects.create_superuser("bo", "bo@example.org", "bo-password-123")
    testers = Group.objects.create(name="Backup testers")
    testers.permissions.set(Permission.objects.filter(codename__in=["view_overview", "change_drug"]))
    ann.groups.add(testers)
    ann.user_permissions.add(Permission.objects.get(codename="view_reference"))
    ReviewerProfile.objects.create(user=bo, display_name="Bo Smith", credentials="MD, oncologist", status="published")

    overview = Overview.objects.get()
    section = TreatmentOption.objects.order_by("pk").first()
    trial = Trial.objects.order_by("pk").first()
    drug, other_drug = Drug.objects.order_by("pk")[:2]
    reference, other_reference = Reference.objects.order_by("pk")[:2]
    regimen = Regimen.objects.order_by("pk").first()

    client.force_login(ann)
    admin_edit(client, overview, summary="Edited once by Ann.", **{"next_links-0-label": "Renamed next link"})
    admin_edit(client, overview, summary="Edited twice by Ann.")
    revert(client, overview, overview.history.order_by("history_date").first())
    admin_edit(
        client, section, body=section.body + "\n\nAnn added a sentence.", drugs=[str(drug.pk), str(other_drug.pk)]
    )
    admin_edit(client, trial, summary="A new summary.", references=[str(reference.pk), str(other_reference.pk)])
    admin_edit(client, trial, **{"outcomes-0-value": "99 of 100"})
    admin_edit(client, reference, title="A corrected title")
    admin_edit(client, regimen, note="given on the same day")
    question = Question.objects.order_by("pk").first()
    admin_edit(client, question, text="What is the aim of my treatment?")
    Feedback.objects.create(page=overview.get_absolute_url(), helpful=False, comment="Please explain 'stage IV'.")
    term = GlossaryTerm.objects.order_by("pk").first()
    admin_edit(client, term, definition=f"A clearer definition [@{reference.key}].")
    admin_edit(client, term, pronunciation="SAY-it")

    client.force_login(bo)
    admin_edit(client, overview, summary="Bo's reviewed summary.")
    admin_edit(client, drug, how_it_works="Bo explains how it works.")
    publish_drafts(overview, section, trial, reference, regimen, term, drug, question, by=bo)
    admin_edit(client, overview, summary="A new summary waiting for review.")  # a working draft to carry over
    submit(overview, bo)

    # A reviewer who published a change and has since left: history keeps their id, the account is gone.
    gone = django_user_model.objects.create_superuser("gone", "gone@example.org", "gone-password-123")
    client.force_login(gone)
    admin_edit(client, other_drug, drug_class="a class set by someone who left")
    publish_drafts(other_drug, by=gone)
    gone_id = gone.pk
    gone.delete()
    client.logout()

    overview.refresh_from_db()
    assert overview.summary == "Bo's reviewed summary." and overview.editorial_state == "Live + in review"
    assert revisions_of(overview).count() >= 4
    assert Drug.history.filter(reviewed_by_id=gone_id).exists()
    assert {user for _, user, _, _ in history(overview)} >= {"bo"}
    return {"overview": overview, "drug": drug, "gone_id": gone_id}


# --- the round trip -----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_restore_into_an_emptied_database_gives_back_every_record_and_history_entry(
    edited_content, tmp_path, client, django_user_model
):
    overview = edited_content["overview"]
    before = snapshot()
    overview_history = history(overview)
    assert any(date.microsecond % 1000 for date, *_ in overview_history), "times should carry microseconds"
    backup = tmp_path / "backup.json"
    call_command("backup_content", output=str(backup), verbosity=0)
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600  # holds password hashes
    assert [path.name for path in tmp_path.iterdir()] == ["backup.json"]  # no partial file left behind

    # As empty as a newly migrated database: flush also re-creates content types and permissions, with new ids.
    call_command("flush", interactive=False, verbosity=0)
    assert snapshot() != before and not Overview.objects.exists() and not Group.objects.exists()

    call_command("restore_content", str(backup), verbosity=0)

    after = snapshot()
    assert differences(before, after) == []
    assert after == before
    restored = Overview.objects.get(pk=overview.pk)
    assert history(restored) == overview_history
    assert restored.editorial_state == "Live + in review"  # the working draft and its review state came back
    assert restored.draft_revision.data["fields"]["summary"] == "A new summary waiting for review."
    assert Drug.history.filter(reviewed_by_id=edited_content["gone_id"]).exists()
    # Derived data is rebuilt and the site works on the restored content.
    assert SearchDocument.objects.count() == sum(m.objects.count() for m in (Overview, TreatmentOption, Drug, Trial))
    drug = edited_content["drug"]
    assert drug in [result.obj for result in search("Bo explains")]  # the seed's text "explains" things too
    page = client.get(drug.get_absolute_url())
    assert page.status_code == 200 and "Bo explains how it works." in page.content.decode()
    ann = django_user_model.objects.get(username="ann")
    assert ann.check_password("ann-password-123")  # password hashes came back too
    client.force_login(ann)
    preview = client.get(overview.get_absolute_url())  # staff see the draft in review
    assert preview.status_code == 200 and "A new summary waiting for review." in preview.content.decode()
    history_page = client.get(change_url(overview).replace("/change/", "/history/"))
    assert history_page.status_code == 200 and "Published revision" in history_page.content.decode()


@pytest.mark.django_db
def test_backup_file_is_the_fixture_format_with_natural_keys(edited_content, tmp_path):
    backup = tmp_path / "backup.json"
    call_command("backup_content", output=str(backup), verbosity=0)
    records = json.loads(backup.read_text())
    models = {record["model"] for record in records}
    assert {"auth.user", "auth.group", "treatments.overview", "treatments.historicaloverview"} <= models
    assert {"treatments.historicaltrial_references", "references.historicalreference"} <= models
    assert {"treatments.question", "treatments.historicalquestion", "feedback.feedback"} <= models
    assert not models & {"contenttypes.contenttype", "auth.permission", "sessions.session", "treatments.searchdocument"}
    assert not [model for model in models if model.startswith(("axes.", "admin."))]
    history_users = [record["fields"]["history_user"] for record in records if "history_user" in record["fields"]]
    assert ["bo"] in history_users  # users by natural key
    authors = [record["fields"]["created_by"] for record in records if record["model"] == "editorial.revision"]
    assert ["ann"] in authors  # her edits are drafts (revisions); a reviewer published them
    group = next(
        record for record in records if record["model"] == "auth.group" and record["fields"]["name"] == "Backup testers"
    )
    assert "pk" not in group and ["view_overview", "treatments", "overview"] in group["fields"]["permissions"]


@pytest.mark.django_db
def test_restore_refuses_existing_content_unless_forced_then_replaces_it_and_refreshes_pages(tmp_path, client):
    call_command("load_seed", verbosity=0)
    backup = tmp_path / "backup.json"
    call_command("backup_content", output=str(backup), verbosity=0)
    overview = Overview.objects.get()
    original_title, original_history = overview.title, history(overview)
    url = overview.get_absolute_url()
    assert original_title in client.get(url).content.decode()

    overview.title = "Changed after the backup"
    overview.save()
    Drug.objects.create(generic_name="newamab", slug="newamab")
    assert "Changed after the backup" in client.get(url).content.decode()  # now cached with the new title
    before = snapshot()

    with pytest.raises(CommandError, match="already has content.*--force"):
        call_command("restore_content", str(backup))
    assert snapshot() == before

    call_command("restore_content", str(backup), force=True, verbosity=0)
    overview.refresh_from_db()
    assert overview.title == original_title and history(overview) == original_history
    assert not Drug.objects.filter(slug="newamab").exists()
    page = client.get(url).content.decode()
    assert original_title in page and "Changed after the backup" not in page


def _truncated(text):
    return text[: len(text) // 2]


def _append(record):
    def change(text):
        return json.dumps([*json.loads(text), record])

    return change


def _duplicate_drug(text):
    drug = next(record for record in json.loads(text) if record["model"] == "treatments.drug")
    return _append({"model": "treatments.drug", "pk": 9999, "fields": {**drug["fields"], "slug": "duplicate"}})(text)


# (name, damage, message). Damage found while reading is reported whatever the options; damage found only while
# loading shows with --force (without it the restore stops earlier: the database already has content).
READ_DAMAGE = [
    ("truncated", _truncated, "invalid JSON at line"),
    ("empty", lambda text: "", "invalid JSON at line 1"),
    ("binary", lambda text: "\x00\x01garbage", "invalid JSON"),
    ("not a list", lambda text: json.dumps({"model": "treatments.overview"}), "expected a list of records"),
    ("no content", lambda text: "[]", "holds no content"),
    ("record without fields", _append({"model": "treatments.drug", "pk": 999}), "record .* is damaged"),
    ("foreign model", _append({"model": "sessions.session", "pk": "x", "fields": {}}), "never holds"),
    ("permission record", _append({"model": "auth.permission", "pk": 1, "fields": {}}), "never holds"),
]
LOAD_DAMAGE = [
    # Valid up to the last record, which fails only while loading: everything before it must be undone too.
    (
        "dangling reference at the end",
        _append({"model": "treatments.trial", "pk": 9999, "fields": {"title": "X", "slug": "x", "regimen": 123456}}),
        "Restore failed, so nothing was changed: .*foreign key",
    ),
    (
        "unknown field at the end",
        _append({"model": "treatments.drug", "pk": 9999, "fields": {"generic_name": "x", "no_such_field": 1}}),
        "Restore failed, so nothing was changed: .*no field named 'no_such_field'",
    ),
    ("duplicate at the end", _duplicate_drug, "Restore failed, so nothing was changed"),
]


@pytest.mark.django_db(transaction=True)
def test_damaged_backups_fail_clearly_and_change_nothing(tmp_path, django_user_model):
    call_command("load_seed", verbosity=0)
    django_user_model.objects.create_user("ann")
    good = tmp_path / "good.json"
    call_command("backup_content", output=str(good), verbosity=0)
    Overview.objects.update(title="Edited after the backup")  # so a wrongly applied restore would show
    before = snapshot()
    text = good.read_text()
    cases = [(*case, False) for case in READ_DAMAGE] + [(*case, True) for case in READ_DAMAGE + LOAD_DAMAGE]
    for name, damage, message, force in cases:
        damaged = tmp_path / f"{name.replace(' ', '-')}.json"
        damaged.write_text(damage(text))
        with pytest.raises(CommandError, match=message):
            call_command("restore_content", str(damaged), force=force)
        assert differences(before, snapshot()) == [], (name, force)
    with pytest.raises(CommandError, match="No such file"):
        call_command("restore_content", str(tmp_path / "missing.json"), force=True)

    # Accounts that clash with this database's (same id, another person) are refused before anything happens.
    django_user_model.objects.filter(username="ann").update(username="someone-else")
    before = snapshot()
    with pytest.raises(CommandError, match="clash with accounts.*'someone-else' here but 'ann' in the backup"):
        call_command("restore_content", str(good), force=True)
    assert snapshot() == before


def test_backup_refuses_an_output_folder_that_does_not_exist(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("backup_content", output=str(tmp_path / "no" / "such" / "backup.json"))
    with pytest.raises(CommandError, match="is a folder"):
        call_command("backup_content", output=str(tmp_path))
