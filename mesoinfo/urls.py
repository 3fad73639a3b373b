from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.http import HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static as static_url
from django.urls import include, path

from treatments.sitemaps import SITEMAPS

from . import editor
from .context_processors import absolute_url
from .views import healthz

handler500 = "mesoinfo.views.server_error"


def robots_txt(request):
    lines = [
        "User-agent: *",
        f"Disallow: /{settings.ADMIN_URL}",
        "Disallow: /markdownx/",
        "Disallow: /search/",
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
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="django.contrib.sitemaps.views.sitemap"),
    path("", include("treatments.urls")),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
