"""MesoInfo settings: one module, driven by environment variables.

Every variable is documented in `.env.example`. Defaults are safe for a
developer's machine; production sets DEBUG off and provides SECRET_KEY.
"""

import datetime
import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=1 for a development-only key).")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The public address, e.g. https://mesoinfo.example.org: every absolute URL (canonical links, Open Graph, JSON-LD,
# sitemaps, robots.txt) is built on it, never on the request's Host header, whose answer may be cached and served
# to everyone. Required in production; with DEBUG the request's own address is used when it is unset.
SITE_URL = os.environ.get("SITE_URL", "").strip().rstrip("/")
# The publisher named in "How to cite this page" (AMA style).
SITE_PUBLISHER = os.environ.get("SITE_PUBLISHER", "MesoInfo")
# A section says its research is old ("The studies in this section are from 2003…") when its newest cited study is
# more than this many years older than the page's last medical review or published change (treatments/dates.py).
EVIDENCE_AGE_NOTICE_YEARS = int(os.environ.get("EVIDENCE_AGE_NOTICE_YEARS", "5"))
if SITE_URL and not re.fullmatch(r"https?://[^/?#\s]+", SITE_URL):
    raise ImproperlyConfigured(
        f"SITE_URL must be a scheme and host only, like https://mesoinfo.example.org, not {SITE_URL!r}."
    )
if not SITE_URL and not DEBUG:
    raise ImproperlyConfigured("Set SITE_URL to the site's public address, e.g. https://mesoinfo.example.org.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "markdownx",
    "simple_history",
    "axes",
    "editorial",
    "references",
    "treatments",
    "registry",
    "pages",
    "feedback",
]

MIDDLEWARE = [
    # Outermost: one structured log line per request (a friendly 503 for database outages is handler500).
    "mesoinfo.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Oversized request bodies are refused (413) before anything reads them.
    "mesoinfo.middleware.RequestBodyLimitMiddleware",
    "csp.middleware.CSPMiddleware",
    "mesoinfo.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Anonymous visitors' public pages from the cache, before sessions, CSRF and URL dispatch (treatments/caching.py).
    "treatments.caching.PageCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Staff previews and the admin: Cache-Control: private, no-store.
    "mesoinfo.middleware.PrivateResponsesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Records who made each change in the content history.
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: admin login throttling.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mesoinfo.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mesoinfo.context_processors.site",
            ],
        },
    },
]

WSGI_APPLICATION = "mesoinfo.wsgi.application"

# sqlite:///db.sqlite3 in the project is the embedded default; postgres://… uses psycopg2.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
        # A persistent connection broken by a database restart is replaced, not reused.
        conn_health_checks=True,
    )
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# `python manage.py loaddata seed` finds fixtures/seed.json.
FIXTURE_DIRS = [BASE_DIR / "fixtures"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or BASE_DIR / "media")

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Markdown editing (django-markdownx). The preview runs our own sanitising
# pipeline; the preview and upload views are mounted behind staff login in
# mesoinfo/urls.py, never markdownx.urls.
MARKDOWNX_MARKDOWNIFY_FUNCTION = "mesoinfo.markdown.preview"
MARKDOWNX_URLS_PATH = "/markdownx/markdownify/"
MARKDOWNX_UPLOAD_URLS_PATH = "/markdownx/upload/"
MARKDOWNX_MEDIA_PATH = "uploads/"
MARKDOWNX_UPLOAD_MAX_SIZE = 2 * 1024 * 1024
# No SVG: it can carry script. Uploads are also checked by content (Pillow).
MARKDOWNX_UPLOAD_CONTENT_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
# mesoinfo/editor.py re-encodes every upload itself (GIFs too), so markdownx stores its bytes as they are.
MARKDOWNX_SKIP_RESIZE = MARKDOWNX_UPLOAD_CONTENT_TYPES
MARKDOWNX_IMAGE_MAX_SIZE = {"size": (1200, 1200), "quality": 85}

# --- Request size ---------------------------------------------------------
# Declared request bodies over these sizes are refused (413) before they are read (mesoinfo/middleware.py):
# visitors without a session only send the login form; staff upload at most a 20 MB reference file (larger ones
# up to this limit get the import form's own message).
ANONYMOUS_MAX_BODY_BYTES = int(os.environ.get("ANONYMOUS_MAX_BODY_KB", "64")) * 1024
MAX_REQUEST_BODY_BYTES = int(os.environ.get("MAX_REQUEST_BODY_MB", "32")) * 1024 * 1024
# Form fields (not files) in one request: Django's default, 2.5 MB; larger pasted text is refused with a message.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Security -------------------------------------------------------------
# HTTPS: the site is served over HTTPS (directly or behind a TLS-terminating
# proxy). On by default in production; development and the test suite turn it off.
HTTPS = env_bool("HTTPS", not DEBUG)
if env_bool("BEHIND_PROXY", False):
    # Only behind a proxy that sets X-Forwarded-Proto itself and strips it from clients.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = HTTPS
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

# Content-Security-Policy (django-csp): public pages load only their own
# scripts, styles, images and fonts, with no inline script or style.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# The admin (and its Markdown editor) has its own policy: Django's admin and
# django-markdownx use inline styles, and previews show uploaded images.
ADMIN_CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        **CONTENT_SECURITY_POLICY["DIRECTIVES"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
    }
}

# The admin's address; set ADMIN_URL to something less guessable in production.
ADMIN_URL = os.environ.get("ADMIN_URL", "admin/").strip("/") + "/"

# Admin login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins
# for the same user name from the same address, that pair is locked out for
# AXES_COOLOFF_HOURS. Keyed on the pair, never the user name alone, so nobody can
# lock a clinician out from every address by failing logins in their name.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = datetime.timedelta(hours=float(os.environ.get("AXES_COOLOFF_HOURS", "1")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
# The client's address (django-ipware): REMOTE_ADDR, or behind a proxy the X-Forwarded-For header that the proxy
# sets to the address it was connected from (overwriting what the client sent). With anything other than exactly
# one address in it, the proxy's own REMOTE_ADDR is used, never an address the client made up.
if env_bool("BEHIND_PROXY", False):
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    AXES_IPWARE_PROXY_COUNT = 0  # proxies listed in X-Forwarded-For besides the client: ours overwrites it
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

# --- Reader feedback (feedback/) ---------------------------------------------
# "Was this page helpful?" answers accepted per client address (as the login throttle finds it, behind the proxy
# too): "10/h" is ten an hour. More are answered 429. Counted in the cache (django-ratelimit) under a keyed hash of
# the address; with Redis all app servers share the count, with local memory each process keeps its own.
FEEDBACK_RATE = os.environ.get("FEEDBACK_RATE", "10/h")
# When the cache cannot be reached, feedback is taken without the limit (the honeypot still applies) rather than
# refused: like pages, the form never depends on Redis (mesoinfo/cache.py).
RATELIMIT_FAIL_OPEN = True

# --- Cache -----------------------------------------------------------------
# Local memory by default; CACHE_URL=redis://host:6379/0 shares one Redis
# cache between app servers. Public pages are cached and invalidated on every
# change to content (treatments/caching.py).
CACHE_URL = os.environ.get("CACHE_URL", "")
# Django's default of 300 entries is far fewer than a site's pages; the least recently used third goes when full.
LOCAL_MEMORY_CACHE = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "mesoinfo",
    "OPTIONS": {"MAX_ENTRIES": int(os.environ.get("CACHE_MAX_ENTRIES", "5000"))},
}
# Redis is never needed to answer: each call gives up after CACHE_TIMEOUT_MS and the site carries on without it
# (mesoinfo/cache.py); /healthz then reports the cache as degraded.
CACHE_TIMEOUT_SECONDS = int(os.environ.get("CACHE_TIMEOUT_MS", "250")) / 1000


def redis_cache(url):
    timeouts = {"socket_connect_timeout": CACHE_TIMEOUT_SECONDS, "socket_timeout": CACHE_TIMEOUT_SECONDS}
    return {"BACKEND": "mesoinfo.cache.FailOpenRedisCache", "LOCATION": url, "OPTIONS": timeouts}


if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": redis_cache(CACHE_URL),
        # Each process also keeps the pages it serves most: a hit then skips the trip to Redis.
        "pages_local": LOCAL_MEMORY_CACHE,
    }
elif CACHE_URL in ("", "locmem://"):
    CACHES = {"default": LOCAL_MEMORY_CACHE}
elif CACHE_URL == "dummy://":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
else:
    raise ImproperlyConfigured(f"CACHE_URL must be redis://…, locmem:// or dummy://, not {CACHE_URL!r}.")
# /healthz answers 503 when the cache is unreachable (not only the database): for load balancers that should take
# such a server out. Off by default: pages are served without the cache, and all servers share one Redis.
HEALTHZ_CACHE_REQUIRED = env_bool("HEALTHZ_CACHE_REQUIRED", False)
# 0 switches the whole-page cache off (rendered Markdown is still cached).
PAGE_CACHE_SECONDS = int(os.environ.get("PAGE_CACHE_SECONDS", "3600"))
# Pages with a query string (?q=, ?page=) stored per page and content generation; later ones are answered uncached.
PAGE_CACHE_VARIANTS = int(os.environ.get("PAGE_CACHE_VARIANTS", "100"))
# Published pages (pages/): anonymous visitors get each page as it was rendered when it went live, and a publish
# re-renders exactly the pages it changes. 0: every page is rendered on request (and page-cached as above).
PUBLISHED_PAGES = env_bool("PUBLISHED_PAGES", True)
# PostgreSQL: each process learns of content changes by LISTEN/NOTIFY instead of a query per cached page.
PAGE_CACHE_LISTEN = env_bool("PAGE_CACHE_LISTEN", True)

# --- ClinicalTrials.gov registry (registry/, `manage.py sync_registry_trials`) ---
# Who we are, in the User-Agent of every request to the registry: an e-mail or web address where its operators can
# reach us. Set it in production.
REGISTRY_CONTACT = os.environ.get("REGISTRY_CONTACT", "")
# Studies asked for per request (the API allows up to 1,000) and the pause between requests, in seconds.
REGISTRY_PAGE_SIZE = int(os.environ.get("REGISTRY_PAGE_SIZE", "100"))
REGISTRY_PAGE_DELAY = float(os.environ.get("REGISTRY_PAGE_DELAY", "1"))
# After this many days without a successful sync, "Find a clinical trial" says its list may be out of date.
REGISTRY_STALE_DAYS = int(os.environ.get("REGISTRY_STALE_DAYS", "7"))

# Structured logs: one JSON object a line on stdout; no personal data (no IP
# addresses, user names, cookies or query strings).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "mesoinfo.logging.JSONFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Our request log replaces Django's own, which includes query strings.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # The registry sync's retries (registry/client.py): its own error line says what finally failed.
        "urllib3": {"level": "ERROR"},
    },
}
