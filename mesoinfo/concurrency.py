"""No lost edits: optimistic locking with a version number.

Every save of a VersionedModel bumps `version`. The admin form carries the
version the editor started from; if the record has moved on since, the save is
refused with a message saying who changed it, and the form is shown again
with everything the editor typed.
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


class VersionCheckedForm(forms.ModelForm):
    """A ModelForm that refuses to overwrite a record changed since the form was opened."""

    version_token = forms.IntegerField(widget=forms.HiddenInput, required=False)
    # Set to False for a deliberate overwrite such as reverting to an earlier version.
    check_version = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["version_token"].initial = self.instance.version

    def clean(self):
        cleaned_data = super().clean()
        if self.instance.pk is None or not self.check_version:
            return cleaned_data
        model = type(self.instance)
        # Locked until the admin's transaction commits, so two saves cannot both pass.
        current = model._default_manager.select_for_update().filter(pk=self.instance.pk).values("version").first()
        if current is not None and cleaned_data.get("version_token") != current["version"]:
            raise ValidationError(self.conflict_message(), code="edit_conflict")
        return cleaned_data

    def conflict_message(self):
        history = getattr(type(self.instance), "history", None)
        latest = history.filter(id=self.instance.pk).order_by("-history_date").first() if history else None
        who = ""
        if latest is not None:
            user = latest.history_user
            name = (user.get_full_name() or user.get_username()) if user else _("someone")
            when = timezone.localtime(latest.history_date).strftime("%d %b %Y %H:%M")
            who = _(" (%(name)s, %(when)s)") % {"name": name, "when": when}
        return _(
            "Someone else saved this record after you opened it%(who)s, so your changes were NOT saved. "
            "Your text is still in the form below. Open the record again in a new tab to see their version, "
            "copy your changes across, and save there."
        ) % {"who": who}
