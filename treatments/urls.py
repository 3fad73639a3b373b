from django.urls import path, re_path

from . import views
from .caching import cache_public_page

app_name = "treatments"

urlpatterns = [
    path("", cache_public_page(views.home, versioned=True), name="home"),
    path("treatment/<slug:slug>/", cache_public_page(views.overview_detail, versioned=True), name="overview-detail"),
    re_path(
        r"^treatment/(?P<slug>[-\w]+)/references\.(?P<fmt>ris|bib)$",
        cache_public_page(views.overview_references),
        name="overview-references",
    ),
    re_path(
        r"^(?P<kind>treatment|drugs|trials)/(?P<slug>[-\w]+)/cite\.(?P<fmt>ris|bib)$",
        cache_public_page(views.cite_page),
        name="cite-page",
    ),
    path("search/", cache_public_page(views.search_view, params=["q"]), name="search"),
    path("glossary/", cache_public_page(views.glossary, versioned=True), name="glossary"),
    path("drugs/", cache_public_page(views.DrugListView.as_view(), params=["page"], versioned=True), name="drug-list"),
    path(
        "drugs/<slug:slug>/",
        cache_public_page(views.DrugDetailView.as_view(), params=["page"], versioned=True),
        name="drug-detail",
    ),
    path(
        "trials/", cache_public_page(views.TrialListView.as_view(), params=["page"], versioned=True), name="trial-list"
    ),
    path(
        "trials/<slug:slug>/", cache_public_page(views.TrialDetailView.as_view(), versioned=True), name="trial-detail"
    ),
]
