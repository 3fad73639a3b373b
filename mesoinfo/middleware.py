import logging
import time

from django.conf import settings

request_log = logging.getLogger("mesoinfo.request")


class RequestLogMiddleware:
    """One structured line per request: method, path (no query string), status, duration. No personal data."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        response = self.get_response(request)
        request_log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return response


class SecurityHeadersMiddleware:
    """Permissions-Policy on every response; the admin's own Content-Security-Policy on admin pages.

    Listed after django-csp's middleware, so it sees the response first and can choose the policy.
    """

    ADMIN_PREFIXES = ("/markdownx/",)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        if request.path.startswith((f"/{settings.ADMIN_URL}", *self.ADMIN_PREFIXES)):
            response._csp_config = settings.ADMIN_CONTENT_SECURITY_POLICY["DIRECTIVES"]
        return response
