from django.urls import path, re_path

from . import views
from .caching import cache_public_page

app_name = "treatments"

urlpatterns = [
    path("", cache_public_page(views.home), name="home"),
    path("treatment/<slug:slug>/", cache_public_page(views.overview_detail), name="overview-detail"),
    re_path(
        r"^treatment/(?P<slug>[-\w]+)/references\.(?P<fmt>ris|bib)$",
        cache_public_page(views.overview_references),
        name="overview-references",
    ),
    path("search/", cache_public_page(views.search_view, params=["q"]), name="search"),
    path("glossary/", cache_public_page(views.glossary), name="glossary"),
    path("drugs/", cache_public_page(views.DrugListView.as_view(), params=["page"]), name="drug-list"),
    path("drugs/<slug:slug>/", cache_public_page(views.DrugDetailView.as_view(), params=["page"]), name="drug-detail"),
    path("trials/", cache_public_page(views.TrialListView.as_view(), params=["page"]), name="trial-list"),
    path("trials/<slug:slug>/", cache_public_page(views.TrialDetailView.as_view()), name="trial-detail"),
]
