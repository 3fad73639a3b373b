from dataclasses import dataclass

from django.conf import settings
from django.core.paginator import InvalidPage, Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.generic import DetailView, ListView

from editorial import tracking
from mesoinfo.context_processors import absolute_url
from mesoinfo.markdown import render_markdown, sanitised_html_many
from pages.models import PageVersion
from references.citations import CitationNumbering, find_keys
from references.export import page_to_bibtex, page_to_ris, to_bibtex, to_ris
from references.models import Reference

from . import structured_data
from .dates import Evidence, PageDates, last_published
from .glossary import GlossaryMarker
from .models import QUESTIONS_ANCHOR, Drug, GlossaryTerm, Overview, RegimenDrug, TreatmentOption, Trial
from .search import clean_query, search


def is_previewing(request):
    """Staff see every state of the content at its public URL, under a preview banner."""
    return request.user.is_staff


def visible(request, queryset):
    """The public sees `published()` content only; staff previewing see all of it."""
    return queryset if is_previewing(request) else queryset.published()


class PageText:
    """Renders one page's Markdown top to bottom.

    `texts` are the page's main Markdown texts: their references are fetched in
    one query and their sanitised HTML in one cache read. One citation
    numbering for the page (numbers follow reading order) and one glossary
    marker (first mention of each term per section; the terms used are defined
    at the end of the page).
    """

    def __init__(self, texts, glossary_terms=(), *, preview=False):
        self.preview = preview
        self.citations = CitationNumbering(references=cited_in(*texts, preview=preview))
        self.glossary = GlossaryMarker(glossary_terms)
        self.html = sanitised_html_many(texts)

    def render(self, text):
        return render_markdown(text, self.citations, self.glossary, html=self.html.get(text))

    def definitions(self):
        """(term, definition HTML) for every glossary term marked on the page, after its main text."""
        terms = self.glossary.used
        definitions = [term.definition for term in terms]
        if {key for text in definitions for key in find_keys(text)} - set(self.citations.references):
            self.citations.references.update(cited_in(*definitions, preview=self.preview))
        html = sanitised_html_many(definitions)
        return [(term, render_markdown(term.definition, self.citations, html=html[term.definition])) for term in terms]


@dataclass
class TrialRow:
    trial: object
    citation: str
    phase: str = ""  # the phase with its glossary term marked ("Phase II" links to its definition)


@dataclass
class RenderedSection:
    section: object
    body: str = ""
    trial_rows: list = ()
    evidence: Evidence | None = None  # the years of the studies it cites
    old_evidence: bool = False  # they are old by the page's date: the section says so


def trial_rows(trials, citations, glossary=None):
    """Rows of a trials table, cited on the page and ordered by their reference numbers.

    With the page's glossary marker, each phase links to its definition, which joins "Words used on this page".
    """
    numbered = [(trial, [citations.number(ref) for ref in trial.references.all()]) for trial in trials]
    numbered.sort(key=lambda pair: min(pair[1], default=float("inf")))
    return [
        TrialRow(trial, citations.superscript(numbers), _marked_phase(trial, glossary)) for trial, numbers in numbered
    ]


def _marked_phase(trial, glossary):
    if glossary is None or not trial.phase:
        return ""
    return mark_safe(glossary.mark(escape(trial.get_phase_display())))  # mark() links escaped text only


def section_references(section, citations):
    """The works a section cites as the page shows them: in its text, and in its trials table."""
    references = [citations.references[key] for key in find_keys(section.body) if key in citations.references]
    return references + [reference for trial in section.trials.all() for reference in trial.references.all()]


def cited_in(*texts, preview=False):
    """The references these Markdown texts cite, by key, in one query (live ones only, unless previewing)."""
    keys = {key for text in texts for key in find_keys(text)}
    if not keys:
        return {}
    # Every record with these keys is read, live or not: a page depends on a cited reference before it goes live too.
    found = list(Reference.objects.filter(key__in=keys))
    if len(found) < len(keys):  # a key no reference has (yet): any new reference may be it
        tracking.listed(Reference, ("key",))
    return {ref.key: ref for ref in found if preview or ref.is_public}


def glossary_terms(request):
    return visible(request, GlossaryTerm.objects.all())


def trial_drugs(request, in_regimen=True):
    """Prefetches of a trial's drugs (alone, and in its regimen) that the visitor may see: the public never meets
    an unpublished drug's name on a trial (tables, pages, links, JSON-LD)."""
    drugs = visible(request, Drug.objects.all())
    prefetches = [Prefetch("drugs", drugs)]
    if in_regimen:
        regimen_drugs = RegimenDrug.objects.filter(drug__in=drugs).select_related("drug")
        prefetches.append(Prefetch("regimen__regimen_drugs", regimen_drugs))
    return prefetches


def sections_shown_for(request, queryset):
    """Sections the visitor may see, on overview pages they may see."""
    sections = visible(request, queryset)
    if not is_previewing(request):
        sections = sections.filter(overview__in=Overview.objects.published())
    return sections.select_related("overview")


def search_view(request):
    query = clean_query(request.GET.get("q", ""))
    results = search(query) if query else []
    return render(request, "treatments/search.html", {"query": query, "results": results})


def glossary(request):
    terms = list(glossary_terms(request))
    tracking.listed(GlossaryTerm, ("term", "slug"))
    text = PageText([term.definition for term in terms], preview=is_previewing(request))
    entries = [(term, text.render(term.definition)) for term in terms]
    data = structured_data.defined_term_set(entries, absolute_url(request, request.path))
    dates = PageDates.of_all(term for term in terms if term.is_public)
    context = {"entries": entries, "citations": text.citations, "structured_data": data, "dates": dates}
    return render(request, "treatments/glossary.html", context)


def home(request):
    overviews = visible(request, Overview.objects.all())
    tracking.listed(Overview, ("title", "stage_label", "summary", "position", "slug"))
    data = structured_data.website(absolute_url(request, "/"), absolute_url(request, reverse("treatments:search")))
    context = {"overviews": overviews, "preview": is_previewing(request), "structured_data": data}
    return render(request, "treatments/home.html", context)


def overview_detail(request, slug):
    return render(request, "treatments/overview_detail.html", overview_page(request, slug))


EXPORT_FORMATS = {
    "ris": (to_ris, "application/x-research-info-systems"),
    "bib": (to_bibtex, "application/x-bibtex"),
}


def overview_references(request, slug, fmt):
    """The page's reference list, in page order, for a reference manager."""
    page = overview_page(request, slug)
    write, content_type = EXPORT_FORMATS[fmt]
    response = HttpResponse(
        write([ref for _, ref in page["citations"].cited]), content_type=f"{content_type}; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{slug}-references.{fmt}"'
    return response


def overview_page(request, slug):
    """Everything an overview page shows, rendered top to bottom in reading order."""
    preview = is_previewing(request)
    overview = get_object_or_404(visible(request, Overview.objects.with_page_content(preview=preview)), slug=slug)
    sections = list(overview.sections.all())
    text = PageText([overview.intro, *(section.body for section in sections)], glossary_terms(request), preview=preview)
    citations = text.citations
    intro = text.render(overview.intro)
    rendered = [
        RenderedSection(section, text.render(section.body), trial_rows(section.trials.all(), citations, text.glossary))
        for section in sections
    ]
    definitions = text.definitions()
    # "Last updated": the latest published change to the page, its sections or its questions.
    questions = list(overview.questions.all())
    last_updated = last_published([overview, *sections, *questions])
    dates = PageDates.of(overview, last_updated)
    for item in rendered:
        item.evidence = Evidence.of(section_references(item.section, citations))
        item.old_evidence = item.evidence is not None and item.evidence.is_old(dates.as_of)
    return {
        "overview": overview,
        "intro": intro,
        "sections": rendered,
        "citations": citations,
        "definitions": definitions,
        "next_links": overview.next_links.all(),
        "questions": questions,
        "questions_anchor": QUESTIONS_ANCHOR,
        "preview": preview,
        "dates": dates,
        "evidence": Evidence.of(reference for _number, reference in citations.cited),
        "last_updated": last_updated,
        "updates": latest_updates(overview.get_absolute_url()),
        "cite": page_citation(request, overview, overview.title, last_updated),
        "structured_data": structured_data.medical_web_page(
            overview, absolute_url(request, overview.get_absolute_url()), citations.cited, last_updated
        ),
    }


@dataclass
class PageCitation:
    """How to cite one of our pages (AMA style, like our reference list)."""

    key: str
    title: str
    publisher: str
    updated: object  # datetime of the last published change, or None
    url: str

    def ama(self):
        parts = [f"{self.title.rstrip('.')}.", f"{self.publisher}."]
        if self.updated:
            parts.append(f"Updated {self.updated:%B} {self.updated.day}, {self.updated.year}.")
        return " ".join(parts)


def page_citation(request, record, title, updated):
    path = record.get_absolute_url()
    kind = record._meta.model_name
    return PageCitation(
        f"mesoinfo-{kind}-{record.slug}", title, settings.SITE_PUBLISHER, updated, absolute_url(request, path)
    )


def latest_updates(path, count=5):
    """The notes for readers of a page's latest published versions, newest first (pages/)."""
    return list(PageVersion.objects.filter(page__path=path, listed=True).order_by("-went_live_at")[:count])


CITE_FORMATS = {
    "ris": (page_to_ris, "application/x-research-info-systems"),
    "bib": (page_to_bibtex, "application/x-bibtex"),
}


def cite_page(request, kind, slug, fmt):
    """A page of ours as an entry for a reference manager (RIS or BibTeX)."""
    if kind == "treatment":
        context = overview_page(request, slug)
        record, title, updated = context["overview"], context["overview"].title, context["last_updated"]
    else:
        model = {"drugs": Drug, "trials": Trial}[kind]
        record = get_object_or_404(visible(request, model.objects.all()), slug=slug)
        title, updated = str(record), record.last_published_at
    write, content_type = CITE_FORMATS[fmt]
    response = HttpResponse(
        write(page_citation(request, record, title, updated)), content_type=f"{content_type}; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="mesoinfo-{slug}.{fmt}"'
    return response


def paginate(request, queryset, per_page):
    """The page of `queryset` that `?page=` asks for; a page that does not exist is a 404, as on the lists."""
    try:
        return Paginator(queryset, per_page).page(request.GET.get("page") or 1)
    except InvalidPage as error:
        raise Http404(str(error)) from error


class PreviewMixin:
    """Detail and list views: published content, or everything for staff (with a banner)."""

    def get_queryset(self):
        return visible(self.request, super().get_queryset())

    def get_context_data(self, **kwargs):
        return super().get_context_data(preview=is_previewing(self.request), **kwargs)


class CollectionMixin:
    collection_name = ""

    def get_context_data(self, **kwargs):
        url = absolute_url(self.request, self.request.path)
        data = structured_data.collection_page(self.collection_name, url)
        return super().get_context_data(structured_data=data, **kwargs)


class ListingMixin:
    """List pages depend on which records are live, and on the field they are sorted by (published pages)."""

    sorted_by = ()

    def get_queryset(self):
        tracking.listed(self.model or self.queryset.model, self.sorted_by)
        return super().get_queryset()


class DrugListView(ListingMixin, CollectionMixin, PreviewMixin, ListView):
    model = Drug
    sorted_by = ("generic_name",)
    context_object_name = "drugs"
    collection_name = "Drugs used or studied in mesothelioma"
    paginate_by = 100


class DrugDetailView(PreviewMixin, DetailView):
    context_object_name = "drug"
    queryset = Drug.objects.select_related("reviewed_by__reviewer_profile")
    trials_per_page = 50  # a common drug is in hundreds of trials

    def get_context_data(self, **kwargs):
        drug = self.object
        text = PageText(
            [drug.how_it_works, drug.approval_note], glossary_terms(self.request), preview=is_previewing(self.request)
        )
        return super().get_context_data(
            how_it_works=text.render(drug.how_it_works),
            approval_note=text.render(drug.approval_note),
            definitions=text.definitions(),
            citations=text.citations,
            structured_data=structured_data.drug(drug, absolute_url(self.request, drug.get_absolute_url())),
            cite=page_citation(self.request, drug, str(drug), drug.last_published_at),
            dates=PageDates.of(drug),
            sections=sections_shown_for(self.request, drug.sections.all()),
            page_obj=paginate(self.request, visible(self.request, drug.trials()), self.trials_per_page),
            **kwargs,
        )


class TrialListView(ListingMixin, CollectionMixin, PreviewMixin, ListView):
    sorted_by = ("title",)
    context_object_name = "trials"
    collection_name = "Clinical trials in mesothelioma"
    paginate_by = 50
    queryset = Trial.objects.select_related("regimen").prefetch_related("outcomes")

    def get_queryset(self):
        return super().get_queryset().prefetch_related(*trial_drugs(self.request, in_regimen=False))


class TrialDetailView(PreviewMixin, DetailView):
    context_object_name = "trial"
    queryset = Trial.objects.select_related("regimen", "reviewed_by__reviewer_profile").prefetch_related(
        "references", "outcomes"
    )

    def get_queryset(self):
        return super().get_queryset().prefetch_related(*trial_drugs(self.request))

    def get_context_data(self, **kwargs):
        trial = self.object
        text = PageText([trial.summary], glossary_terms(self.request), preview=is_previewing(self.request))
        summary = text.render(trial.summary)
        citations = text.citations
        reported_in = citations.superscript([citations.number(ref) for ref in trial.references.all()])
        definitions = text.definitions()
        return super().get_context_data(
            summary=summary,
            reported_in=reported_in,
            definitions=definitions,
            citations=citations,
            cite=page_citation(self.request, trial, trial.title, trial.last_published_at),
            dates=PageDates.of(trial),
            structured_data=structured_data.medical_trial(
                trial, absolute_url(self.request, trial.get_absolute_url()), citations.cited
            ),
            sections=sections_shown_for(self.request, TreatmentOption.objects.filter(trials=trial)),
            **kwargs,
        )
