"""Caching, security headers, login throttling, health check and logs."""

import datetime
import json
import logging
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from mesoinfo.logging import JSONFormatter
from tests.factories import make_drug, make_overview, make_reference, make_section, make_trial

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _page_cache_only(settings):
    """These tests are about the whole-page cache keyed by the content generation, which serves every public page
    when published pages (pages/, tested in tests/pages/) are switched off, and the pages that depend on the
    request (search, lists past page 1, sitemaps, feeds) either way."""
    settings.PUBLISHED_PAGES = False


ROOT = Path(__file__).resolve().parents[2]


# --- caching -------------------------------------------------------------------------------------------------


def test_anonymous_pages_are_cached_until_content_changes(client, django_assert_num_queries):
    overview = make_overview(intro="First words.")
    assert "First words." in client.get(overview.get_absolute_url()).content.decode()
    with django_assert_num_queries(1):  # the content generation only
        assert "First words." in client.get(overview.get_absolute_url()).content.decode()
    overview.intro = "Second words."
    overview.save()
    assert "Second words." in client.get(overview.get_absolute_url()).content.decode()


@pytest.mark.parametrize("change", ["reference", "drug", "glossary", "delete-section", "m2m"])
def test_any_change_to_what_a_page_shows_invalidates_it(client, change):
    from treatments.models import GlossaryTerm

    reference = make_reference(key="ref-2000", title="Old reference title")
    overview = make_overview()
    section = make_section(overview, heading="A section", body="Uses a drugamab [@ref-2000].")
    drug = make_drug(generic_name="drugamab", slug="drugamab")
    url = overview.get_absolute_url()
    before = client.get(url).content.decode()
    if change == "reference":
        reference.title = "New reference title"
        reference.save()
        expected = "New reference title"
    elif change == "drug":
        drug.brand_names = "Brandex"
        drug.save()
        section.drugs.add(drug)
        url = drug.get_absolute_url()
        client.get(url)
        drug.drug_class = "New class"
        drug.save()
        expected = "New class"
    elif change == "glossary":
        GlossaryTerm.objects.create(
            term="drugamab", slug="drugamab", definition="A made-up test drug.", status="published"
        )
        expected = "A made-up test drug."
    elif change == "delete-section":
        section.delete()
        expected = None
    else:
        section.trials.add(make_trial(title="Added trial"))
        expected = "Added trial"
    after = client.get(url).content.decode()
    if expected:
        assert expected in after
    else:
        assert "A section" in before and "A section" not in after


def test_staff_previews_are_never_cached_or_served_from_cache(client, admin_client):
    overview = make_overview(intro="Public text.")
    make_section(overview, heading="Draft section", status="draft")
    assert "Draft section" not in client.get(overview.get_absolute_url()).content.decode()  # cached, public
    assert "Draft section" in admin_client.get(overview.get_absolute_url()).content.decode()  # not from cache
    assert "Draft section" not in client.get(overview.get_absolute_url()).content.decode()  # preview not cached


def test_generation_is_shared_through_the_database_and_survives_a_cache_flush(client):
    from django.core.cache import cache

    from treatments.caching import content_changed, content_generation

    overview = make_overview(intro="Text one.")
    client.get(overview.get_absolute_url())
    first = content_generation()
    content_changed()
    assert content_generation() == first + 1
    cache.clear()  # pages and all: the generation lives in the database, not the cache
    assert content_generation() == first + 1


def test_a_staff_login_does_not_invalidate_cached_pages(client, admin_user):
    from treatments.caching import content_generation

    make_overview()
    before = content_generation()
    client.force_login(admin_user)  # saves last_login
    admin_user.refresh_from_db()
    assert admin_user.last_login is not None
    assert content_generation() == before
    admin_user.first_name = "Shown as reviewer"
    admin_user.save()
    assert content_generation() == before + 1


def test_cache_hits_keep_every_header_and_bypass_visitors_with_a_session(client, settings):
    from treatments.models import Overview

    overview = make_overview(intro="Cached words.")
    url = overview.get_absolute_url()
    first = client.get(url)
    Overview.objects.filter(pk=overview.pk).update(intro="Changed behind the cache's back.")  # no signal
    hit = client.get(url)
    assert "Cached words." in hit.content.decode()  # from the cache
    for name in ("X-Frame-Options", "Content-Security-Policy", "Permissions-Policy", "X-Content-Type-Options"):
        assert hit[name] == first[name]
    assert hit["Content-Type"] == "text/html; charset=utf-8"
    assert client.head(url).status_code == 200
    # A session cookie (staff, or anyone logged in) or pending messages: never answered from the cache.
    for cookie in (settings.SESSION_COOKIE_NAME, "messages"):
        client.cookies[cookie] = "x"
        assert "Changed behind" in client.get(url).content.decode(), cookie
        del client.cookies[cookie]
    assert "Cached words." in client.get(url).content.decode()


def test_only_the_parameters_pages_read_make_separate_entries(client):
    overview = make_overview(intro="One copy.")
    for tag in ("a", "b", "c"):
        client.get(overview.get_absolute_url(), {"utm_source": tag})
    assert len(_cached_keys()) == 1
    client.get("/search/", {"q": "pleura"})
    client.get("/search/", {"q": "pleura", "ref": "x"})
    client.get("/search/", {"q": "lung"})
    client.get("/trials/", {"page": 1})
    assert len(_cached_keys()) == 4
    assert "lung" in client.get("/search/", {"q": "lung", "x": "1"}).content.decode()


def test_each_page_keys_only_the_parameters_its_view_reads(client):
    overview = make_overview(intro="Content page.")
    for n in range(5):
        client.get(overview.get_absolute_url(), {"q": f"fill{n}", "page": n})  # a content page reads neither
        client.get("/glossary/", {"q": f"fill{n}"})
        client.get("/search/", {"q": "pleura", "page": n})  # search reads q only
        client.get("/trials/", {"page": 1, "q": f"fill{n}"})  # lists read page only
    assert len(_cached_keys()) == 4


def test_stored_variants_of_one_page_are_bounded(client, settings):
    settings.PAGE_CACHE_VARIANTS = 3
    make_overview(title="Pleura page")
    for n in range(10):
        response = client.get("/search/", {"q": f"fill{n}"})
        assert response.status_code == 200 and f"fill{n}" in response.content.decode()  # answered, stored or not
    client.get("/search/")
    client.get("/trials/", {"page": 1})
    assert len(_cached_keys()) == 3 + 1 + 1  # three search variants, the bare search page, one trials page
    assert client.get("/search/", {"q": "x" * 150}).status_code == 200  # a long value is never stored
    assert len(_cached_keys()) == 5


def test_a_generation_the_listener_has_not_confirmed_lately_is_not_used():
    from treatments.caching import ContentState, GenerationWatcher

    watcher = GenerationWatcher()
    window = GenerationWatcher.RECHECK_SECONDS + GenerationWatcher.TIMEOUT_SECONDS
    with time_machine.travel(1_000_000, tick=False) as clock:
        watcher._confirm(ContentState(42))
        assert watcher.confirmed_value() == 42
        clock.shift(window - 0.5)
        assert watcher.confirmed_value() == 42
        clock.shift(1)
        assert watcher.confirmed_value() is None  # unknown: pages read the generation from the database
        watcher._confirm(ContentState(43))
        assert watcher.confirmed_value() == 43


def test_a_new_release_gets_new_page_cache_keys(settings, tmp_path):
    from treatments.caching import release_signature

    (tmp_path / "templates").mkdir()
    template = tmp_path / "templates" / "page.html"
    template.write_text("<p>{{ text }}</p>")
    settings.BASE_DIR, settings.STATIC_ROOT = tmp_path, tmp_path / "static"
    signatures = []
    try:
        for change in (
            lambda: None,
            lambda: template.write_text("<p class='new'>{{ text }}</p>"),  # a template changed
            lambda: (tmp_path / "treatments").mkdir() or (tmp_path / "treatments" / "views.py").write_text("x = 1"),
            lambda: settings.STATIC_ROOT.mkdir() or (settings.STATIC_ROOT / "staticfiles.json").write_text("{}"),
        ):
            change()
            release_signature.cache_clear()
            signatures.append(release_signature())
        assert len(set(signatures)) == 4
    finally:
        release_signature.cache_clear()


def test_only_marked_views_are_cached(client):
    for url in ("/healthz", "/admin/login/", "/no-such-page/", "/robots.txt"):
        client.get(url)
        assert not _cached_keys(), url
    client.get("/")
    assert len(_cached_keys()) == 1


def test_a_page_that_sets_a_cookie_is_not_cached(monkeypatch):
    from django.http import HttpResponse
    from django.test import RequestFactory

    from treatments.caching import PageCacheMiddleware

    def page(request, cookie):
        response = HttpResponse("personal" if cookie else "public")
        if cookie:
            response.set_cookie("choice", "1")
        return response

    from treatments.caching import ContentState

    monkeypatch.setattr(PageCacheMiddleware, "_public_view", staticmethod(lambda request: object()))
    monkeypatch.setattr("treatments.caching.generation_state", lambda: ContentState(1))
    monkeypatch.setattr(
        PageCacheMiddleware,
        "_key",
        staticmethod(lambda request, view, generation: (f"mesoinfo:page:{request.path}", None)),
    )
    PageCacheMiddleware(lambda request: page(request, cookie=True))(RequestFactory().get("/with-cookie/"))
    assert not _cached_keys()
    PageCacheMiddleware(lambda request: page(request, cookie=False))(RequestFactory().get("/without/"))
    assert len(_cached_keys()) == 1


def test_generation_lookup_failure_falls_through_to_the_view(client, monkeypatch):
    from django.db import OperationalError

    from treatments import caching

    def unreachable():
        raise OperationalError("connection refused")

    overview = make_overview(intro="Fresh words.")
    monkeypatch.setattr(caching, "generation_state", unreachable)
    response = client.get(overview.get_absolute_url())
    assert response.status_code == 200 and "Fresh words." in response.content.decode()
    assert not _cached_keys()


def test_page_cache_can_be_switched_off(client, settings):
    settings.PAGE_CACHE_SECONDS = 0
    overview = make_overview(intro="Uncached words.")
    client.get(overview.get_absolute_url())
    assert not _cached_keys()


def test_with_redis_each_process_keeps_a_local_copy_of_pages(client, settings):
    import socket

    from django.core.cache import caches

    from treatments.models import Overview

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    settings.CACHES = {
        # TEST_REDIS_DB: engineers sharing one Redis server each run this test on their own database number.
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:6379/{os.environ.get('TEST_REDIS_DB', '14')}",
        },
        "pages_local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "test-pages"},
    }
    shared, local = caches["default"], caches["pages_local"]
    shared.clear()
    overview = make_overview(intro="First text.")
    url = overview.get_absolute_url()

    def set_intro_unannounced(text):  # no signal: the cached copies stay as they are
        Overview.objects.filter(pk=overview.pk).update(intro=text)

    try:
        assert "First text." in client.get(url).content.decode()  # rendered, stored in Redis and locally
        set_intro_unannounced("Second text.")
        shared.clear()
        assert "First text." in client.get(url).content.decode()  # the local copy
        local.clear()
        assert "Second text." in client.get(url).content.decode()  # rendered again, stored in both
        set_intro_unannounced("Third text.")
        local.clear()
        assert "Second text." in client.get(url).content.decode()  # from Redis, and copied locally
        shared.clear()
        assert "Second text." in client.get(url).content.decode()
        overview.intro = "Edited text."
        overview.save()  # a new generation: neither copy is used
        assert "Edited text." in client.get(url).content.decode()
    finally:
        shared.clear()
        local.clear()


def _cached_keys():
    """Page keys in the tests' local-memory cache (each test starts with it empty)."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    cache = caches["default"]
    assert isinstance(cache, LocMemCache)
    return [key for key in cache._cache if "mesoinfo:page:" in key]


# --- security headers ---------------------------------------------------------------------------------------


def test_public_pages_have_strict_csp_and_security_headers(client):
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert "camera=()" in response["Permissions-Policy"]


def test_staff_previews_and_admin_pages_are_private_and_not_stored(client, admin_client):
    overview = make_overview(status="draft")
    preview = admin_client.get(overview.get_absolute_url())
    assert preview.status_code == 200 and "Preview" in preview.content.decode()
    for response in (preview, admin_client.get(make_overview().get_absolute_url()), admin_client.get("/admin/")):
        directives = {part.strip() for part in response["Cache-Control"].split(",")}
        assert {"private", "no-store"} <= directives
    public = client.get(make_overview().get_absolute_url())
    assert "private" not in public.get("Cache-Control", "") and "no-store" not in public.get("Cache-Control", "")


def test_admin_has_its_own_policy(admin_client):
    csp = admin_client.get("/admin/")["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in csp and "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]


def test_production_settings_pass_check_deploy_with_no_warnings():
    # Without the test-only settings (browser tests set DJANGO_ALLOW_ASYNC_UNSAFE, which --deploy rejects).
    unset = {"DEBUG", "HTTPS", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(SECRET_KEY="x" * 20 + "-Production-Key-" + "y" * 30, ALLOWED_HOSTS="mesoinfo.example.org")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_admin_url_is_configurable():
    env = dict(os.environ)
    env.update(ADMIN_URL="staff-only-7f3a", DEBUG="1")
    code = "from django.urls import reverse; print(reverse('admin:index'))"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "mesoinfo.settings"}, capture_output=True, text=True,
    )  # fmt: skip
    assert result.stdout.strip() == "/staff-only-7f3a/", result.stderr


# --- login throttling ----------------------------------------------------------------------------------------


def test_repeated_failed_logins_lock_out_with_a_clear_message(client, settings):
    get_user_model().objects.create_superuser("clinician", "c@example.org", "right-password-123")
    login = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(login, {"username": "clinician", "password": "wrong"})
        assert response.status_code == 200
    locked = client.post(login, {"username": "clinician", "password": "wrong"})
    assert locked.status_code == 429
    assert "Too many failed login attempts" in locked.content.decode()
    # Even the right password is refused while locked out.
    assert client.post(login, {"username": "clinician", "password": "right-password-123"}).status_code == 429
    # Another user from the same address is not locked out.
    get_user_model().objects.create_superuser("other", "o@example.org", "other-password-123")
    assert client.post(login, {"username": "other", "password": "other-password-123"}).status_code == 302


@pytest.fixture
def behind_proxy(settings, monkeypatch):
    """The settings module's values with BEHIND_PROXY=1, as a production server behind a load balancer has them."""
    monkeypatch.setenv("BEHIND_PROXY", "1")
    module = runpy.run_path(str(ROOT / "mesoinfo" / "settings.py"))
    for name in ("AXES_IPWARE_META_PRECEDENCE_ORDER", "AXES_IPWARE_PROXY_COUNT", "AXES_LOCKOUT_PARAMETERS"):
        setattr(settings, name, module[name])
    return settings


def test_behind_a_proxy_lockouts_are_per_client_address_so_nobody_can_lock_a_clinician_out(client, behind_proxy):
    get_user_model().objects.create_superuser("clinician", "c@example.org", "right-password-123")
    login = reverse("admin:login")

    def attempt(password, address):  # through the proxy: REMOTE_ADDR is the proxy's, the client's is in the header
        response = client.post(login, {"username": "clinician", "password": password}, HTTP_X_FORWARDED_FOR=address)
        client.logout()
        return response.status_code

    attacker, clinician = "203.0.113.5", "198.51.100.7"
    assert [attempt("wrong", attacker) for _ in range(behind_proxy.AXES_FAILURE_LIMIT)][-1] == 429
    assert attempt("right-password-123", attacker) == 429  # the attacker's address is locked out
    assert attempt("right-password-123", clinician) == 302  # the clinician's is not
    # A client-made header ("clinician, attacker") is not believed: such attempts count against the proxy's address.
    for _ in range(behind_proxy.AXES_FAILURE_LIMIT):
        attempt("wrong", f"{clinician}, 192.0.2.1")
    assert attempt("right-password-123", clinician) == 302


def test_a_lockout_ends_after_the_cool_off_time(client, settings):
    get_user_model().objects.create_superuser("clinician", "c@example.org", "right-password-123")
    login = reverse("admin:login")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            client.post(login, {"username": "clinician", "password": "wrong"})
    right = {"username": "clinician", "password": "right-password-123"}
    tried_again = start + settings.AXES_COOLOFF_TIME - datetime.timedelta(seconds=1)
    with time_machine.travel(tried_again, tick=False):
        assert client.post(login, right).status_code == 429  # still locked; trying during a lockout restarts it
    with time_machine.travel(tried_again + settings.AXES_COOLOFF_TIME + datetime.timedelta(seconds=1), tick=False):
        assert client.post(login, right).status_code == 302


# --- health and logs -------------------------------------------------------------------------------------------


def test_healthz_reports_database_and_cache(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_request_logs_are_json_without_personal_data(client, caplog):
    overview = make_overview()
    with caplog.at_level(logging.INFO, logger="mesoinfo.request"):
        client.get(overview.get_absolute_url() + "?q=my+diagnosis", HTTP_X_FORWARDED_FOR="203.0.113.9")
    record = next(r for r in caplog.records if r.name == "mesoinfo.request")
    line = json.loads(JSONFormatter().format(record))
    assert line["path"] == overview.get_absolute_url() and line["status"] == 200 and line["method"] == "GET"
    assert "duration_ms" in line
    text = json.dumps(line)
    assert "diagnosis" not in text and "203.0.113.9" not in text and "q=" not in text
