from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.sitemaps import views as sitemaps
from django.http import HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static as static_url
from django.urls import include, path

from treatments.caching import cache_public_page
from treatments.sitemaps import SITEMAPS, sitemap_index

from . import editor
from .context_processors import absolute_url
from .views import healthz

handler400 = "mesoinfo.views.bad_request"
handler500 = "mesoinfo.views.server_error"


def robots_txt(request):
    # The admin's address is not listed: robots.txt is public, and ADMIN_URL is meant to stay unknown.
    lines = [
        "User-agent: *",
        "Disallow: /markdownx/",
        "Disallow: /search/",
        "Disallow: /feedback/",
        f"Sitemap: {absolute_url(request, '/sitemap.xml')}",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")


def favicon(request):
    # Browsers ask for /favicon.ico whatever the page says; the admin's pages say nothing.
    return redirect(static_url("favicon.svg"))


admin.site.site_header = "MesoInfo content administration"
admin.site.site_title = "MesoInfo admin"
admin.site.index_title = "Content"

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
    path("healthz", healthz, name="healthz"),
    # Mounted here rather than via markdownx.urls: those views are open to anyone.
    path("markdownx/markdownify/", editor.markdownify, name="markdownx_markdownify"),
    path("markdownx/upload/", editor.upload_image, name="markdownx_upload"),
    path("favicon.ico", favicon),
    path("robots.txt", robots_txt),
    # A sitemap index, and one sitemap per kind of page, split into pages of at most 50,000 URLs (?p=2…).
    path(
        "sitemap.xml",
        cache_public_page(sitemap_index),
        {"sitemaps": SITEMAPS, "sitemap_url_name": "sitemap-section"},
        name="sitemap-index",
    ),
    path(
        "sitemap-<section>.xml",
        cache_public_page(sitemaps.sitemap, params=["p"]),
        {"sitemaps": SITEMAPS},
        name="sitemap-section",
    ),
    # The archive of every published page (staff only) and the feeds of changes: before the pages themselves.
    path("", include("pages.urls")),
    path("", include("treatments.urls")),
    path("", include("registry.urls")),
    path("", include("feedback.urls")),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
