"""The editorial workflow in the admin: change forms write drafts; reviewers review, publish, schedule.

`DraftAdmin` is the base of every publishable model's admin. Its change form, inlines and history
("revert") form run inside `workflow.editing`, so what is saved becomes the record's working draft
and the live version does not change. Reviewing happens on one screen (`review_view`), for one
record, a list selection, or everything a public page shows.
"""

import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AdminSplitDateTime
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import Resolver404, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from mesoinfo.admin import ContentAdmin
from mesoinfo.concurrency import VersionCheckedForm

from . import compare, preview, registry, workflow
from .models import Revision, Status

State = Revision.State


def admin_url(obj, action="change"):
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{action}", args=[obj.pk])


def _keys(records):
    return ",".join(f"{r._meta.label_lower}:{r.pk}" for r in records)


def review_url(*records, page=None):
    """The review screen for `records`, or for everything pending on the public page at `page` (`records` then
    names the record that is the page, whose review a reviewer can record there too)."""
    if page is not None:
        return f"{reverse('admin:editorial_revision_review')}?page={page}&record={_keys(records)}"
    return f"{reverse('admin:editorial_revision_review')}?records={_keys(records)}"


class StateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("live", _("Live, no changes")),
            ("changed", _("Live + draft")),
            ("in_review", _("In review")),
            ("scheduled", _("Scheduled")),
            ("draft", _("Not yet live")),
            ("unpublished", _("Unpublished")),
        ]

    def queryset(self, request, queryset):
        match self.value():
            case "live":
                return queryset.filter(status=Status.PUBLISHED, draft_revision__isnull=True)
            case "changed":
                return queryset.filter(status=Status.PUBLISHED, draft_revision__isnull=False)
            case "in_review":
                return queryset.filter(draft_revision__state=State.IN_REVIEW)
            case "scheduled":
                return queryset.filter(draft_revision__state=State.SCHEDULED)
            case "draft":
                return queryset.filter(status=Status.DRAFT)
            case "unpublished":
                return queryset.filter(status=Status.ARCHIVED)
        return queryset


class ReviewStateFilter(admin.SimpleListFilter):
    title = _("medical review")
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [
            ("awaiting", _("Awaiting review")),
            ("overdue", _("Review overdue")),
            ("due-soon", _("Review due within 30 days")),
            ("never", _("Never reviewed")),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        match self.value():
            case "awaiting":
                return queryset.awaiting_review()
            case "overdue":
                return queryset.review_overdue()
            case "due-soon":
                return queryset.filter(review_due__gte=today, review_due__lte=today + datetime.timedelta(days=30))
            case "never":
                return queryset.filter(reviewed_on__isnull=True)
        return queryset


class WorkflowForm(VersionCheckedForm):
    submit_for_review = forms.BooleanField(
        label=_("Send for medical review when I save"),
        required=False,
        help_text=_("Your change is saved as a draft either way; a medical reviewer checks it and publishes it."),
    )


class DraftAdmin(ContentAdmin):
    """Admin for publishable content: every save is a draft; publishing is a reviewer's separate step."""

    form = WorkflowForm
    change_form_template = "admin/editorial/change_form.html"
    object_history_form_template = "admin/editorial/object_history_form.html"
    list_filter = [StateFilter, ReviewStateFilter]
    actions = ["submit_selected", "review_selected", "mark_reviewed_selected", "archive_selected"]
    review_fieldset = (_("Medical review"), {"fields": ["editorial_status", "submit_for_review"]})

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("draft_revision")

    def get_fieldsets(self, request, obj=None):
        return [*super().get_fieldsets(request, obj), self.review_fieldset]

    def get_fields(self, request, obj=None):
        hidden = {"submit_for_review", "version_token", "editorial_status"}
        return [name for name in super().get_fields(request, obj) if name not in hidden]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "editorial_status"]

    def has_publish_permission(self, request):
        return workflow.can_publish(request.user, self.model)

    @admin.display(description=_("state"))
    def state(self, obj):
        return obj.editorial_state

    @admin.display(description=_("state"))
    def editorial_status(self, obj):
        if obj is None or obj.pk is None:
            return _("New: it is saved as a draft and goes live only when a medical reviewer publishes it.")
        lines = [format_html("<strong>{}</strong>", obj.editorial_state)]
        if obj.status == Status.PUBLISHED and obj.reviewed_on:
            lines.append(
                format_html("Live version medically reviewed by {} on {}.", obj.reviewer_display, obj.reviewed_on)
            )
        draft = obj.draft_revision
        if draft is not None:
            who = draft.created_by.get_username() if draft.created_by else _("someone")
            lines.append(
                format_html(
                    "Working draft: revision {}, saved by {} {} ago.", draft.number, who, timesince(draft.created_at)
                )
            )
            if draft.state == State.SCHEDULED:
                when = timezone.localtime(draft.go_live_at).strftime("%d %b %Y %H:%M")
                lines.append(format_html("Approved; goes live on {}.", when))
            if draft.comment:
                sender = draft.sent_back_by.get_username() if draft.sent_back_by else _("the system")
                lines.append(format_html("<strong>Sent back by {}:</strong> {}", sender, draft.comment))
        return format_html("<br>".join(["{}"] * len(lines)), *lines)

    # --- saving: drafts -------------------------------------------------------------------------

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        pk = unquote(object_id) if object_id else None
        return self._in_draft(request, pk, super().changeform_view, request, object_id, form_url, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """simple-history's "revert" form: an old version opened as a form; saving it makes a draft."""
        pk = unquote(object_id)
        if request.method == "POST":
            obj = self.get_object(request, pk)
            if obj is None or not self.has_change_permission(request, obj):
                raise PermissionDenied
        return self._in_draft(request, pk, super().history_form_view, request, object_id, version_id, extra_context)

    def _in_draft(self, request, pk, view, *args):
        saving = request.method == "POST"
        try:
            with workflow.editing(request.user, self.model if pk else None, pk, lock=saving) as session:
                response = view(*args)
                if callable(getattr(response, "render", None)):
                    response.render()
        except workflow.EditConflict as error:
            messages.error(request, str(error))
            return redirect(request.get_full_path())
        except workflow.WorkflowError as error:
            messages.error(request, str(error))
            return redirect(request.get_full_path())
        for revision in session.revisions:
            self._tell_saved(request, revision)
        if saving and response.status_code == 302 and not session.revisions:
            messages.info(request, _("Nothing changed, so no draft was saved."))
        return response

    def _tell_saved(self, request, revision):
        record = workflow.record_of(revision)
        if revision.state == State.IN_REVIEW:
            text = _("Saved your change to %(what)s as revision %(n)s and sent it for medical review.")
        else:
            text = _("Saved your change to %(what)s as a draft (revision %(n)s).")
        text %= {"what": workflow.label(record), "n": revision.number}
        if record.status == Status.PUBLISHED:
            text += " " + _("Patients still see the live version until a medical reviewer publishes this one.")
        else:
            text += " " + _("It is not on the site until a medical reviewer publishes it.")
        messages.success(request, text)

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        # The admin's "… was changed successfully" is replaced by what happened to the draft (`_tell_saved`).
        if workflow.current_session() is not None and level == messages.SUCCESS:
            return
        super().message_user(request, message, level, *args, **kwargs)

    def log_addition(self, request, obj, message):
        return self._log_after_drafts(super().log_addition, request, obj, message)

    def log_change(self, request, obj, message):
        return self._log_after_drafts(super().log_change, request, obj, message)

    def _log_after_drafts(self, log, request, obj, message):
        session = workflow.current_session()
        if session is None:
            return log(request, obj, message)
        session.after(lambda: log(request, obj, message))  # the scratch copy's log entry is rolled back with it

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        session = workflow.current_session()
        if session is not None and form.cleaned_data.get("submit_for_review"):
            session.request_review(obj)

    def get_deleted_objects(self, objs, request):
        """Deleting changes no live page: live content is unpublished first (a reviewed step), and nothing live
        may still show what is deleted."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for obj in objs:
            if obj.status == Status.PUBLISHED:
                protected.append(
                    format_html("{} is live: unpublish it first (list action “Unpublish”).", workflow.label(obj))
                )
            for source, what in registry.linked_from(obj):
                if source.status == Status.PUBLISHED:
                    protected.append(format_html("{} shows it ({})", workflow.label(source), what))
        return deleted, counts, perms_needed, protected

    # --- list actions ---------------------------------------------------------------------------

    @admin.action(description=_("Send for medical review"), permissions=["change"])
    def submit_selected(self, request, queryset):
        sent = 0
        for obj in queryset:
            try:
                workflow.submit(obj, request.user)
                sent += 1
            except workflow.WorkflowError:
                continue
        self.message_user(
            request,
            ngettext("%(count)d item sent for medical review.", "%(count)d items sent for medical review.", sent)
            % {"count": sent},
        )

    @admin.action(description=_("Review and publish…"), permissions=["publish"])
    def review_selected(self, request, queryset):
        return redirect(review_url(*queryset))

    @admin.action(description=_("Record my medical review (no changes)"), permissions=["publish"])
    def mark_reviewed_selected(self, request, queryset):
        try:
            done = workflow.mark_reviewed(queryset.filter(status=Status.PUBLISHED), request.user)
        except workflow.WorkflowError as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        self.message_user(
            request,
            ngettext("Recorded your review of %(count)d item.", "Recorded your review of %(count)d items.", len(done))
            % {"count": len(done)},
        )

    @admin.action(description=_("Unpublish (take off the site)"), permissions=["publish"])
    def archive_selected(self, request, queryset):
        done = 0
        for obj in queryset.filter(status=Status.PUBLISHED):
            try:
                workflow.archive(obj, request.user)
                done += 1
            except workflow.WorkflowError as error:
                self.message_user(request, str(error), messages.ERROR)
        self.message_user(
            request,
            ngettext("%(count)d item taken off the site.", "%(count)d items taken off the site.", done)
            % {"count": done},
        )

    def _review_url(self, request, obj):
        if not self.has_publish_permission(request):
            return None
        if hasattr(obj, "get_absolute_url"):  # everything pending on the record's public page
            entry = registry.entry_for(type(obj))
            page_record = getattr(obj, entry.parent) if entry.parent else obj
            return review_url(page_record, page=obj.get_absolute_url().split("#")[0])
        return review_url(obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            context.update(
                revisions_url=f"{reverse('admin:editorial_revision_changelist')}?content_type__id__exact="
                f"{ContentType.objects.get_for_model(self.model).pk}&object_id={obj.pk}",
                compare_url=reverse("admin:editorial_revision_compare", args=[obj.draft_revision_id])
                if obj.draft_revision_id
                else None,
                review_url=self._review_url(request, obj),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)


# --- reviewing --------------------------------------------------------------------------------


class ReviewForm(forms.Form):
    revision = forms.ModelMultipleChoiceField(queryset=Revision.objects.all(), required=False)
    go_live_at = forms.SplitDateTimeField(
        label=_("Go live at"),
        required=False,
        widget=AdminSplitDateTime,
        help_text=_("Leave empty to publish now. Times are %(zone)s.") % {"zone": timezone.get_default_timezone_name()},
    )
    note = forms.CharField(
        label=_("Change note for readers"),
        required=False,
        max_length=300,
        help_text=_(
            "What changed, in plain words, e.g. 'Added the results of the KEYNOTE-028 study'. Shown under "
            "“Latest updates to this page” and in the updates feed."
        ),
    )
    minor = forms.BooleanField(
        label=_("Minor correction"),
        required=False,
        help_text=_("Typos or formatting: recorded in the page's history, not listed for readers. Then no note."),
    )
    review_page = forms.BooleanField(
        label=_("Also record my medical review of the whole page"),
        required=False,
        help_text=_("Its “Medically reviewed” date moves on to today, with your name, even where nothing changed."),
    )
    comment = forms.CharField(
        label=_("Comment for the editor"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Needed when you send changes back: say what needs to change."),
    )

    def clean(self):
        cleaned_data = super().clean()
        action = self.data.get("action")
        if not cleaned_data.get("revision") and action != "review_page":
            raise forms.ValidationError(_("Tick at least one change."))
        if action in ("publish", "schedule") and not (
            cleaned_data.get("note", "").strip() or cleaned_data.get("minor")
        ):
            self.add_error("note", _("Write a short note for readers, or tick “Minor correction”."))
        return cleaned_data


def _records_from_keys(text):
    records = []
    for key in filter(None, (text or "").split(",")):
        label, _sep, pk = key.rpartition(":")
        model = next((m for m in registry.publishable_models() if m._meta.label_lower == label), None)
        if model is not None and pk.isdigit():
            records += model._default_manager.select_related("draft_revision").filter(pk=int(pk))
    return records


def review_view(model_admin, request):
    """Everything pending for some records, or for a public page (`?page=/treatment/…/`): compare with live,
    then publish (now or at a time) or send back, in one step."""
    page = request.GET.get("page")
    if page:
        if not url_has_allowed_host_and_scheme(page, allowed_hosts=None) or not page.startswith("/"):
            raise Http404
        try:
            seen = preview.records_shown(page, request)
        except Resolver404 as error:
            raise Http404 from error
        records = preview.pending(seen.records)
        page_record = next(iter(_records_from_keys(request.GET.get("record"))), None)
        title = _("Review the changes on “%(page)s”") % {"page": page_record or page}
    else:
        records, page_record = _records_from_keys(request.GET.get("records")), None
        title = _("Review changes")
    if not any(workflow.can_publish(request.user, type(r)) for r in records) and not request.user.is_staff:
        raise PermissionDenied
    form = ReviewForm(request.POST or None)
    if page_record is None or page_record.status != Status.PUBLISHED:
        del form.fields["review_page"]
    if request.method == "POST":
        if not any(workflow.can_publish(request.user, type(r)) for r in [*records, page_record] if r):
            raise PermissionDenied
        if form.is_valid():
            done = _act(request, form, page_record)
            if done:
                return redirect(request.get_full_path())
    changes = []
    for record in records:
        # A record that was never live but has no revision (imported, loaded) gets one from its row.
        revision = record.draft_revision or workflow.ensure_draft(record)
        if revision is None:
            continue
        live = registry.snapshot(record) if record.status == Status.PUBLISHED else None
        changes.append(
            {
                "record": record,
                "revision": revision,
                "kind": record._meta.verbose_name,
                "state": record.editorial_state,
                "fields": compare.changes(type(record), live, revision.data),
                "url": admin_url(record),
                "compare_url": reverse("admin:editorial_revision_compare", args=[revision.pk]),
                "can_publish": workflow.can_publish(request.user, type(record)),
                "age": timesince(revision.submitted_at or revision.created_at),
            }
        )
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": Revision._meta,
        "form": form,
        "pending": changes,
        "page": page,
        "page_record": page_record,
        "media": model_admin.media + form.media,
    }
    return TemplateResponse(request, "admin/editorial/review.html", context)


def _act(request, form, page_record=None):
    revisions = list(form.cleaned_data["revision"])
    action = request.POST.get("action")
    try:
        if action == "review_page":
            workflow.mark_reviewed([page_record], request.user)
            messages.success(request, _("Recorded your medical review of %(what)s.") % {"what": page_record})
            return True
        if action == "send_back":
            for revision in revisions:
                workflow.send_back(revision, request.user, form.cleaned_data["comment"])
            messages.success(request, _("Sent back to the editor with your comment."))
        elif action == "schedule":
            go_live_at = form.cleaned_data.get("go_live_at")
            if go_live_at is None or go_live_at <= timezone.now():
                messages.error(request, _("Choose a go-live time in the future, or publish now."))
                return False
            workflow.approve(
                revisions,
                request.user,
                go_live_at=go_live_at,
                note=form.cleaned_data["note"],
                minor=form.cleaned_data["minor"],
            )
            messages.success(
                request,
                _("Approved. %(count)s change(s) go live on %(when)s.")
                % {"count": len(revisions), "when": timezone.localtime(go_live_at).strftime("%d %b %Y %H:%M")},
            )
        elif action == "publish":
            with transaction.atomic():
                workflow.approve(
                    revisions, request.user, note=form.cleaned_data["note"], minor=form.cleaned_data["minor"]
                )
                if form.cleaned_data.get("review_page"):
                    workflow.mark_reviewed([page_record], request.user)
            messages.success(
                request, _("Published %(count)s change(s). Patients see them now.") % {"count": len(revisions)}
            )
        else:
            messages.error(request, _("Choose what to do with the ticked changes."))
            return False
    except workflow.WorkflowError as error:
        messages.error(request, str(error))
        return False
    return True


def compare_view(model_admin, request, revision_id):
    revision = get_object_or_404(Revision, pk=revision_id)
    model = revision.content_type.model_class()
    if not model_admin.has_view_permission(request) or not request.user.has_perm(
        f"{model._meta.app_label}.view_{model._meta.model_name}"
    ):
        raise PermissionDenied
    record = model._default_manager.filter(pk=revision.object_id).first()
    if record is None:
        raise Http404
    other_id = request.GET.get("with")
    if other_id and other_id.isdigit():
        other = get_object_or_404(workflow.revisions_of(record), pk=int(other_id))
        old, old_label = other.data, _("revision %(n)s") % {"n": other.number}
        if other.number > revision.number:
            old, new = revision.data, other.data
            old_label, new_label = _("revision %(n)s") % {"n": revision.number}, old_label
        else:
            new, new_label = revision.data, _("revision %(n)s") % {"n": revision.number}
    else:
        old = registry.snapshot(record) if record.status == Status.PUBLISHED else None
        old_label = _("the live version") if old is not None else _("nothing (never live)")
        new, new_label = revision.data, _("revision %(n)s") % {"n": revision.number}
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Compare %(what)s") % {"what": workflow.label(record)},
        "opts": Revision._meta,
        "record": record,
        "record_url": admin_url(record),
        "revision": revision,
        "old_label": old_label,
        "new_label": new_label,
        "changes": compare.changes(model, old, new),
        "can_revert": request.user.has_perm(f"{model._meta.app_label}.change_{model._meta.model_name}")
        and revision.state in (State.PUBLISHED, State.SUPERSEDED),
        "revert_url": reverse("admin:editorial_revision_revert", args=[revision.pk]),
    }
    return TemplateResponse(request, "admin/editorial/compare.html", context)


def revert_view(model_admin, request, revision_id):
    if request.method != "POST":
        return redirect("admin:editorial_revision_compare", revision_id)
    revision = get_object_or_404(Revision, pk=revision_id)
    model = revision.content_type.model_class()
    if not request.user.has_perm(f"{model._meta.app_label}.change_{model._meta.model_name}"):
        raise PermissionDenied
    record = get_object_or_404(model._default_manager, pk=revision.object_id)
    try:
        new = workflow.revert(record, revision, request.user)
    except workflow.WorkflowError as error:
        messages.error(request, str(error))
        return redirect("admin:editorial_revision_compare", revision_id)
    if new is None:
        messages.info(request, _("The working version already has that content; nothing to revert."))
    else:
        messages.success(
            request,
            _("Made revision %(n)s, a draft with the content of revision %(old)s. A medical reviewer publishes it.")
            % {"n": new.number, "old": revision.number},
        )
    return redirect(admin_url(record))


class KindFilter(admin.SimpleListFilter):
    """Revisions of one kind of record (the publishable ones only)."""

    title = _("kind of record")
    parameter_name = "content_type__id__exact"

    def lookups(self, request, model_admin):
        models = registry.publishable_models()
        types = ContentType.objects.get_for_models(*models)
        return [(str(types[model].pk), model._meta.verbose_name_plural.capitalize()) for model in models]

    def queryset(self, request, queryset):
        return queryset.filter(content_type_id=self.value()) if (self.value() or "").isdigit() else queryset


@admin.register(Revision)
class RevisionAdmin(admin.ModelAdmin):
    """Every saved version of every record: read-only, with compare, revert and the review screen."""

    list_display = ["record_link", "number", "state_now", "created_by", "created_at", "submitted_at", "published_at"]
    list_filter = ["state", KindFilter]
    list_select_related = ["content_type", "created_by"]
    search_fields = ["change_note", "comment"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        queryset = super().get_queryset(request).prefetch_related("record")
        object_id = request.GET.get("object_id")
        return queryset.filter(object_id=object_id) if object_id and object_id.isdigit() else queryset

    @admin.display(description=_("state"), ordering="state")
    def state_now(self, revision):
        record = revision.record
        if record is not None and record.live_revision_id == revision.pk and record.status == Status.PUBLISHED:
            return _("Live now")
        if revision.state == State.PUBLISHED:
            return _("Was live")
        return revision.get_state_display()

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "object_id" or super().lookup_allowed(lookup, value, request)

    @admin.display(description=_("record"))
    def record_link(self, revision):
        what = revision.record if revision.record is not None else f"#{revision.object_id} (deleted)"
        return format_html(
            '<a href="{}">{}: {}</a>',
            reverse("admin:editorial_revision_compare", args=[revision.pk]),
            revision.content_type.name.capitalize(),
            what,
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(lambda request, *args, **kwargs: view(self, request, *args, **kwargs))

        return [
            path("review/", wrap(review_view), name="editorial_revision_review"),
            path("<int:revision_id>/compare/", wrap(compare_view), name="editorial_revision_compare"),
            path("<int:revision_id>/revert/", wrap(revert_view), name="editorial_revision_revert"),
            *super().get_urls(),
        ]
