from django.urls import path, re_path

from treatments.caching import cache_public_page

from . import views
from .feeds import PageUpdatesFeed, SiteUpdatesFeed

app_name = "pages"

# /…/versions/ for any published page at /…/ (the home page's is /versions/).
PAGE = r"^(?P<page_path>(?:[-\w]+/)*)versions/"

urlpatterns = [
    re_path(PAGE + r"$", views.archive, name="archive"),
    re_path(PAGE + r"diff/$", views.diff_view, name="diff"),
    re_path(PAGE + r"(?P<number>[0-9]+)/$", views.version_view, name="version"),
    path("updates.xml", cache_public_page(SiteUpdatesFeed()), name="site-updates-feed"),
    path("treatment/<slug:slug>/updates.xml", cache_public_page(PageUpdatesFeed()), name="page-updates-feed"),
    path("treatment/<slug:slug>/updates/", cache_public_page(views.page_updates), name="page-updates"),
]
