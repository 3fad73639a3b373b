"""Settings come from the environment; checked in a fresh interpreter each time."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT = (
    "import json, django; from django.conf import settings; "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({'debug': settings.DEBUG, 'engine': db['ENGINE'], 'name': str(db['NAME']), "
    "'hosts': settings.ALLOWED_HOSTS, 'key': settings.SECRET_KEY}))"
)


def load_settings(**env):
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"}}
    clean.update(env, DJANGO_SETTINGS_MODULE="mesoinfo.settings")
    return subprocess.run([sys.executable, "-c", PRINT], cwd=ROOT, env=clean, capture_output=True, text=True)


def test_debug_gives_sqlite_default_and_dev_key():
    result = load_settings(DEBUG="1")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["debug"] is True
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"] == str(ROOT / "db.sqlite3")
    assert "localhost" in values["hosts"]


def test_production_refuses_to_start_without_secret_key():
    result = load_settings()
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_production_settings_from_environment():
    result = load_settings(
        SECRET_KEY="k" * 50,
        DATABASE_URL="postgres://user:pw@db.internal:5432/meso",
        ALLOWED_HOSTS="mesoinfo.example.org, www.mesoinfo.example.org",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["debug"] is False
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["name"] == "meso"
    assert values["hosts"] == ["mesoinfo.example.org", "www.mesoinfo.example.org"]


def test_production_refuses_to_start_without_site_url():
    env = {"SECRET_KEY": "k" * 50, "ALLOWED_HOSTS": "mesoinfo.example.org"}
    result = load_settings(**env, SITE_URL="")
    assert result.returncode != 0 and "Set SITE_URL" in result.stderr
    result = load_settings(**env, SITE_URL="https://mesoinfo.example.org/some/path")
    assert result.returncode != 0 and "scheme and host only" in result.stderr
    assert load_settings(**env, SITE_URL="https://mesoinfo.example.org/").returncode == 0
