"""Every public page as patients saw it: a numbered version per change, rendered once when it went live.

`Page` is one public address (/treatment/…/, /drugs/…/, /glossary/ …); `PageVersion` is its HTML (compressed,
stored once per distinct text in `PageContent`) with when it went live, who reviewed the changes in it and the
notes for readers; `PageDependency` records which records the current version showed, so that a publish
re-renders exactly the pages that show what changed. Versions are never deleted by the application.
"""

import hashlib
import json
import zlib

from django.db import models
from django.utils.translation import gettext_lazy as _


class PageContent(models.Model):
    """One distinct rendered page, compressed; versions with the same HTML share it."""

    sha256 = models.CharField(max_length=64, unique=True)
    compressed = models.BinaryField()
    size = models.PositiveIntegerField(help_text=_("Bytes before compression."))

    def __str__(self):
        return self.sha256[:12]

    @classmethod
    def store(cls, html):
        digest = hashlib.sha256(html).hexdigest()
        content, _created = cls.objects.get_or_create(
            sha256=digest, defaults={"compressed": zlib.compress(html, 9), "size": len(html)}
        )
        return content

    @property
    def html(self):
        return self.unpack(self.compressed)

    @staticmethod
    def unpack(compressed):
        return zlib.decompress(bytes(compressed))


class Page(models.Model):
    path = models.CharField(_("address"), max_length=500, unique=True)
    current = models.ForeignKey(
        "PageVersion", models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("current version")
    )

    class Meta:
        ordering = ["path"]
        verbose_name = _("published page")
        verbose_name_plural = _("published pages")

    def __str__(self):
        return self.path

    def archive_bytes(self):
        """What this page's archive holds, in bytes: the compressed HTML of its versions (each distinct page once)
        and every version's headers, reviewers and notes."""
        contents = PageContent.objects.filter(pk__in=self.versions.values("content"))
        html = sum(len(compressed) for compressed in contents.values_list("compressed", flat=True))
        details = self.versions.values_list("headers", "reviewers", "notes")
        return html + sum(len(json.dumps(row).encode()) for row in details)


class PageVersion(models.Model):
    page = models.ForeignKey(Page, models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    went_live_at = models.DateTimeField(_("went live"), db_index=True)
    content = models.ForeignKey(PageContent, models.PROTECT, null=True, blank=True, related_name="+")
    headers = models.JSONField(default=list, help_text=_("The response headers it was served with."))
    reviewers = models.JSONField(_("reviewed by"), default=list, help_text=_("Names, as the page showed them then."))
    notes = models.JSONField(_("change notes"), default=list, help_text=_('[{"text": …, "minor": false}]'))
    listed = models.BooleanField(
        _("listed for readers"), default=False, help_text=_("It has a change note that is not a minor correction.")
    )
    revisions = models.ManyToManyField("editorial.Revision", blank=True, related_name="page_versions")
    generation = models.BigIntegerField(db_index=True, help_text=_("The content generation it went live with."))
    release = models.CharField(max_length=32, help_text=_("The code release that rendered it."))

    class Meta:
        ordering = ["page", "-number"]
        verbose_name = _("page version")
        verbose_name_plural = _("page versions")
        constraints = [models.UniqueConstraint(fields=["page", "number"], name="page_version_number_once")]
        indexes = [models.Index(fields=["listed", "-went_live_at"], name="page_version_updates")]

    def __str__(self):
        return f"{self.page.path} v{self.number}"

    @property
    def is_gone(self):
        """The page stopped being public at this version."""
        return self.content_id is None

    @property
    def listed_notes(self):
        return [note["text"] for note in self.notes if note.get("text") and not note.get("minor")]


class PageDependency(models.Model):
    """A record the current version of a page showed (object_id), or a kind of record it lists (object_id None,
    re-rendered when one is added, removed, or its `fields` change)."""

    page = models.ForeignKey(Page, models.CASCADE, related_name="dependencies")
    label = models.CharField(max_length=100)
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    fields = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [models.Index(fields=["label", "object_id"], name="page_dependency_record")]

    def __str__(self):
        return f"{self.page} → {self.label}:{self.object_id or '*'}"
