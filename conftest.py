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
def _empty_cache():
    """Each test starts with an empty cache (the database is rolled back between tests; the cache is not)."""
    cache.clear()
    yield
    cache.clear()
