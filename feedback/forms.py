from django import forms
from django.utils.translation import gettext_lazy as _

from .models import COMMENT_MAX_LENGTH
from .pages import MAX_PATH_LENGTH, public_page_title


class CommentField(forms.CharField):
    """Browsers send each line break as CRLF but count it as one character against `maxlength`: count it as one."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n").replace("\r", "\n") if value else value


class FeedbackForm(forms.Form):
    """The "Was this page helpful?" form at the end of each content page (templates/feedback/_form.html)."""

    page = forms.CharField(max_length=MAX_PATH_LENGTH)
    helpful = forms.ChoiceField(
        choices=[("yes", _("Yes")), ("no", _("No"))],
        error_messages={
            "required": _("Choose Yes or No."),
            "invalid_choice": _("Choose Yes or No."),
        },
    )
    comment = CommentField(
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        error_messages={
            "max_length": _(
                "Your comment is %(show_value)s characters long. It can be at most %(limit_value)s: please shorten it."
            )
        },
    )
    # The honeypot: hidden from people (CSS), filled in by programs that fill in every box.
    website = forms.CharField(required=False)

    def clean_page(self):
        path = self.cleaned_data["page"]
        self.page_title = public_page_title(path)
        if self.page_title is None:
            raise forms.ValidationError(_("We could not tell which of our pages this feedback is about."))
        return path

    @property
    def is_trap(self):
        """The hidden box was filled in: a program sent this, not a person."""
        return bool(self.data.get("website", "").strip())
