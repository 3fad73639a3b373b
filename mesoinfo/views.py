"""Site-wide views: health check and error pages."""

import logging
import sys

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.shortcuts import render

logger = logging.getLogger("mesoinfo")


def healthz(request):
    """For load balancers: database and cache status; 503 when the database is unreachable."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError as error:
        checks["database"] = f"error: {type(error).__name__}"
    try:
        cache.set("mesoinfo:healthz", "ok", 10)
        checks["cache"] = "ok" if cache.get("mesoinfo:healthz") == "ok" else "error: read back failed"
    except Exception as error:  # noqa: BLE001 - any cache failure is reported, not raised
        checks["cache"] = f"error: {type(error).__name__}"
    healthy = checks["database"] == "ok"
    return JsonResponse({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)


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
