"""Who may change what patients see: every admin path that writes, driven as a browser would (issue 10).

Roles: an editor (group "Editor"), a medical reviewer (group "Medical reviewer"), a superuser, a staff user in
no group, a staff user with view permissions only, and anonymous visitors. An editor's change through any path
(change form, add form, inline, list action, simple-history "revert" form, revision revert, reference import)
is a draft: what an anonymous visitor gets is byte-identical until a reviewer publishes it, and then exactly
the approved revision goes live. Every case asserts the database and the public pages, not only status codes.
"""

import datetime
import io
import re
from dataclasses import dataclass

import pytest
import time_machine
from django import forms
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from editorial import registry
from editorial.admin import DraftAdmin, review_url
from editorial.models import Revision, Status
from editorial.workflow import approve, editing, ensure_draft, revisions_of, submit
from references.models import Reference
from tests.factories import (
    make_drug,
    make_overview,
    make_question,
    make_reference,
    make_regimen,
    make_section,
    make_trial,
    mark_reviewed,
)
from treatments.models import (
    Drug,
    GlossaryTerm,
    NextLink,
    Overview,
    PageCacheGeneration,
    Question,
    Regimen,
    RegimenDrug,
    ReviewerProfile,
    TreatmentOption,
    Trial,
    TrialOutcome,
)
from treatments.roles import EDITOR as EDITOR_GROUP
from treatments.roles import MEDICAL_REVIEWER, ensure_editorial_groups, group_permissions

pytestmark = pytest.mark.django_db
State = Revision.State

EDITOR, REVIEWER, SUPERUSER, NO_GROUP, VIEW_ONLY, ANONYMOUS = (
    "editor", "reviewer", "superuser", "no_group", "view_only", "anonymous",
)  # fmt: skip
PUBLISHABLE = registry.publishable_models()
OLD, NEW = "Reviewed wording", "Typed-in wording"  # neither is part of the other
NOON = datetime.datetime(2027, 3, 3, 12, 0, tzinfo=datetime.UTC)


def test_every_publishable_model_is_covered_here():
    expected = {Overview, TreatmentOption, Question, Drug, Regimen, Trial, GlossaryTerm, ReviewerProfile, Reference}
    assert set(PUBLISHABLE) == expected


# --- users and clients -------------------------------------------------------------------------


@pytest.fixture
def users(django_user_model):
    def staff(username, *group_names):
        # No password (fast to create): the tests log in with force_login.
        user = django_user_model.objects.create_user(username, f"{username}@example.org", None, is_staff=True)
        for name in group_names:
            user.groups.add(Group.objects.get(name=name))
        return user

    view_only = staff("looker")
    viewing = [codename for _app, codename in group_permissions()[EDITOR_GROUP] if codename.startswith("view_")]
    view_only.user_permissions.add(*Permission.objects.filter(codename__in=viewing))
    return {
        EDITOR: staff("ed", EDITOR_GROUP),
        REVIEWER: staff("dr_rev", MEDICAL_REVIEWER),
        SUPERUSER: django_user_model.objects.create_superuser("root", "root@example.org", None),
        NO_GROUP: staff("nobody"),
        VIEW_ONLY: view_only,
    }


# Test clients are reused: each new one loads the middleware again (WhiteNoise scans the static files), which
# would cost more than the requests themselves. Their cookies are cleared before each use.
_CLIENTS = {}


def reused_client(role):
    client = _CLIENTS.setdefault(role, Client())
    client.cookies.clear()
    return client


@pytest.fixture
def client_as(users):
    clients = {}

    def login(role):
        if role not in clients:
            clients[role] = reused_client(role)
            if role != ANONYMOUS:
                clients[role].force_login(users[role])
        return clients[role]

    return login


# --- content: each publishable model, and the public pages that show it ---------------------------


@dataclass
class Scene:
    record: object
    field: str  # a field the public pages show
    pages: list  # the public addresses that show it


def make_term(**fields):
    fields.setdefault("status", Status.PUBLISHED)
    fields.setdefault("term", "pleura")
    fields.setdefault("slug", fields["term"].replace(" ", "-"))
    fields.setdefault("definition", "A word defined for this test.")
    return GlossaryTerm.objects.create(**fields)


def make_profile(user, **fields):
    fields.setdefault("status", Status.PUBLISHED)
    fields.setdefault("credentials", "MD")
    return ReviewerProfile.objects.create(user=user, **fields)


def scene(model, django_user_model, text=OLD):
    """A live record of `model` whose `field` reads `text` on the public pages listed."""
    if model is Overview:
        record = make_overview(summary=text)
        return Scene(record, "summary", [record.get_absolute_url(), "/"])
    if model is TreatmentOption:
        record = make_section(make_overview(), body=text)
        return Scene(record, "body", [record.overview.get_absolute_url()])
    if model is Question:  # in "Questions to ask your care team" on its overview page
        record = make_question(make_overview(), text=text)
        return Scene(record, "text", [record.overview.get_absolute_url()])
    if model is Drug:
        record = make_drug(how_it_works=text)
        return Scene(record, "how_it_works", [record.get_absolute_url()])
    if model is Regimen:  # shown by name in a section's trials table, on the trial page and in the trial list
        record = make_regimen(make_drug(), name=text)
        trial = make_trial(regimen=record)
        section = make_section(make_overview(), trials_caption="Trials table")
        section.trials.add(trial)
        return Scene(record, "name", [section.overview.get_absolute_url(), trial.get_absolute_url(), "/trials/"])
    if model is Trial:
        record = make_trial(summary=text)
        return Scene(record, "summary", [record.get_absolute_url()])
    if model is GlossaryTerm:  # on the glossary and on a page that uses the word
        record = make_term(definition=text)
        overview = make_overview(intro="This page uses the word pleura.")
        return Scene(record, "definition", ["/glossary/", overview.get_absolute_url()])
    if model is ReviewerProfile:  # "Medically reviewed by …" on the pages the reviewer reviewed
        user = django_user_model.objects.create_user("dr_jane", None, None, is_staff=True)
        record = make_profile(user, display_name=text)
        overview = mark_reviewed(make_overview(), user)
        return Scene(record, "display_name", [overview.get_absolute_url()])
    assert model is Reference  # in the reference list (and its RIS download) of a page that cites it
    record = make_reference(key="scene-2020", title=text)
    overview = make_overview()
    make_section(overview, body="A fact [@scene-2020].")
    url = overview.get_absolute_url()
    return Scene(record, "title", [url, reverse("treatments:overview-references", args=[overview.slug, "ris"])])


def fresh(obj):
    return type(obj)._default_manager.get(pk=obj.pk)


def patient_sees(urls, *, from_cache=False):
    """{url: (status, body)} as an anonymous visitor gets them: rendered afresh from the database, or what the
    page cache serves (`from_cache`: a stale cached page is as bad as a stale database)."""
    if not from_cache:
        for cache in caches.all():
            cache.clear()
    found = {}
    for url in urls:
        response = reused_client("patient").get(url)
        found[url] = (response.status_code, response.content.decode())
    return found


def public_html(url, *, from_cache=False):
    status, body = patient_sees([url], from_cache=from_cache)[url]
    assert status == 200, (url, status)
    return body


def shows(seen, text):
    return all(status == 200 and text in body for status, body in seen.values())


def shows_nowhere(seen, text):
    return not any(text in body for _status, body in seen.values())


def live_state(obj):
    """Everything about the live version of `obj`: its content with parts, and its workflow fields."""
    obj = fresh(obj)
    return registry.snapshot(obj), obj.status, obj.live_revision_id, obj.reviewed_by_id, obj.last_published_at


def database_state():
    """Every publishable record (live content, status, revision pointers), every revision and every history
    entry: what a refused request must leave exactly as it was."""
    state = {}
    for model in PUBLISHABLE:
        state[model._meta.label] = [
            (obj.pk, registry.snapshot(obj), obj.status, obj.live_revision_id, obj.draft_revision_id)
            for obj in model._default_manager.order_by("pk")
        ]
        state[f"{model._meta.label} history"] = model.history.count()
    state["revisions"] = list(Revision.objects.order_by("pk").values_list("pk", "state", "go_live_at", "comment"))
    return state


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
    if isinstance(field, forms.MultipleChoiceField | forms.ModelMultipleChoiceField) and value is None:
        return {key: []}
    if isinstance(value, list | tuple):
        return {key: [str(item) for item in value]}
    return {key: "" if value is None else value}


def form_data(response, **changes):
    """Everything a browser would POST back from an admin change, add or revert page, plus `changes`
    (POST names, e.g. **{"sections-0-body": "…"}; None removes an item, as an unticked checkbox)."""
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
    """A successful admin save redirects; otherwise say why the form was refused."""
    if response.status_code == 200 and response.context and "adminform" in response.context:
        errors = response.context["adminform"].form.errors
        inline_errors = [fs.formset.errors for fs in response.context.get("inline_admin_formsets", [])]
        pytest.fail(f"form refused: {errors.as_data()} {inline_errors}")
    assert response.status_code == 302, response.status_code


def open_and_post(client, url, **changes):
    """GET the admin page at `url` and POST its form back with `changes`."""
    return client.post(url, form_data(client.get(url), **changes))


def run_action(client, objs, action):
    model = type(objs[0])
    return client.post(admin_url(model, "changelist"), {"action": action, "_selected_action": [obj.pk for obj in objs]})


def messages_of(response):
    return [str(message) for message in response.context["messages"]] if response.context else []


def refused(response, role):
    """Refused outright: 403 for a signed-in user, the login page for an anonymous visitor."""
    if role == ANONYMOUS:
        return response.status_code == 302 and "/login/" in response["Location"]
    return response.status_code == 403


def proposed(response):
    """The new text of every word-level compare on a review screen (what publishing would put live)."""
    html = response.content.decode()
    diffs = re.findall(r'<div class="diff">(.*?)</div>', html, flags=re.S)
    return [re.sub(r"<[^>]+>", "", re.sub(r"<del>.*?</del>", "", diff, flags=re.S)) for diff in diffs]


def publish_on_review_screen(client, url):
    """A reviewer opens the review screen at `url` and publishes every change it shows, as shown."""
    screen = client.get(url)
    assert screen.status_code == 200
    shown = [change["revision"] for change in screen.context["pending"]]
    response = client.post(url, {"revision": [r.pk for r in shown], "action": "publish", "minor": "on"})
    assert response.status_code == 302, messages_of(response)
    return shown


# --- 1. an editor's change reaches patients only when a reviewer publishes it, through every path ----


@pytest.mark.parametrize("model", PUBLISHABLE)
def test_editor_change_form_then_list_actions_then_review(client_as, users, django_user_model, model):
    """Change form → "Send for medical review" action → reviewer's "Review and publish…" action → review screen."""
    setting = scene(model, django_user_model)
    record, field = setting.record, setting.field
    before, live_before = patient_sees(setting.pages), live_state(record)
    assert shows(before, OLD)

    editor = client_as(EDITOR)
    assert_saved(open_and_post(editor, admin_url(model, "change", record.pk), **{field: NEW}))
    draft = fresh(record).draft_revision
    assert draft.data["fields"][field] == NEW and draft.created_by == users[EDITOR] and draft.state == State.DRAFT
    assert live_state(record) == live_before
    assert patient_sees(setting.pages) == before  # byte for byte
    assert patient_sees(setting.pages, from_cache=True) == before

    assert run_action(editor, [record], "submit_selected").status_code == 302
    assert fresh(draft).state == State.IN_REVIEW and fresh(record).editorial_state == "Live + in review"
    assert live_state(record) == live_before
    assert patient_sees(setting.pages) == before

    # The editor cannot take the next step; the reviewer's list action opens the review screen for it.
    assert fresh(record).draft_revision == draft
    response = run_action(client_as(REVIEWER), [record], "review_selected")
    assert response.status_code == 302 and response["Location"] == review_url(record)
    (published,) = publish_on_review_screen(client_as(REVIEWER), response["Location"])
    assert published == draft

    after = fresh(record)
    assert registry.snapshot(after) == fresh(draft).data  # exactly the approved revision
    assert after.live_revision == draft and after.draft_revision is None and after.reviewed_by == users[REVIEWER]
    seen = patient_sees(setting.pages, from_cache=True)  # the cached pages went with the publication
    assert shows(seen, NEW) and shows_nowhere(seen, OLD)


def publish_second_version(record, field, text="Second wording"):
    """The record's text changed and published the proper way: its history now has an older version."""
    with editing(None, record) as session:
        setattr(session.record, field, text)
        session.record.save()
    approve(session.revisions, reviewer_user())
    return fresh(record)


def reviewer_user():
    user, _ = User.objects.get_or_create(username="dr_earlier", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name=MEDICAL_REVIEWER))
    return user


@pytest.mark.parametrize("model", PUBLISHABLE)
def test_editor_revert_in_the_history_view_is_a_draft_until_published(client_as, django_user_model, model):
    setting = scene(model, django_user_model)
    record, field = setting.record, setting.field
    first = record.history.order_by("history_date", "history_id").first()
    record = publish_second_version(record, field)
    before, live_before = patient_sees(setting.pages), live_state(record)
    assert shows(before, "Second wording") and shows_nowhere(before, OLD)

    response = open_and_post(client_as(EDITOR), history_url(record, first))
    assert_saved(response)
    draft = fresh(record).draft_revision
    assert draft.data["fields"][field] == OLD and draft.state == State.DRAFT
    assert live_state(record) == live_before
    assert patient_sees(setting.pages) == before

    publish_on_review_screen(client_as(REVIEWER), review_url(record))
    assert registry.snapshot(fresh(record)) == fresh(draft).data
    seen = patient_sees(setting.pages, from_cache=True)
    assert shows(seen, OLD) and shows_nowhere(seen, "Second wording")


def addition(model, django_user_model):
    """(what an editor types into the add form, public pages that would show the new record, what they would
    show once it is live: None when no page shows a record by itself)."""
    if model is Overview:
        return {"title": NEW, "slug": "typed-in", "summary": "A summary."}, ["/", "/treatment/typed-in/"], NEW
    if model is TreatmentOption:
        overview = make_overview()
        fields = {"overview": overview.pk, "modality": "surgery", "heading": NEW, "slug": "typed-in", "body": "Text."}
        return fields, [overview.get_absolute_url()], NEW
    if model is Question:
        overview = make_overview()
        return {"overview": overview.pk, "position": 1, "text": NEW}, [overview.get_absolute_url()], NEW
    if model is Drug:
        # (Capitalised: the address "/drugs/typedinumab/" is in every page's canonical link, even a 404.)
        return {"generic_name": "Typedinumab", "slug": "typedinumab"}, ["/drugs/", "/drugs/typedinumab/"], "Typedinumab"
    if model is Regimen:
        return {"name": NEW}, ["/trials/"], None
    if model is Trial:
        return {"title": NEW, "slug": "typed-in"}, ["/trials/", "/trials/typed-in/"], NEW
    if model is GlossaryTerm:
        overview = make_overview(intro="This page uses the word mesothelium.")
        fields = {"term": "mesothelium", "slug": "mesothelium", "definition": NEW}
        return fields, ["/glossary/", overview.get_absolute_url()], NEW
    if model is ReviewerProfile:  # for a reviewer whose pages name them by their account until now
        user = django_user_model.objects.create_user("jroe", None, None, first_name="Jo", last_name="Roe")
        overview = mark_reviewed(make_overview(), user)
        return {"user": user.pk, "display_name": NEW, "credentials": "MD"}, [overview.get_absolute_url()], NEW
    assert model is Reference  # a live page already cites the key (loaded content): it shows nothing for it yet
    overview = make_overview()
    make_section(overview, body="A fact [@typed-2024].")
    return {"key": "typed-2024", "title": NEW, "year": "2024"}, [overview.get_absolute_url()], NEW


@pytest.mark.parametrize("model", PUBLISHABLE)
def test_editor_add_form_makes_a_record_that_is_not_live(client_as, users, django_user_model, model):
    fields, pages, marker = addition(model, django_user_model)
    before = patient_sees(pages)
    count = model._default_manager.count()
    assert_saved(open_and_post(client_as(EDITOR), admin_url(model, "add"), **fields))
    assert model._default_manager.count() == count + 1
    record = model._default_manager.order_by("-pk").first()
    assert record.status == Status.DRAFT and record.editorial_state == "Draft"
    assert record.draft_revision.created_by == users[EDITOR] and record.live_revision is None
    assert patient_sees(pages) == before
    if marker is None:
        return
    assert shows_nowhere(before, marker)
    (published,) = publish_on_review_screen(client_as(REVIEWER), review_url(record))
    assert fresh(record).status == Status.PUBLISHED and registry.snapshot(fresh(record)) == published.data
    assert shows(patient_sees(pages, from_cache=True), marker)


# --- inlines: the parts of a record and the sections of a page ----------------------------------------


def test_editor_sections_changed_and_added_on_the_overview_page_are_drafts(client_as):
    overview = make_overview(title="The page")
    section = make_section(overview, heading="Live heading", slug="live", body=OLD)
    url = overview.get_absolute_url()
    before, live_before = patient_sees([url]), (live_state(overview), live_state(section))
    page = client_as(EDITOR).get(admin_url(Overview, "change", overview.pk))
    new_section = {
        "sections-TOTAL_FORMS": 2, "sections-1-overview": overview.pk, "sections-1-position": 9,
        "sections-1-modality": "surgery", "sections-1-heading": "An added section", "sections-1-slug": "added",
        "sections-1-body": "Added text.",
    }  # fmt: skip
    changes = {"sections-0-heading": "Typed-in heading", "sections-0-slug": "typed", "sections-0-body": NEW}
    assert_saved(client_as(EDITOR).post(page.wsgi_request.path, form_data(page, **changes, **new_section)))

    added = TreatmentOption.objects.get(slug="added")
    assert added.status == Status.DRAFT and added.draft_revision is not None
    assert fresh(section).draft_revision.data["fields"]["heading"] == "Typed-in heading"
    assert fresh(overview).draft_revision is None  # the page's own text did not change
    assert (live_state(overview), live_state(section)) == live_before
    assert patient_sees([url]) == before  # heading, anchor, table of contents, body: all as reviewed

    shown = publish_on_review_screen(client_as(REVIEWER), review_url(page=url))
    assert {r.pk for r in shown} == {fresh(section).live_revision_id, fresh(added).live_revision_id}
    html = public_html(url, from_cache=True)
    assert NEW in html and '<a href="#typed">Typed-in heading</a>' in html and "An added section" in html
    assert OLD not in html and "Live heading" not in html


@pytest.fixture
def trial_in_a_table():
    drug_a, drug_b = make_drug(generic_name="firstumab"), make_drug(generic_name="secondumab")
    trial = make_trial(
        title="The trial", regimen=make_regimen(drug_a, name="The regimen"), outcomes=[("Alive", "", "11 of 20", True)]
    )
    overview = make_overview()
    make_section(overview, trials_caption="Trials").trials.add(trial)
    NextLink.objects.create(overview=overview, label="Reviewed next page", position=1)
    return {"trial": trial, "overview": overview, "drugs": (drug_a, drug_b)}


@pytest.mark.parametrize("inline", ["trial outcome", "regimen drug", "next link"])
def test_editor_change_in_an_inline_part_is_a_draft_of_its_record(client_as, trial_in_a_table, inline):
    trial, overview = trial_in_a_table["trial"], trial_in_a_table["overview"]
    drug_a, drug_b = trial_in_a_table["drugs"]
    pages = [trial.get_absolute_url(), overview.get_absolute_url()]
    if inline == "trial outcome":
        record, changes, old, new = trial, {"outcomes-0-value": "12 of 20"}, "11 of 20", "12 of 20"
    elif inline == "regimen drug":
        record, changes, old, new = trial.regimen, {"regimen_drugs-0-drug": drug_b.pk}, "firstumab", "secondumab"
        pages = [trial.get_absolute_url()]  # the trial page lists the regimen's drugs
    else:
        record, changes = overview, {"next_links-0-label": "Typed-in next page"}
        old, new, pages = "Reviewed next page", "Typed-in next page", [overview.get_absolute_url()]
    before, live_before = patient_sees(pages), live_state(record)
    assert shows(before, old) and shows_nowhere(before, new)
    parts_before = {model: list(model.objects.values()) for model in (TrialOutcome, RegimenDrug, NextLink)}

    assert_saved(open_and_post(client_as(EDITOR), admin_url(type(record), "change", record.pk), **changes))
    assert fresh(record).draft_revision is not None
    assert {model: list(model.objects.values()) for model in parts_before} == parts_before  # the live parts
    assert live_state(record) == live_before
    assert patient_sees(pages) == before

    publish_on_review_screen(client_as(REVIEWER), review_url(record))
    seen = patient_sees(pages, from_cache=True)
    assert shows(seen, new) and shows_nowhere(seen, old)
    assert registry.snapshot(fresh(record)) == fresh(record).live_revision.data


# --- imports ---------------------------------------------------------------------------------------

BIBTEX = """@article{any,
  author = {Zed, Ann},
  title = {Typed-in wording},
  journal = {J Test},
  year = {2021}
}
"""


@pytest.fixture
def page_citing_zed_2021():
    """A live page whose text already cites a key the library does not have yet (loaded content)."""
    overview = make_overview()
    make_section(overview, body="A fact [@zed-2021].")
    return overview.get_absolute_url()


def test_references_imported_in_the_admin_are_not_live(client_as, page_citing_zed_2021):
    url = page_citing_zed_2021
    before = patient_sees([url])
    importer = reverse("admin:references_reference_import")
    preview = client_as(EDITOR).post(importer, {"text": BIBTEX, "format": ""})
    assert preview.status_code == 200 and not Reference.objects.exists()
    response = client_as(EDITOR).post(importer, {"confirm": "1", "token": preview.context["token"]})
    assert response.status_code == 302
    assert any("new references are drafts" in m for m in messages_of(client_as(EDITOR).get(response["Location"])))
    reference = Reference.objects.get(key="zed-2021")
    assert reference.status == Status.DRAFT
    assert patient_sees([url]) == before and shows_nowhere(before, NEW)
    publish_on_review_screen(client_as(REVIEWER), review_url(page=url))
    assert shows(patient_sees([url], from_cache=True), NEW)


def test_references_imported_by_the_command_are_not_live(page_citing_zed_2021):
    url = page_citing_zed_2021
    before = patient_sees([url])
    call_command("import_references", "-", stdin=io.StringIO(BIBTEX), stdout=io.StringIO())
    assert Reference.objects.get(key="zed-2021").status == Status.DRAFT
    assert patient_sees([url]) == before and shows_nowhere(before, NEW)


# --- tampering: the workflow's fields are not in any form -----------------------------------------------


@pytest.mark.parametrize("start", [Status.PUBLISHED, Status.DRAFT])
def test_workflow_fields_in_a_tampered_post_are_ignored(client_as, users, start):
    drug = make_drug(how_it_works=OLD, status=start)
    someone_elses = ensure_draft(make_drug(status=Status.DRAFT))  # a revision of another record
    url = admin_url(Drug, "change", drug.pk)
    tampered = {
        "status": Status.PUBLISHED, "reviewed_by": users[EDITOR].pk, "reviewed_on": "2024-01-01",
        "review_due": "2099-01-01", "last_published_at": "2024-01-01 00:00", "version": 99,
        "live_revision": someone_elses.pk, "draft_revision": someone_elses.pk,
    }  # fmt: skip
    assert_saved(open_and_post(client_as(EDITOR), url, how_it_works=NEW, **tampered))
    drug = fresh(drug)
    assert drug.status == start and drug.reviewed_by is None and drug.reviewed_on is None and drug.review_due is None
    assert drug.last_published_at is None and drug.live_revision is None
    assert drug.draft_revision.data["fields"]["how_it_works"] == NEW
    assert drug.draft_revision.created_by == users[EDITOR]
    if start == Status.PUBLISHED:
        assert drug.how_it_works == OLD and "Typed-in" not in public_html(drug.get_absolute_url())
    else:
        assert patient_sees([drug.get_absolute_url()])[drug.get_absolute_url()][0] == 404


# --- 2. every admin view that writes checks permission on POST ------------------------------------------

REFUSED_ROLES = [VIEW_ONLY, NO_GROUP, ANONYMOUS]
# Every list action of publishable content; an editor is offered "submit_selected" only.
LIST_ACTIONS = {*DraftAdmin.actions, "delete_selected"}


@pytest.mark.parametrize("role", REFUSED_ROLES)
@pytest.mark.parametrize("model", PUBLISHABLE)
def test_change_add_history_and_delete_views_refuse_who_may_not_change(client_as, django_user_model, model, role):
    setting = scene(model, django_user_model)
    record, field = setting.record, setting.field
    first = record.history.get()
    add_fields, _pages, _marker = addition(model, django_user_model)
    editor = client_as(EDITOR)  # opens the forms the refused user then posts, as a crafted request would
    change, add, history = admin_url(model, "change", record.pk), admin_url(model, "add"), history_url(record, first)
    posts = {
        "change form": (change, form_data(editor.get(change), **{field: NEW})),
        "add form": (add, form_data(editor.get(add), **add_fields)),
        "history (revert) form": (history, form_data(editor.get(history), **{field: NEW})),
        "delete": (admin_url(model, "delete", record.pk), {"post": "yes"}),
    }
    pages, state = patient_sees(setting.pages), database_state()
    for what, (url, data) in posts.items():
        response = client_as(role).post(url, data)
        assert refused(response, role), (what, response.status_code)
    assert database_state() == state
    assert patient_sees(setting.pages) == pages


def test_editors_cannot_delete_anything(client_as, django_user_model):
    records = [scene(model, django_user_model).record for model in PUBLISHABLE]
    state = database_state()
    for record in records:
        response = client_as(EDITOR).post(admin_url(type(record), "delete", record.pk), {"post": "yes"})
        assert response.status_code == 403, type(record)
        data = {"action": "delete_selected", "_selected_action": [record.pk], "post": "yes"}
        response = client_as(EDITOR).post(admin_url(type(record), "changelist"), data)
        assert response.status_code == 302
        assert "No action selected." in messages_of(client_as(EDITOR).get(response["Location"]))
    assert database_state() == state


@pytest.fixture
def drafts_of_everything(django_user_model):
    """A live record of every publishable model, each with a draft sent for review; and the pages showing them."""
    records, pages = [], []
    for model in PUBLISHABLE:
        setting = scene(model, django_user_model)
        with editing(None, setting.record) as session:
            setattr(session.record, setting.field, NEW)
            session.record.save()
        records.append(fresh(setting.record))
        pages += setting.pages
    for record in records:
        submit(record)
    return [fresh(record) for record in records], pages


@pytest.mark.parametrize("role", [EDITOR, *REFUSED_ROLES])
def test_list_actions_refuse_who_may_not_take_them(client_as, drafts_of_everything, role):
    records, pages = drafts_of_everything
    seen, state = patient_sees(pages), database_state()
    for action in sorted(LIST_ACTIONS):
        for record in records:
            model = type(record)
            data = {"action": action, "_selected_action": [record.pk], "post": "yes"}  # "post": delete confirmed
            response = client_as(role).post(admin_url(model, "changelist"), data)
            if role in (ANONYMOUS, NO_GROUP):
                assert refused(response, role), (action, model, response.status_code)
            elif role == VIEW_ONLY:  # may see the list, is offered no action at all
                assert response.status_code == 200 and response.context["action_form"] is None, (action, model)
            elif action == "submit_selected":  # the one action an editor has: already in review, nothing to do
                assert response.status_code == 302
            else:  # not offered to an editor: the admin refuses it as an unknown action
                assert response.status_code == 302, (action, model)
                assert "No action selected." in messages_of(client_as(role).get(response["Location"]))
    assert database_state() == state
    assert patient_sees(pages) == seen


@pytest.mark.parametrize("role", [EDITOR, *REFUSED_ROLES])
@pytest.mark.parametrize("screen", ["records", "page"])
def test_the_review_screen_refuses_who_may_not_publish(client_as, drafts_of_everything, role, screen):
    records, pages = drafts_of_everything
    revisions = [record.draft_revision_id for record in records]
    url = review_url(*records) if screen == "records" else review_url(page=pages[0])
    seen, state = patient_sees(pages), database_state()
    for action in ["publish", "schedule", "send_back"]:
        data = {"revision": revisions, "action": action, "go_live_at_0": "2099-01-01", "go_live_at_1": "10:00"}
        response = client_as(role).post(url, {**data, "comment": "Not good enough.", "note": "x"})
        assert refused(response, role), (action, response.status_code)
    assert database_state() == state
    assert patient_sees(pages) == seen
    if role == EDITOR:  # an editor may look: the screen offers nothing to tick
        screen = client_as(EDITOR).get(url)
        assert NEW in proposed(screen) and not re.search(r'<input[^>]*name="revision"', screen.content.decode())


@pytest.mark.parametrize("role", [SUPERUSER, REVIEWER])
def test_reviewers_publish_schedule_and_send_back_on_the_review_screen(client_as, users, drafts_of_everything, role):
    records, pages = drafts_of_everything
    by_model = {type(record): record for record in records}
    drug, glossary_term, profile = by_model[Drug], by_model[GlossaryTerm], by_model[ReviewerProfile]
    client = client_as(role)
    url = review_url(drug, glossary_term, profile)
    response = client.post(url, {"revision": [drug.draft_revision_id], "action": "send_back", "comment": "Cite it."})
    assert response.status_code == 302
    revision = Revision.objects.get(pk=drug.draft_revision_id)
    assert revision.state == State.DRAFT and revision.comment == "Cite it." and revision.sent_back_by == users[role]
    assert "Cite it." in client_as(EDITOR).get(admin_url(Drug, "change", drug.pk)).content.decode()
    data = {"revision": [glossary_term.draft_revision_id], "action": "schedule", "minor": "on"}
    response = client.post(url, {**data, "go_live_at_0": "2099-01-01", "go_live_at_1": "10:00"})
    assert response.status_code == 302
    assert Revision.objects.get(pk=glossary_term.draft_revision_id).state == State.SCHEDULED
    assert PageCacheGeneration.objects.get().next_go_live == datetime.datetime(2099, 1, 1, 10, tzinfo=datetime.UTC)
    response = client.post(url, {"revision": [profile.draft_revision_id], "action": "publish", "minor": "on"})
    assert response.status_code == 302
    assert fresh(profile).display_name == NEW and fresh(profile).reviewed_by == users[role]
    assert fresh(drug).how_it_works == OLD and fresh(glossary_term).definition == OLD  # not published (yet)


@pytest.fixture
def published_twice(django_user_model):
    """For each publishable model, a record published as "Second wording" and then as "Third wording"."""
    found = []
    for model in PUBLISHABLE:
        setting = scene(model, django_user_model)
        publish_second_version(setting.record, setting.field)
        record = publish_second_version(setting.record, setting.field, "Third wording")
        second = revisions_of(record).get(number=1)
        assert second.data["fields"][setting.field] == "Second wording"
        found.append((record, second, setting))
    return found


@pytest.mark.parametrize("role", REFUSED_ROLES)
def test_revision_revert_refuses_who_may_not_change(client_as, published_twice, role):
    pages = [url for _record, _revision, setting in published_twice for url in setting.pages]
    seen, state = patient_sees(pages), database_state()
    for record, second, _setting in published_twice:
        response = client_as(role).post(reverse("admin:editorial_revision_revert", args=[second.pk]))
        assert refused(response, role), (type(record), response.status_code)
    assert database_state() == state
    assert patient_sees(pages) == seen


def test_editor_revision_revert_is_a_draft_until_published(client_as, users, published_twice):
    for record, second, setting in published_twice:
        before, live_before = patient_sees(setting.pages), live_state(record)
        response = client_as(EDITOR).post(reverse("admin:editorial_revision_revert", args=[second.pk]))
        assert response.status_code == 302 and response["Location"] == admin_url(type(record), "change", record.pk)
        draft = fresh(record).draft_revision
        assert draft.based_on == second and draft.state == State.DRAFT and draft.created_by == users[EDITOR]
        assert draft.data == second.data
        assert live_state(record) == live_before and patient_sees(setting.pages) == before
        publish_on_review_screen(client_as(REVIEWER), review_url(record))
        seen = patient_sees(setting.pages, from_cache=True)
        assert shows(seen, "Second wording") and shows_nowhere(seen, "Third wording"), type(record)


@pytest.mark.parametrize("role", REFUSED_ROLES)
def test_reference_import_refuses_who_may_not_add(client_as, role):
    importer = reverse("admin:references_reference_import")
    for data in [{"text": BIBTEX, "format": ""}, {"confirm": "1", "token": "any"}]:
        assert refused(client_as(role).post(importer, data), role)
    assert not Reference.objects.exists()


def test_revisions_themselves_are_read_only_even_for_a_superuser(client_as, drafts_of_everything):
    records, _pages = drafts_of_everything
    revision = records[0].draft_revision
    state = database_state()
    client = client_as(SUPERUSER)
    for url in [
        reverse("admin:editorial_revision_change", args=[revision.pk]),
        reverse("admin:editorial_revision_delete", args=[revision.pk]),
        reverse("admin:editorial_revision_add"),
    ]:
        assert client.post(url, {"state": State.PUBLISHED, "data": "{}", "post": "yes"}).status_code == 403, url
    assert database_state() == state


# --- 3. approving pins the revision --------------------------------------------------------------------


def change_drug(client, drug, text, **extra):
    assert_saved(open_and_post(client, admin_url(Drug, "change", drug.pk), how_it_works=text, **extra))
    return fresh(drug).draft_revision


@pytest.mark.parametrize("action", ["publish", "schedule", "send_back"])
def test_the_reviewer_acts_only_on_the_revision_they_saw(client_as, action):
    drug = make_drug(how_it_works=OLD)
    url = review_url(drug)
    seen = change_drug(client_as(EDITOR), drug, NEW, submit_for_review="on")
    assert seen.state == State.IN_REVIEW
    screen = client_as(REVIEWER).get(url)
    assert [change["revision"] for change in screen.context["pending"]] == [seen]
    newer = change_drug(client_as(EDITOR), drug, "Changed after the reviewer opened it")
    assert newer.state == State.IN_REVIEW  # still in review: the reviewer must see this one

    data = {"revision": [seen.pk], "action": action, "comment": "Fine.", "minor": "on", "go_live_at_0": "2099-01-01"}
    response = client_as(REVIEWER).post(url, {**data, "go_live_at_1": "10:00"})
    assert response.status_code == 200
    assert f"changed after you opened it: review revision {newer.number} instead" in " ".join(messages_of(response))
    assert [change["revision"] for change in response.context["pending"]] == [newer]
    assert "Changed after the reviewer opened it" in proposed(response)
    assert fresh(seen).state == State.SUPERSEDED and fresh(newer).state == State.IN_REVIEW
    assert fresh(newer).approved_by is None and fresh(newer).comment == ""
    assert fresh(drug).how_it_works == OLD and fresh(drug).draft_revision == newer
    assert OLD in public_html(drug.get_absolute_url())

    response = client_as(REVIEWER).post(url, {"revision": [newer.pk], "action": "publish", "minor": "on"})
    assert response.status_code == 302
    assert registry.snapshot(fresh(drug)) == newer.data
    assert "Changed after the reviewer opened it" in public_html(drug.get_absolute_url(), from_cache=True)


def test_a_scheduled_approval_goes_back_to_review_when_the_editor_changes_the_draft(client_as):
    with time_machine.travel(NOON, tick=False) as clock:
        drug = make_drug(how_it_works=OLD)
        page = drug.get_absolute_url()
        approved = change_drug(client_as(EDITOR), drug, NEW, submit_for_review="on")
        data = {
            "revision": [approved.pk],
            "action": "schedule",
            "minor": "on",
            "go_live_at_0": "2027-03-03",
            "go_live_at_1": "13:00",
        }
        assert client_as(REVIEWER).post(review_url(drug), data).status_code == 302
        assert fresh(approved).state == State.SCHEDULED and fresh(drug).editorial_state == "Live + scheduled"

        newer = change_drug(client_as(EDITOR), drug, "Changed after approval")
        assert fresh(approved).state == State.SUPERSEDED
        assert newer.state == State.IN_REVIEW and newer.approved_by is None and newer.go_live_at is None
        assert fresh(drug).editorial_state == "Live + in review"
        assert PageCacheGeneration.objects.get().next_go_live is None

        clock.move_to(NOON + datetime.timedelta(hours=2))  # past the approved time: nothing unseen goes live
        html = public_html(page, from_cache=True)
        assert OLD in html and NEW not in html and "Changed after approval" not in html
        assert fresh(drug).how_it_works == OLD and fresh(drug).draft_revision == newer


def test_the_change_form_says_when_an_approved_change_goes_live(client_as):
    with time_machine.travel(NOON, tick=False):
        drug = make_drug(how_it_works=OLD)
        approved = change_drug(client_as(EDITOR), drug, NEW, submit_for_review="on")
        data = {
            "revision": [approved.pk],
            "action": "schedule",
            "minor": "on",
            "go_live_at_0": "2027-03-03",
            "go_live_at_1": "13:00",
        }
        assert client_as(REVIEWER).post(review_url(drug), data).status_code == 302
        html = client_as(EDITOR).get(admin_url(Drug, "change", drug.pk)).content.decode()
        state = re.search(r'field-editorial_status.*?<div class="readonly">(.*?)</div>', html, flags=re.S).group(1)
        assert "<strong>Live + scheduled</strong>" in state
        assert "Approved; goes live on 03 Mar 2027 13:00." in state


# --- 4. a live page never links content that is not live ----------------------------------------------


def link_case(case):
    """(record an editor changes, form changes that link a new, not yet live, target to it; the target; the
    public page that shows the link; what that page shows once both are live)."""
    if case in ("section cites a reference", "trial reported in a reference", "definition cites a reference"):
        target = make_reference(key="new-2024", title="A newly added study", status=Status.DRAFT)
        marker = "A newly added study"
        if case == "section cites a reference":
            record = make_section(make_overview())
            return record, {"body": "A fact [@new-2024]."}, target, record.overview.get_absolute_url(), marker
        if case == "trial reported in a reference":
            record = make_trial()
            return record, {"references": [target.pk]}, target, record.get_absolute_url(), marker
        record = make_term()
        return record, {"definition": "A lining [@new-2024]."}, target, "/glossary/", marker
    if case == "section's trials table":
        target = make_trial(title="A newly added trial", status=Status.DRAFT)
        record = make_section(make_overview())
        changes = {"trials": [target.pk], "trials_caption": "Trials"}
        return record, changes, target, record.overview.get_absolute_url(), "A newly added trial"
    if case == "section discusses a drug":
        target = make_drug(generic_name="Newdrugumab", slug="newdrugumab", status=Status.DRAFT)
        record = make_section(make_overview(), heading="The discussing section")
        return record, {"drugs": [target.pk]}, target, target.get_absolute_url(), "The discussing section"
    if case == "trial's regimen":
        target = make_regimen(make_drug(), name="A newly added regimen", status=Status.DRAFT)
        record = make_trial()
        return record, {"regimen": target.pk}, target, record.get_absolute_url(), "A newly added regimen"
    assert case == "regimen's drug"
    target = make_drug(generic_name="Newdrugumab", slug="newdrugumab", status=Status.DRAFT)
    record = make_regimen(make_drug())
    trial = make_trial(regimen=record)
    return record, {"regimen_drugs-0-drug": target.pk}, target, trial.get_absolute_url(), 'href="/drugs/newdrugumab/"'


@pytest.mark.parametrize(
    "case",
    [
        "section cites a reference",
        "trial reported in a reference",
        "definition cites a reference",
        "section's trials table",
        "section discusses a drug",
        "trial's regimen",
        "regimen's drug",
    ],
)
def test_publishing_is_refused_while_a_live_page_would_link_content_that_is_not_live(client_as, case):
    record, changes, target, page, marker = link_case(case)
    assert_saved(open_and_post(client_as(EDITOR), admin_url(type(record), "change", record.pk), **changes))
    before, live_before = patient_sees([page]), live_state(record)
    draft = fresh(record).draft_revision

    response = client_as(REVIEWER).post(
        review_url(record), {"revision": [draft.pk], "action": "publish", "minor": "on"}
    )
    assert response.status_code == 200
    message = " ".join(messages_of(response))
    assert "Nothing was published" in message and "is not live" in message and str(target) in message
    assert "Publish it in the same step" in message
    assert live_state(record) == live_before and fresh(record).draft_revision == draft
    assert fresh(target).status == Status.DRAFT
    assert patient_sees([page]) == before

    # Scheduling it is refused at once, too: it would fail at go-live time.
    data = {
        "revision": [draft.pk],
        "action": "schedule",
        "minor": "on",
        "go_live_at_0": "2099-01-01",
        "go_live_at_1": "10:00",
    }
    response = client_as(REVIEWER).post(review_url(record), data)
    assert response.status_code == 200 and "is not live" in " ".join(messages_of(response))
    assert fresh(draft).state != State.SCHEDULED

    shown = publish_on_review_screen(client_as(REVIEWER), review_url(record, target))  # together, in one step
    assert len(shown) == 2
    assert fresh(record).live_revision == draft and fresh(target).status == Status.PUBLISHED
    assert marker in public_html(page, from_cache=True)


def archive_case(case):
    """(a live record that live content shows, the page showing it)"""
    overview = make_overview()
    section = make_section(overview, body="A fact [@cited-2020].")
    if case == "drug discussed in a section":
        drug = make_drug()
        section.drugs.add(drug)
        return drug, drug.get_absolute_url()
    if case == "trial in a trials table":
        trial = make_trial(title="A trial in the table")
        section.trials.add(trial)
        return trial, overview.get_absolute_url()
    if case == "regimen of a trial":
        trial = make_trial(regimen=make_regimen(make_drug()))
        return trial.regimen, trial.get_absolute_url()
    if case == "drug of a regimen":
        drug = make_drug()
        trial = make_trial(regimen=make_regimen(drug))
        return drug, trial.get_absolute_url()
    if case == "reference cited in a section":
        return Reference.objects.get(key="cited-2020"), overview.get_absolute_url()
    if case == "reference reporting a trial":
        reference = make_reference()
        trial = make_trial(references=[reference])
        return reference, trial.get_absolute_url()
    assert case == "page a next link leads to"
    target = make_overview(title="The next page")
    NextLink.objects.create(overview=overview, label="Read on", target=target, position=1)
    return target, overview.get_absolute_url()


@pytest.mark.parametrize(
    "case",
    [
        "drug discussed in a section",
        "trial in a trials table",
        "regimen of a trial",
        "drug of a regimen",
        "reference cited in a section",
        "reference reporting a trial",
        "page a next link leads to",
    ],
)
def test_unpublishing_or_deleting_what_live_content_shows_is_refused(client_as, case):
    make_reference(key="cited-2020")
    record, page = archive_case(case)
    before, state = patient_sees([page]), database_state()
    response = run_action(client_as(REVIEWER), [record], "archive_selected")
    assert response.status_code == 302
    message = " ".join(messages_of(client_as(REVIEWER).get(response["Location"])))
    assert "is still shown on live content" in message and "0 items taken off the site" in message
    response = client_as(SUPERUSER).post(admin_url(type(record), "delete", record.pk), {"post": "yes"})
    assert response.status_code == 200 and "Cannot delete" in response.content.decode()
    assert database_state() == state
    assert patient_sees([page]) == before


def test_a_reviewer_unpublishes_what_no_live_page_shows(client_as):
    drug = make_drug(generic_name="Lonelumab", slug="lonelumab")
    assert "Lonelumab" in public_html("/drugs/")
    assert run_action(client_as(REVIEWER), [drug], "archive_selected").status_code == 302
    assert fresh(drug).status == Status.ARCHIVED
    seen = patient_sees(["/drugs/", drug.get_absolute_url()], from_cache=True)
    assert "Lonelumab" not in seen["/drugs/"][1] and seen[drug.get_absolute_url()][0] == 404


# --- 5. two people editing the same draft ---------------------------------------------------------------

CONFLICT = "Someone else saved this record after you opened it"


def test_a_section_saved_on_its_own_page_makes_the_overview_form_opened_before_stale(client_as):
    overview = make_overview()
    section = make_section(overview, body=OLD)
    url, overview_change = overview.get_absolute_url(), admin_url(Overview, "change", overview.pk)
    before = patient_sees([url])
    opened = form_data(client_as(EDITOR).get(overview_change))  # the editor opens the page with its sections
    assert_saved(open_and_post(client_as(REVIEWER), admin_url(TreatmentOption, "change", section.pk), body="Theirs."))

    response = client_as(EDITOR).post(overview_change, {**opened, "sections-0-body": "My careful text."})
    assert response.status_code == 200
    html = response.content.decode()
    assert CONFLICT in html and "My careful text." in html  # refused, and nothing the editor typed is lost
    assert fresh(section).draft_revision.data["fields"]["body"] == "Theirs."
    assert fresh(section).body == OLD and fresh(overview).draft_revision is None
    assert patient_sees([url]) == before


def test_a_section_saved_on_the_overview_page_makes_its_own_form_opened_before_stale(client_as):
    overview = make_overview()
    section = make_section(overview, body=OLD)
    section_change = admin_url(TreatmentOption, "change", section.pk)
    opened = form_data(client_as(EDITOR).get(section_change))
    assert_saved(
        open_and_post(client_as(REVIEWER), admin_url(Overview, "change", overview.pk), **{"sections-0-body": "Theirs."})
    )
    response = client_as(EDITOR).post(section_change, {**opened, "body": "My careful text."})
    assert response.status_code == 200
    html = response.content.decode()
    assert CONFLICT in html and "My careful text." in html
    assert fresh(section).draft_revision.data["fields"]["body"] == "Theirs." and fresh(section).body == OLD


def test_a_part_saved_by_someone_else_makes_the_form_opened_before_stale(client_as):
    trial = make_trial(outcomes=[("Alive", "", "11 of 20", True)])
    change = admin_url(Trial, "change", trial.pk)
    opened = form_data(client_as(EDITOR).get(change))
    assert_saved(open_and_post(client_as(REVIEWER), change, **{"outcomes-0-value": "12 of 20"}))
    response = client_as(EDITOR).post(change, {**opened, "outcomes-0-value": "13 of 20"})
    assert response.status_code == 200 and CONFLICT in response.content.decode()
    assert fresh(trial).draft_revision.data["parts"]["outcomes"][0]["fields"]["value"] == "12 of 20"
    assert list(fresh(trial).outcomes.values_list("value", flat=True)) == ["11 of 20"]


# --- what the admin offers each role -----------------------------------------------------------------

WORKFLOW_FIELDS = {"status", "reviewed_by", "reviewed_on", "review_due", "last_published_at", "live_revision",
                   "draft_revision", "version"}  # fmt: skip


@pytest.mark.parametrize("role", [EDITOR, REVIEWER, SUPERUSER, VIEW_ONLY, NO_GROUP])
def test_what_the_admin_offers_each_role(client_as, drafts_of_everything, role):
    records, _pages = drafts_of_everything
    offered_actions = {EDITOR: {"submit_selected"}, REVIEWER: LIST_ACTIONS, SUPERUSER: LIST_ACTIONS, VIEW_ONLY: None}
    for record in records:
        model = type(record)
        changelist = client_as(role).get(admin_url(model, "changelist"))
        change = client_as(role).get(admin_url(model, "change", record.pk))
        if role == NO_GROUP:
            assert changelist.status_code == change.status_code == 403
            continue
        action_form = changelist.context["action_form"]
        offered = action_form and {name for name, _label in action_form.fields["action"].choices if name}
        assert offered == offered_actions[role], model
        form = change.context["adminform"].form
        assert not WORKFLOW_FIELDS & set(form.fields), model
        # Every role that may open it sees the working draft in the form (read-only for a viewer), not the live
        # version.
        html = change.content.decode()
        assert NEW in html and OLD not in html, model
        has_review_link = "Review changes" in change.content.decode()
        assert has_review_link is (role in (REVIEWER, SUPERUSER)), model


# --- the groups themselves -----------------------------------------------------------------------


def permissions_of(name):
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
    editor, reviewer = permissions_of(EDITOR_GROUP), permissions_of(MEDICAL_REVIEWER)
    publish = {(m._meta.app_label, f"publish_{m._meta.model_name}") for m in PUBLISHABLE}
    assert len(publish) == 9 and publish <= reviewer
    assert not publish & editor
    assert not {codename for _app, codename in editor if codename.startswith("delete_")}
    for model in [*PUBLISHABLE, NextLink, TrialOutcome, RegimenDrug]:
        opts = model._meta
        wanted = {f"{action}_{opts.model_name}" for action in ("add", "change", "view")}
        assert {(opts.app_label, codename) for codename in wanted} <= editor, model
    assert ("treatments", "view_historicaloverview") in editor and ("editorial", "view_revision") in editor
    assert not {codename for _app, codename in editor if codename.endswith("_revision") and "view" not in codename}
    assert editor < reviewer


def test_groups_migration_is_idempotent(keep_app_registry):
    before = {name: permissions_of(name) for name in [EDITOR_GROUP, MEDICAL_REVIEWER]}
    ensure_editorial_groups(django_apps)
    ensure_editorial_groups(django_apps)
    for name, permissions in before.items():
        assert Group.objects.filter(name=name).count() == 1
        assert permissions_of(name) == permissions
    assert Group.objects.count() == 2


def test_groups_migration_restores_a_removed_permission(keep_app_registry):
    reviewer = Group.objects.get(name=MEDICAL_REVIEWER)
    publish = Permission.objects.get(content_type__app_label="references", codename="publish_reference")
    before = permissions_of(MEDICAL_REVIEWER)
    reviewer.permissions.remove(publish)
    assert ("references", "publish_reference") not in permissions_of(MEDICAL_REVIEWER)
    ensure_editorial_groups(django_apps)
    assert permissions_of(MEDICAL_REVIEWER) == before


def test_groups_migration_leaves_the_app_registry_intact(keep_app_registry):
    ensure_editorial_groups(django_apps)
    damaged = [c.label for c in django_apps.get_app_configs() if c.models_module != keep_app_registry[c.label]]
    assert damaged == []
