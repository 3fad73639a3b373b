from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from mesoinfo.context_processors import absolute_url
from treatments import structured_data
from treatments.views import paginate

from .models import OPEN_STATUSES, InterventionType, Phase, RegistryLocation, RegistryStudy, RegistrySync

STUDIES_PER_PAGE = 20
CITIES_SHOWN = 5  # per country; a large study runs in dozens of cities


class FindTrialsForm(forms.Form):
    """The find page's filters: a plain GET form, no JavaScript needed."""

    phase = forms.ChoiceField(label=_("Phase"), required=False, choices=[("", _("Any phase")), *Phase.choices])
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Recruiting now or soon")), *((status.value, status.label) for status in OPEN_STATUSES)],
    )
    country = forms.ChoiceField(label=_("Country"), required=False)
    intervention = forms.ChoiceField(
        label=_("What is tested"), required=False, choices=[("", _("Any kind")), *InterventionType.choices]
    )

    def __init__(self, *args, countries=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", _("Any country")), *((country, country) for country in countries)]

    def filter(self, studies):
        """The studies matching the valid choices (a choice that is not on offer is ignored, and said so)."""
        self.is_valid()
        choice = self.cleaned_data.get
        if choice("phase"):
            studies = studies.with_phase(choice("phase"))
        if choice("status"):
            studies = studies.filter(overall_status=choice("status"))
        if choice("country"):
            studies = studies.with_country(choice("country"))
        if choice("intervention"):
            studies = studies.with_intervention_type(choice("intervention"))
        return studies


def places(study):
    """[(country, first cities, how many more)] for a study's (prefetched) locations, countries in order."""
    cities = {}
    for location in study.locations.all():
        known = cities.setdefault(location.country or str(_("Country not given")), [])
        if location.city and location.city not in known:
            known.append(location.city)
    return [
        (country, names[:CITIES_SHOWN], max(len(names) - CITIES_SHOWN, 0)) for country, names in sorted(cities.items())
    ]


def find_trials(request):
    """Open mesothelioma studies from ClinicalTrials.gov, newest update first, with filters and pages."""
    public = RegistryStudy.objects.public()
    countries = (
        RegistryLocation.objects.filter(study__in=public)
        .exclude(country="")
        .order_by("country")
        .values_list("country", flat=True)
        .distinct()
    )
    form = FindTrialsForm(request.GET, countries=countries)
    studies = (
        form.filter(public).prefetch_related("locations", "interventions").order_by("-last_update_posted", "nct_id")
    )
    page_obj = paginate(request, studies, STUDIES_PER_PAGE)
    for study in page_obj.object_list:
        study.places = places(study)
    # Page links keep the valid choices only, so no made-up parameter ends up in a cached page.
    choices = {name: value for name, value in form.cleaned_data.items() if value}
    last_sync = RegistrySync.objects.succeeded().first()
    context = {
        "form": form,
        "filtered": bool(choices),
        "page_obj": page_obj,
        "page_query": urlencode(choices),
        "last_sync": last_sync,
        "stale": last_sync is not None and last_sync.is_stale(),
        "stale_days": settings.REGISTRY_STALE_DAYS,
        "structured_data": structured_data.collection_page(
            "Find a clinical trial: open mesothelioma studies", absolute_url(request, request.path)
        ),
    }
    return render(request, "registry/find.html", context)
