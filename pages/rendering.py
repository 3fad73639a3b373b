"""Rendering a public page as an anonymous visitor gets it, through the whole middleware stack, and noting which
records it showed."""

import io
from urllib.parse import urlsplit

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest

from editorial import tracking

# Set in the environ of our own render requests (never from a client): the page cache lets them through.
RENDERING = "mesoinfo.rendering_page"

_handler = None


def _site():
    """(scheme, host, port) of the public site: SITE_URL, else the first allowed host over plain HTTP."""
    if settings.SITE_URL:
        parts = urlsplit(settings.SITE_URL)
        return parts.scheme, parts.hostname, str(parts.port or (443 if parts.scheme == "https" else 80))
    host = next((h for h in settings.ALLOWED_HOSTS if h not in ("*",) and not h.startswith(".")), "localhost")
    return "http", host, "80"


def render(path):
    """(response, tracking.Reading) for an anonymous GET of `path`."""
    global _handler
    if _handler is None:
        _handler = WSGIHandler()
    scheme, host, port = _site()
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": host,
        "SERVER_PORT": port,
        "HTTP_HOST": host if port in ("80", "443") else f"{host}:{port}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        RENDERING: True,
    }
    with tracking.reading() as seen:
        # get_response, not __call__: no request_started/finished signals, which would close this thread's database
        # connection in the middle of the publish's transaction.
        response = _handler.get_response(WSGIRequest(environ))
    return response, seen
