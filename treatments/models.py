from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Prefetch, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from markdownx.models import MarkdownxField
from simple_history.models import HistoricalRecords

# Status and REVIEW_INTERVAL are the editorial app's; imported here too, where content code has always found them.
from editorial.models import REVIEW_INTERVAL, Publishable, PublishableQuerySet, Status, publish_permissions  # noqa: F401
from mesoinfo.nct import nct_url, validate_nct_id
from references.models import CitingModel, Reference

CITE_HELP = _(
    "Markdown. Cite a source right after the fact it supports: [@vogelzang-2003], or several at once: "
    "[@taub-1997; @ong-1996]. Citations become numbered links to the reference list."
)


# The id of the "Questions to ask your care team" section on an overview page.
QUESTIONS_ANCHOR = "questions-to-ask"


class Searchable(models.Model):
    """Content found by site search: its search document is kept true on every save, like `cites`."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        from .search import index_object

        index_object(self)


class ReviewerProfile(Publishable):
    """How a medical reviewer is named on the pages they review (changed through review like all content)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviewer_profile")
    display_name = models.CharField(_("display name"), max_length=200, help_text=_("e.g. Jane Doe"))
    credentials = models.CharField(
        _("credentials"), max_length=200, blank=True, help_text=_("e.g. MD, thoracic oncologist")
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("reviewer profile")
        verbose_name_plural = _("reviewer profiles")
        permissions = publish_permissions("reviewerprofile", "reviewer profiles")

    def __str__(self):
        return f"{self.display_name}, {self.credentials}" if self.credentials else self.display_name


class OverviewQuerySet(PublishableQuerySet):
    def with_page_content(self, preview=False):
        """Everything an overview page shows, in a fixed number of queries.

        The public sees only published sections, trials, trials' drugs and questions; `preview` (staff) sees every
        state.
        """
        sections, trials, drugs = TreatmentOption.objects.all(), Trial.objects.all(), Drug.objects.all()
        questions = Question.objects.all()
        if not preview:
            sections, trials, drugs = sections.published(), trials.published(), drugs.published()
            questions = questions.published()
        trials = trials.select_related("regimen").prefetch_related("references", "outcomes", Prefetch("drugs", drugs))
        return self.select_related("reviewed_by__reviewer_profile").prefetch_related(
            Prefetch("sections", queryset=sections.prefetch_related(Prefetch("trials", queryset=trials))),
            Prefetch("next_links", queryset=NextLink.objects.select_related("target")),
            Prefetch("questions", queryset=questions),
        )


class Overview(CitingModel, Searchable, Publishable):
    """One public page per clinical situation, e.g. stage IV / recurrent pleural mesothelioma."""

    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True, help_text=_("Part of the page address."))
    stage_label = models.CharField(
        _("stage label"),
        max_length=100,
        blank=True,
        help_text=_("Short label shown above the title, e.g. 'Stage IV / Recurrent'."),
    )
    summary = models.TextField(
        _("summary"),
        help_text=_("One plain-language paragraph, no Markdown. Shown in lists and to search engines."),
    )
    intro = MarkdownxField(_("introduction"), blank=True, help_text=CITE_HELP)
    position = models.PositiveIntegerField(_("position"), default=0, help_text=_("Lower numbers come first in lists."))

    markdown_fields = ("intro",)
    objects = OverviewQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "title"]
        verbose_name = _("overview page")
        verbose_name_plural = _("overview pages")
        permissions = publish_permissions("overview", "overview pages")

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("treatments:overview-detail", args=[self.slug])


class NextLink(models.Model):
    """A "Next:" link at the foot of an overview, to a page that may not exist yet."""

    overview = models.ForeignKey(Overview, on_delete=models.CASCADE, related_name="next_links")
    label = models.CharField(_("label"), max_length=200, help_text=_("Title of the page to read next."))
    target = models.ForeignKey(
        Overview,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("links to"),
        help_text=_("Leave empty while the page does not exist: readers then see the title without a link."),
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("next link")
        verbose_name_plural = _("next links")

    def __str__(self):
        return self.label


class Drug(CitingModel, Searchable, Publishable):
    generic_name = models.CharField(_("generic name"), max_length=120, unique=True, help_text=_("e.g. pemetrexed"))
    brand_names = models.CharField(
        _("brand names"),
        max_length=255,
        blank=True,
        help_text=_("Comma-separated, without the ® sign (it is added on the site), e.g. Alimta."),
    )
    slug = models.SlugField(_("slug"), max_length=120, unique=True)
    drug_class = models.CharField(
        _("drug class"), max_length=200, blank=True, help_text=_("Only what a cited source says, e.g. 'ribonuclease'.")
    )
    how_it_works = MarkdownxField(_("how it works"), blank=True, help_text=CITE_HELP)
    approval_note = MarkdownxField(
        _("approval for mesothelioma"),
        blank=True,
        help_text=_("Markdown. What the sources say about approval, with its date and a citation."),
    )

    markdown_fields = ("how_it_works", "approval_note")
    history = HistoricalRecords()

    class Meta:
        ordering = ["generic_name"]
        verbose_name = _("drug")
        verbose_name_plural = _("drugs")
        permissions = publish_permissions("drug", "drug pages")

    def __str__(self):
        brands = ", ".join(self.brand_names_display)
        return f"{self.generic_name} ({brands})" if brands else self.generic_name

    def get_absolute_url(self):
        return reverse("treatments:drug-detail", args=[self.slug])

    @property
    def brand_names_display(self):
        """Brand names with their registered-trademark sign: ['Alimta®']."""
        return [f"{name.strip().rstrip('®')}®" for name in self.brand_names.split(",") if name.strip()]

    def trials(self):
        """Trials of this drug, given alone or in a regimen.

        The ids come from a UNION of the two links. Joining both many-to-many tables multiplies rows and needs a
        DISTINCT, and OR-ing two subqueries makes PostgreSQL read every trial (docs/performance.md).
        """
        direct = Trial.drugs.through.objects.filter(drug=self).order_by().values("trial_id")
        regimens = RegimenDrug.objects.filter(drug=self).values("regimen_id")
        in_regimen = Trial.objects.filter(regimen__in=regimens).order_by().values("id")
        return Trial.objects.filter(pk__in=direct.union(in_regimen))


class Regimen(Publishable):
    """A named combination of drugs, given in order."""

    name = models.CharField(_("name"), max_length=200, unique=True, help_text=_("e.g. pemetrexed + cisplatin"))
    drugs = models.ManyToManyField(Drug, through="RegimenDrug", related_name="regimens", verbose_name=_("drugs"))
    is_standard = models.BooleanField(
        _("standard regimen"),
        default=False,
        help_text=_("Tick only when the cited sources call this the standard regimen."),
    )
    note = models.CharField(_("note"), max_length=255, blank=True, help_text=_("e.g. 'given one after the other'."))

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("regimen")
        verbose_name_plural = _("regimens")
        permissions = publish_permissions("regimen", "regimens")

    def __str__(self):
        return self.name


class RegimenDrug(models.Model):
    regimen = models.ForeignKey(Regimen, on_delete=models.CASCADE, related_name="regimen_drugs")
    drug = models.ForeignKey(Drug, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField(_("position"), default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("drug in regimen")
        verbose_name_plural = _("drugs in regimen")
        constraints = [models.UniqueConstraint(fields=["regimen", "drug"], name="regimen_drug_once")]

    def __str__(self):
        return f"{self.regimen}: {self.drug}"


class Trial(CitingModel, Searchable, Publishable):
    class Phase(models.TextChoices):
        PHASE_1 = "1", _("Phase I")
        PHASE_1B = "1b", _("Phase Ib")
        PHASE_2 = "2", _("Phase II")
        PHASE_3 = "3", _("Phase III")

    class TrialStatus(models.TextChoices):
        RECRUITING = "recruiting", _("Recruiting")
        ACTIVE = "active", _("Active, not recruiting")
        COMPLETED = "completed", _("Completed")
        TERMINATED = "terminated", _("Stopped early")

    title = models.CharField(_("title"), max_length=300, help_text=_("Plain-language name of the study."))
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    nct_id = models.CharField(
        _("ClinicalTrials.gov number"),
        max_length=11,
        blank=True,
        validators=[validate_nct_id],
        help_text=_(
            "NCT followed by 8 digits, copied from the study's ClinicalTrials.gov page. Leave empty if the study "
            "was never registered there; never guess one."
        ),
    )
    phase = models.CharField(_("phase"), max_length=4, choices=Phase, blank=True)
    design = models.CharField(
        _("design"), max_length=300, blank=True, help_text=_("e.g. 'multicenter, compared with cisplatin alone'.")
    )
    trial_status = models.CharField(_("trial status"), max_length=20, choices=TrialStatus, blank=True)
    patient_count = models.PositiveIntegerField(
        _("number of patients"), null=True, blank=True, help_text=_("Leave empty if the sources do not give it.")
    )
    regimen = models.ForeignKey(
        Regimen, on_delete=models.PROTECT, null=True, blank=True, related_name="trials", verbose_name=_("regimen")
    )
    drugs = models.ManyToManyField(
        Drug,
        blank=True,
        related_name="single_drug_trials",
        verbose_name=_("drugs"),
        help_text=_("For studies of drugs not given as a named regimen."),
    )
    summary = MarkdownxField(_("summary"), blank=True, help_text=CITE_HELP)
    references = models.ManyToManyField(
        Reference,
        blank=True,
        related_name="trials",
        verbose_name=_("reported in"),
        help_text=_("The publications that report this study; cited in trial tables."),
    )

    markdown_fields = ("summary",)
    history = HistoricalRecords(m2m_fields=[drugs, references])

    class Meta:
        ordering = ["title"]
        # The trial list pages through trials in title order.
        indexes = [models.Index(fields=["title"], name="trial_title_idx")]
        constraints = [
            models.UniqueConstraint(fields=["nct_id"], condition=~Q(nct_id=""), name="trial_nct_id_unique"),
        ]
        verbose_name = _("trial")
        verbose_name_plural = _("trials")
        permissions = publish_permissions("trial", "trials")

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("treatments:trial-detail", args=[self.slug])

    @property
    def registry_url(self):
        return nct_url(self.nct_id) if self.nct_id else ""

    @property
    def key_result(self):
        """The outcome marked for trial tables (uses prefetched outcomes)."""
        return next((outcome for outcome in self.outcomes.all() if outcome.is_key_result), None)

    def reported_in(self):
        """The year of the trial's newest reference: when the results shown were reported (None without one)."""
        return max((reference.year for reference in self.references.all() if reference.year), default=None)

    def treatment_label(self):
        """What was given: the regimen's name, or the drugs' generic names."""
        if self.regimen_id:
            return self.regimen.name
        return " + ".join(drug.generic_name for drug in self.drugs.all())


class TrialOutcome(models.Model):
    """One result of a trial, e.g. 'stable disease — all patients — 35 of 81'."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="outcomes")
    measure = models.CharField(_("measure"), max_length=200, help_text=_("e.g. 'Alive at 1 year'"))
    population = models.CharField(
        _("population"),
        max_length=200,
        blank=True,
        help_text=_("Who it applies to, e.g. 'the 41 patients who responded'."),
    )
    value = models.CharField(_("value"), max_length=100, help_text=_("As reported, e.g. '35 of 81' or '42%'."))
    is_key_result = models.BooleanField(
        _("key result"), default=False, help_text=_("Show this result in the overview's trial table.")
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("outcome")
        verbose_name_plural = _("outcomes")

    def __str__(self):
        return f"{self.measure}: {self.value}"


class TreatmentOption(CitingModel, Searchable, Publishable):
    """A section of an overview page: one way of treating, or one line of research."""

    class Modality(models.TextChoices):
        CHEMOTHERAPY = "chemotherapy", _("Chemotherapy")
        IMMUNOTHERAPY = "immunotherapy", _("Immunotherapy")
        SURGERY = "surgery", _("Surgery")
        RADIATION = "radiation", _("Radiation therapy")
        SUPPORTIVE = "supportive", _("Supportive care")
        RESEARCH = "research", _("Research and new approaches")

    overview = models.ForeignKey(Overview, on_delete=models.CASCADE, related_name="sections")
    modality = models.CharField(_("modality"), max_length=20, choices=Modality)
    heading = models.CharField(_("heading"), max_length=200)
    slug = models.SlugField(
        _("anchor"), max_length=100, help_text=_("Used in the page address to jump to this section, e.g. 'surgery'.")
    )
    body = MarkdownxField(_("body"), help_text=CITE_HELP)
    drugs = models.ManyToManyField(
        Drug,
        blank=True,
        related_name="sections",
        verbose_name=_("drugs discussed"),
        help_text=_("Drugs this section talks about; their drug pages link back here."),
    )
    trials = models.ManyToManyField(
        Trial,
        blank=True,
        related_name="sections",
        verbose_name=_("trials table"),
        help_text=_("Trials shown as a table at the end of this section."),
    )
    trials_caption = models.CharField(
        _("trials table caption"), max_length=200, blank=True, help_text=_("Title of the trials table.")
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    markdown_fields = ("body",)
    history = HistoricalRecords(m2m_fields=[drugs, trials])

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("treatment option")
        verbose_name_plural = _("treatment options")
        permissions = publish_permissions("treatmentoption", "treatment options")
        constraints = [models.UniqueConstraint(fields=["overview", "slug"], name="section_slug_unique_per_page")]

    def __str__(self):
        return f"{self.overview}: {self.heading}"

    def get_absolute_url(self):
        return f"{self.overview.get_absolute_url()}#{self.slug}"


class Question(Publishable):
    """One of the "Questions to ask your care team" at the end of an overview page, in the order shown."""

    overview = models.ForeignKey(Overview, on_delete=models.CASCADE, related_name="questions")
    text = models.CharField(
        _("question"),
        max_length=300,
        help_text=_(
            "One short, plain question a patient could ask, e.g. 'What is the goal of my treatment?'. "
            "A question only: no facts, figures or advice in it."
        ),
    )
    position = models.PositiveIntegerField(_("position"), default=0, help_text=_("Lower numbers come first."))

    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("question to ask")
        verbose_name_plural = _("questions to ask")
        permissions = publish_permissions("question", "questions to ask")

    def __str__(self):
        return self.text

    def get_absolute_url(self):
        return f"{self.overview.get_absolute_url()}#{QUESTIONS_ANCHOR}"


class GlossaryTerm(CitingModel, Publishable):
    """A word patients may not know, defined in plain language and marked where pages use it."""

    term = models.CharField(
        _("term"), max_length=100, unique=True, help_text=_("As it is usually written, e.g. 'pleura'.")
    )
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    other_forms = models.CharField(
        _("other forms"),
        max_length=300,
        blank=True,
        help_text=_("Comma-separated other spellings or forms that should also be marked, e.g. 'pleural'."),
    )
    pronunciation = models.CharField(
        _("pronunciation"), max_length=100, blank=True, help_text=_("Optional, e.g. 'MEE-zoh-THEE-lee-OH-muh'.")
    )
    definition = MarkdownxField(_("definition"), help_text=CITE_HELP)

    markdown_fields = ("definition",)
    history = HistoricalRecords()

    class Meta:
        ordering = ["term"]
        verbose_name = _("glossary term")
        verbose_name_plural = _("glossary terms")
        permissions = publish_permissions("glossaryterm", "glossary terms")

    def __str__(self):
        return self.term

    def get_absolute_url(self):
        return f"{reverse('treatments:glossary')}#{self.slug}"

    @property
    def forms(self):
        """Every form to look for in text, longest first so 'phase II trial' wins over 'trial'."""
        forms = [self.term, *(form.strip() for form in self.other_forms.split(",") if form.strip())]
        return sorted(set(forms), key=len, reverse=True)


class SearchDocument(models.Model):
    """One searchable object's text, kept current on save (see treatments/search.py)."""

    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    title = models.CharField(max_length=300)
    keywords = models.TextField(blank=True)
    body = models.TextField(blank=True)
    # PostgreSQL full-text vector (title A, keywords B, body C); unused on SQLite.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["content_type", "object_id"], name="one_search_document")]
        indexes = [GinIndex(fields=["search_vector"], name="search_vector_gin")]

    def __str__(self):
        return self.title


class PageCacheGeneration(models.Model):
    """One row, bumped with every content change; cached public pages are keyed by its value.

    It also holds the next scheduled go-live time, so every process that knows the generation knows
    when it must publish what is due (treatments.caching).
    """

    value = models.BigIntegerField(default=1)
    next_go_live = models.DateTimeField(null=True, blank=True)
    # The generation of the last change made outside the editorial workflow: published pages older than it are
    # checked again before they are served (pages/serving.py).
    outside_change = models.BigIntegerField(default=0)

    def __str__(self):
        return str(self.value)
