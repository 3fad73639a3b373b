"""Site-wide views: health check and error pages."""

import logging
import sys

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.shortcuts import render

logger = logging.getLogger("mesoinfo")


def healthz(request):
    """For load balancers: 503 when the database is unreachable; "degraded" (200, or 503 with
    HEALTHZ_CACHE_REQUIRED) when only the cache is, since pages are then served without it."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError as error:
        checks["database"] = f"error: {type(error).__name__}"
    checks["cache"] = _cache_status()
    if checks["database"] != "ok":
        status, code = "error", 503
    elif checks["cache"] != "ok":
        status, code = "degraded", 503 if settings.HEALTHZ_CACHE_REQUIRED else 200
    else:
        status, code = "ok", 200
    return JsonResponse({"status": status, **checks}, status=code)


def _cache_status():
    try:
        if hasattr(cache, "check"):  # Redis (mesoinfo.cache): its reads and writes never raise, so ask it directly
            cache.check()
            return "ok"
        cache.set("mesoinfo:healthz", "ok", 10)
        return "ok" if cache.get("mesoinfo:healthz") == "ok" else "error: read back failed"
    except Exception as error:  # noqa: BLE001 - any cache failure is reported, not raised
        return f"error: {type(error).__name__}"


def bad_request(request, exception):
    """400, saying why when a form's text was over the limit (DATA_UPLOAD_MAX_MEMORY_SIZE) instead of a bare
    "Bad Request": a pasted text that large is refused before any view can see it."""
    too_big = isinstance(exception, RequestDataTooBig)
    limit_mb = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
    return render(request, "400.html", {"too_big": too_big, "limit_mb": limit_mb}, status=400)


def server_error(request):
    """500, or a friendly 503 when the database is unreachable; never a stack trace."""
    error = sys.exc_info()[1]
    if isinstance(error, DatabaseError) and not _database_reachable():
        logger.error("database unavailable", extra={"error": type(error).__name__, "path": request.path})
        response = render(request, "503.html", status=503)
        response["Retry-After"] = "30"
        return response
    return render(request, "500.html", status=500)


def _database_reachable():
    try:
        connection.close()
        connection.ensure_connection()
        return True
    except DatabaseError:
        return False
