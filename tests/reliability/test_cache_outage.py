"""When Redis goes away: pages keep rendering without the cache, /healthz says the cache is degraded, and the
cache is used again when Redis is back.

Runs a private redis-server on a free port (never the shared one on 6379) and stops it.
"""

import shutil
import socket
import subprocess
import time

import pytest
import redis
import time_machine
from django.core.cache import caches

from mesoinfo import cache as fail_open
from mesoinfo.settings import redis_cache
from tests.factories import make_overview

pytestmark = pytest.mark.django_db
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    def __init__(self):
        self.port = free_port()
        self.process = None

    def start(self):
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(settings):
    if not shutil.which(REDIS_SERVER):
        pytest.skip("needs redis-server (apt-get install redis-server; CI installs it)")
    server = PrivateRedis()
    server.start()
    settings.CACHES = {
        "default": redis_cache(f"redis://127.0.0.1:{server.port}/5"),
        "pages_local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "outage-pages"},
    }
    yield server
    server.stop()


def test_pages_keep_rendering_when_redis_is_down_and_healthz_says_degraded(
    client, admin_client, private_redis, settings
):
    overview = make_overview(intro="Served with Redis.")
    url = overview.get_absolute_url()
    assert "Served with Redis." in client.get(url).content.decode()
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok", "cache": "ok"}

    private_redis.stop()
    caches["pages_local"].clear()  # this process's copy gone too: only Redis could answer
    started = time.monotonic()
    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200 and "Served with Redis." in response.content.decode()
    assert time.monotonic() - started < 2
    overview.intro = "Edited while Redis is down."
    overview.save()
    assert "Edited while Redis is down." in client.get(url).content.decode()
    assert admin_client.get(url).status_code == 200  # staff previews too
    assert client.get("/search/", {"q": "edited"}).status_code == 200

    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded" and health.json()["cache"].startswith("error: ")
    settings.HEALTHZ_CACHE_REQUIRED = True  # for load balancers that should take such a server out
    assert client.get("/healthz").status_code == 503

    private_redis.start()  # back: used again at once (the health check ended the pause)
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok", "cache": "ok"}
    caches["pages_local"].clear()
    client.get(url)
    assert any(b"mesoinfo:page" in key for key in redis.Redis(port=private_redis.port, db=5).keys("*"))


def test_after_a_failure_redis_is_left_alone_for_a_while(private_redis, monkeypatch):
    backend = caches["default"]
    calls = []
    real_get = backend._cache.get

    def counting_get(*args, **kwargs):
        calls.append(1)
        return real_get(*args, **kwargs)

    monkeypatch.setattr(backend._cache, "get", counting_get)
    private_redis.stop()
    with time_machine.travel(1_000_000, tick=False) as clock:
        assert backend.get("key", "missed") == "missed" and len(calls) == 1
        clock.shift(fail_open.FailOpenRedisCache.RETRY_SECONDS - 1)
        assert backend.get("key", "missed") == "missed" and len(calls) == 1  # not tried: no timeout to wait for
        clock.shift(2)
        assert backend.get("key", "missed") == "missed" and len(calls) == 2  # tried again
