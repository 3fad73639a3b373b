from dataclasses import dataclass

from django.shortcuts import get_object_or_404, render
from django.views.generic import DetailView, ListView

from mesoinfo.markdown import render_markdown
from references.citations import CitationNumbering

from .models import Drug, Overview, Trial


@dataclass
class TrialRow:
    trial: object
    citation: str


@dataclass
class RenderedSection:
    section: object
    body: str
    trial_rows: list


def trial_rows(trials, citations):
    """Rows of a trials table, cited on the page and ordered by their reference numbers."""
    numbered = [(trial, [citations.number(ref) for ref in trial.references.all()]) for trial in trials]
    numbered.sort(key=lambda pair: min(pair[1], default=float("inf")))
    return [TrialRow(trial, citations.superscript(numbers)) for trial, numbers in numbered]


def cited_by(*objects):
    """The references that these CitingModel objects cite, by key (uses prefetched `cites`)."""
    return {ref.key: ref for obj in objects for ref in obj.cites.all()}


def home(request):
    return render(request, "treatments/home.html", {"overviews": Overview.objects.all()})


def overview_detail(request, slug):
    overview = get_object_or_404(Overview.objects.with_page_content(), slug=slug)
    sections = list(overview.sections.all())
    # Render top to bottom: citation numbers follow the order a reader meets them.
    citations = CitationNumbering(references=cited_by(overview, *sections))
    intro = render_markdown(overview.intro, citations)
    rendered = [
        RenderedSection(section, render_markdown(section.body, citations), trial_rows(section.trials.all(), citations))
        for section in sections
    ]
    return render(
        request,
        "treatments/overview_detail.html",
        {
            "overview": overview,
            "intro": intro,
            "sections": rendered,
            "citations": citations,
            "next_links": overview.next_links.all(),
        },
    )


class DrugListView(ListView):
    model = Drug
    context_object_name = "drugs"


class DrugDetailView(DetailView):
    model = Drug
    context_object_name = "drug"

    def get_queryset(self):
        return Drug.objects.prefetch_related("cites")

    def get_context_data(self, **kwargs):
        drug = self.object
        citations = CitationNumbering(references=cited_by(drug))
        return super().get_context_data(
            how_it_works=render_markdown(drug.how_it_works, citations),
            approval_note=render_markdown(drug.approval_note, citations),
            citations=citations,
            sections=drug.sections.select_related("overview"),
            trials=drug.trials(),
            **kwargs,
        )


class TrialListView(ListView):
    context_object_name = "trials"

    def get_queryset(self):
        return Trial.objects.select_related("regimen").prefetch_related("drugs", "outcomes")


class TrialDetailView(DetailView):
    context_object_name = "trial"

    def get_queryset(self):
        return Trial.objects.select_related("regimen").prefetch_related(
            "cites", "references", "outcomes", "drugs", "regimen__regimen_drugs__drug", "sections__overview"
        )

    def get_context_data(self, **kwargs):
        trial = self.object
        citations = CitationNumbering(references=cited_by(trial))
        summary = render_markdown(trial.summary, citations)
        reported_in = citations.superscript([citations.number(ref) for ref in trial.references.all()])
        return super().get_context_data(summary=summary, reported_in=reported_in, citations=citations, **kwargs)
