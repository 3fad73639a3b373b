"""No lost edits: optimistic locking.

A form carries a token of the version the editor started from: for publishable content, its working
draft and live revision (`edit_token`); otherwise a version number bumped on every save. If the record
has moved on since, the save is refused with a message saying who changed it, and the form is shown
again with everything the editor typed.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class VersionedModel(models.Model):
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            self.version += 1
        super().save(*args, **kwargs)


def token_of(obj):
    return str(getattr(obj, "edit_token", obj.version))


class VersionCheckedForm(forms.ModelForm):
    """A ModelForm that refuses to overwrite a record changed since the form was opened."""

    version_token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            # From the database: a history view's form holds an old copy of the record.
            current = type(self.instance)._default_manager.filter(pk=self.instance.pk).first()
            self.fields["version_token"].initial = token_of(current or self.instance)

    def clean(self):
        cleaned_data = super().clean()
        if self.instance.pk is None:
            return cleaned_data
        model = type(self.instance)
        # Locked until the admin's transaction commits, so two saves cannot both pass.
        current = model._default_manager.select_for_update().filter(pk=self.instance.pk).first()
        if current is not None and cleaned_data.get("version_token") != token_of(current):
            raise ValidationError(self.conflict_message(current), code="edit_conflict")
        return cleaned_data

    def conflict_message(self, current):
        draft = getattr(current, "draft_revision", None)
        if draft is not None:
            user, when = draft.created_by, draft.created_at
        else:
            history = getattr(type(current), "history", None)
            latest = history.filter(id=current.pk).order_by("-history_date").first() if history else None
            user, when = (latest.history_user, latest.history_date) if latest else (None, None)
        who = ""
        if when is not None:
            name = (user.get_full_name() or user.get_username()) if user else _("someone")
            who = _(" (%(name)s, %(when)s)") % {
                "name": name,
                "when": timezone.localtime(when).strftime("%d %b %Y %H:%M"),
            }
        return _(
            "Someone else saved this record after you opened it%(who)s, so your changes were NOT saved. "
            "Your text is still in the form below. Open the record again in a new tab to see their version, "
            "copy your changes across, and save there."
        ) % {"who": who}
