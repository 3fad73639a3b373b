"""What readers say about a page: "Was this page helpful?", yes or no, and an optional comment.

Nothing about the reader is kept: no address, cookie, account or browser. The rate limit counts posts per client
address in the cache only, under a keyed hash of the address, for one window (feedback/views.py).
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

COMMENT_MAX_LENGTH = 1000


class Feedback(models.Model):
    page = models.CharField(
        _("page"), max_length=500, help_text=_("The address of the public page the reader answered about.")
    )
    helpful = models.BooleanField(_("helpful"), help_text=_("The reader's answer to “Was this page helpful?”."))
    comment = models.TextField(_("comment"), max_length=COMMENT_MAX_LENGTH, blank=True)
    created = models.DateTimeField(_("sent"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created", "-pk"]
        verbose_name = _("reader feedback")
        verbose_name_plural = _("reader feedback")
        indexes = [models.Index(fields=["page", "-created"], name="feedback_page_created")]

    def __str__(self):
        answer = _("helpful") if self.helpful else _("not helpful")
        return f"{self.page}: {answer}"
