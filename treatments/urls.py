from django.urls import path, re_path

from . import views

app_name = "treatments"

urlpatterns = [
    path("", views.home, name="home"),
    path("treatment/<slug:slug>/", views.overview_detail, name="overview-detail"),
    re_path(
        r"^treatment/(?P<slug>[-\w]+)/references\.(?P<fmt>ris|bib)$",
        views.overview_references,
        name="overview-references",
    ),
    path("search/", views.search_view, name="search"),
    path("glossary/", views.glossary, name="glossary"),
    path("drugs/", views.DrugListView.as_view(), name="drug-list"),
    path("drugs/<slug:slug>/", views.DrugDetailView.as_view(), name="drug-detail"),
    path("trials/", views.TrialListView.as_view(), name="trial-list"),
    path("trials/<slug:slug>/", views.TrialDetailView.as_view(), name="trial-detail"),
]
