import logging
import time

from django.conf import settings
from django.http import HttpResponse
from django.utils.cache import patch_cache_control

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


class PrivateResponsesMiddleware:
    """Anything answered to a logged-in user (staff previews of drafts, the admin) is theirs alone:
    `Cache-Control: private, no-store`, so no shared cache or browser history keeps it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response


class RequestBodyLimitMiddleware:
    """Refuse a request whose declared body is over the limit (413) before anything reads it.

    Visitors without a session cookie only ever send small forms (the admin login): ANONYMOUS_MAX_BODY_BYTES.
    Everyone else: MAX_REQUEST_BODY_BYTES, room for the largest admin upload (a reference file). The proxy in
    front should refuse larger bodies itself (docs/deploy.md: client_max_body_size).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return HttpResponse("Bad Content-Length.", status=400, content_type="text/plain; charset=utf-8")
        anonymous = settings.SESSION_COOKIE_NAME not in request.COOKIES
        limit = settings.ANONYMOUS_MAX_BODY_BYTES if anonymous else settings.MAX_REQUEST_BODY_BYTES
        if length > limit:
            return HttpResponse(
                f"The request is too large (at most {limit // 1024} KB).",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)
