import re
import unicodedata
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from editorial.models import Publishable, publish_permissions
from mesoinfo.markdown_limits import MarkdownTooComplex
from mesoinfo.markdown_limits import check as check_markdown

from .citations import find_keys

PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/{}/"
# Control characters and whitespace inside a URL are how browsers get tricked into other schemes.
_UNSAFE_URL = re.compile(r"[\x00-\x20\x7f]")
DOI_URL = "https://doi.org/{}"


def normalise_title(title):
    """A title reduced for matching: no accents, case, punctuation or extra spaces."""
    ascii_title = unicodedata.normalize("NFKD", title or "").encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", ascii_title.lower()).strip()


class Reference(Publishable):
    key = models.SlugField(
        _("citation key"),
        max_length=80,
        unique=True,
        validators=[RegexValidator(r"^[a-z0-9][a-z0-9_-]*$", _("Use lower-case letters, numbers and hyphens only."))],
        help_text=_(
            "Short name used to cite this work in any text box, e.g. vogelzang-2003. "
            "Write [@vogelzang-2003] where the fact appears. Lower case, numbers and hyphens."
        ),
    )
    authors = models.TextField(
        _("authors"),
        blank=True,
        help_text=_("As printed in Vancouver style: 'Vogelzang NJ, Rusthoven JJ, Symanowski J, et al'."),
    )
    title = models.TextField(_("title"), help_text=_("Title of the article or abstract, as published."))
    source = models.CharField(
        _("journal or source"),
        max_length=255,
        blank=True,
        help_text=_("Journal abbreviation (J Clin Oncol) or the meeting proceedings."),
    )
    year = models.PositiveSmallIntegerField(_("year"), null=True, blank=True)
    volume = models.CharField(_("volume"), max_length=32, blank=True)
    issue = models.CharField(_("issue"), max_length=32, blank=True)
    pages = models.CharField(_("pages"), max_length=32, blank=True, help_text=_("e.g. 2636-2644"))
    note = models.CharField(
        _("note"), max_length=255, blank=True, help_text=_("e.g. 'Abstract 2534' for a conference abstract.")
    )
    pmid = models.CharField(
        _("PMID"),
        max_length=12,
        blank=True,
        validators=[RegexValidator(r"^\d{1,12}$", _("A PMID is digits only, e.g. 12860938."))],
        help_text=_("PubMed ID. Leave empty unless you have checked it in PubMed."),
    )
    doi = models.CharField(
        _("DOI"),
        max_length=255,
        blank=True,
        validators=[
            RegexValidator(r"^10\.\S+/\S+$", _("A DOI starts with 10. and has a slash, e.g. 10.1200/JCO.2003.11.136."))
        ],
        help_text=_("Digital Object Identifier without https://doi.org/. Leave empty unless verified."),
    )
    url = models.URLField(_("URL"), blank=True, help_text=_("Only when there is no PMID or DOI."))

    history = HistoricalRecords()

    class Meta:
        ordering = ["key"]
        verbose_name = _("reference")
        verbose_name_plural = _("references")
        permissions = publish_permissions("reference", "references")
        constraints = [
            models.UniqueConstraint(fields=["pmid"], condition=~models.Q(pmid=""), name="reference_unique_pmid"),
            models.UniqueConstraint(Lower("doi"), condition=~models.Q(doi=""), name="reference_unique_doi"),
        ]

    def __str__(self):
        return f"{self.key}: {self.title[:80]}"

    def used_by(self):
        """Every object that cites or lists this reference, through any relation to it."""
        users = []
        for relation in self._meta.related_objects:
            model = relation.related_model
            if model._meta.model_name.startswith("historical"):
                continue
            users += model._default_manager.filter(**{relation.field.name: self}).distinct()
        return users

    @property
    def pubmed_url(self):
        return PUBMED_URL.format(self.pmid) if self.pmid else ""

    @property
    def link_url(self):
        """The URL, only if it is a web address: a link never runs script, whatever was stored."""
        return (
            self.url
            if urlsplit(self.url.strip()).scheme.lower() in ("http", "https") and not _UNSAFE_URL.search(self.url)
            else ""
        )

    @property
    def doi_url(self):
        return DOI_URL.format(self.doi) if self.doi else ""

    def citation(self):
        """The reference in AMA (Vancouver-family) style, as plain text."""
        parts = []
        if self.authors:
            parts.append(self.authors.rstrip(". ") + ".")
        parts.append(self.title.rstrip(". ") + ".")
        if self.source:
            parts.append(self.source.rstrip(". ") + ".")
        locator = self._locator()
        if locator:
            parts.append(locator + ".")
        if self.note:
            parts.append(self.note.rstrip(". ") + ".")
        if self.doi:
            parts.append(f"doi:{self.doi}")
        return " ".join(parts)

    def _locator(self):
        """'2003;21(14):2636-2644' with whatever parts are known."""
        text = str(self.year) if self.year else ""
        if self.volume:
            text += f";{self.volume}"
            if self.issue:
                text += f"({self.issue})"
        elif self.issue:
            text += f";({self.issue})"
        if self.pages:
            text += f":{self.pages}"
        return text


class CitingModel(models.Model):
    """Content whose Markdown fields cite references with [@key] markers.

    `markdown_fields` names the fields that may cite. The `cites` relation is
    derived from their text on every save, so it is always what the text says,
    whichever way the object was saved (admin, shell, import).
    """

    markdown_fields: tuple[str, ...] = ()

    cites = models.ManyToManyField(
        Reference,
        blank=True,
        editable=False,
        related_name="%(app_label)s_%(class)s_citing",
        verbose_name=_("cited references"),
    )

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        for name in self.markdown_fields:
            # Browsers submit CRLF; store one kind of line break so history diffs show real changes only.
            setattr(self, name, (getattr(self, name) or "").replace("\r\n", "\n"))
        super().save(*args, **kwargs)
        self.cites.set(Reference.objects.filter(key__in=self.cited_keys()))

    def cited_keys(self):
        keys = []
        for name in self.markdown_fields:
            keys += [key for key in find_keys(getattr(self, name)) if key not in keys]
        return keys

    def clean(self):
        super().clean()
        errors = {}
        for name in self.markdown_fields:
            try:
                check_markdown(getattr(self, name))
            except MarkdownTooComplex as error:
                errors[name] = str(error)
        known = set(Reference.objects.filter(key__in=self.cited_keys()).values_list("key", flat=True))
        for name in self.markdown_fields:
            if name in errors:
                continue
            unknown = [key for key in find_keys(getattr(self, name)) if key not in known]
            if unknown:
                errors[name] = _(
                    "Unknown reference key: %(keys)s. Add the reference under References first, "
                    "or check the spelling of the key."
                ) % {"keys": ", ".join(unknown)}
        if errors:
            raise ValidationError(errors)
