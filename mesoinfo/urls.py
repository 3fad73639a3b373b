from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static as static_url
from django.urls import include, path

from . import editor


def favicon(request):
    # Browsers ask for /favicon.ico whatever the page says; the admin's pages say nothing.
    return redirect(static_url("favicon.svg"))


admin.site.site_header = "MesoInfo content administration"
admin.site.site_title = "MesoInfo admin"
admin.site.index_title = "Content"

urlpatterns = [
    path("admin/", admin.site.urls),
    # Mounted here rather than via markdownx.urls: those views are open to anyone.
    path("markdownx/markdownify/", editor.markdownify, name="markdownx_markdownify"),
    path("markdownx/upload/", editor.upload_image, name="markdownx_upload"),
    path("favicon.ico", favicon),
    path("", include("treatments.urls")),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
