from django.conf import settings


def absolute_url(request, path):
    """`path` on the public site: SITE_URL when set, else the request's own host."""
    base = settings.SITE_URL.rstrip("/") if settings.SITE_URL else request.build_absolute_uri("/").rstrip("/")
    return f"{base}{path}"


def site(request):
    return {"canonical_url": absolute_url(request, request.path)}
