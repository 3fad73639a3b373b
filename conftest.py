import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _test_storage(settings, tmp_path):
    """Uploads go to a temporary folder; static files are served without a collectstatic manifest."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _page_cache_reads_the_database(settings):
    """Tests run inside transactions that never commit, so PostgreSQL never delivers their change notices:
    pages read the content generation from the database (tests/mesoinfo/test_page_cache_listener.py turns the
    listener on, with committed changes)."""
    from pages.serving import current_versions
    from treatments.caching import watcher

    settings.PAGE_CACHE_LISTEN = False
    current_versions.clear()  # each test's database starts without the previous test's page versions
    yield
    watcher.stop()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (the database is rolled back between tests; the cache is not)."""
    cache.clear()
    yield
    cache.clear()
