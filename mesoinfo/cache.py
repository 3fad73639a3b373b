"""Redis as a cache the site never depends on.

Pages and rendered Markdown are cached in Redis to save work, never because
they cannot be made without it. When Redis cannot be reached, every cache call
gives up after a short socket timeout (`CACHE_TIMEOUT_MS`) and behaves as a
miss (reads) or does nothing (writes); then this process leaves Redis alone
for `RETRY_SECONDS`, so pages render at full speed without it. `/healthz`
reports the cache as degraded meanwhile (`check()`).
"""

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
# Redis location → time.time() until which this process does not try it. Per process, not per backend object:
# Django gives each thread its own, and one timeout per process is enough to learn that Redis is down.
_skip_until = {}


class FailOpenRedisCache(RedisCache):
    RETRY_SECONDS = 5

    def __init__(self, server, params):
        super().__init__(server, params)
        self._location = str(server)

    def _try(self, fallback, call, *args, **kwargs):
        if time.time() < _skip_until.get(self._location, 0):
            return fallback()
        try:
            return call(*args, **kwargs)
        except RedisError as error:
            _skip_until[self._location] = time.time() + self.RETRY_SECONDS
            log.warning("cache unavailable (%s); serving without it for %s s", type(error).__name__, self.RETRY_SECONDS)
            return fallback()

    def check(self):
        """For /healthz: raise unless Redis answers now (whatever the pause); a success ends the pause."""
        self._cache.get_client(write=True).ping()
        _skip_until.pop(self._location, None)

    def get(self, key, default=None, version=None):
        return self._try(lambda: default, super().get, key, default, version)

    def get_many(self, keys, version=None):
        return self._try(dict, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._try(lambda: False, super().has_key, key, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._try(lambda: False, super().add, key, value, timeout, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._try(lambda: None, super().set, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._try(lambda: list(data), super().set_many, data, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._try(lambda: False, super().touch, key, timeout, version)

    def incr(self, key, delta=1, version=None):
        def missing():
            raise ValueError(f"Key {key!r} not found (the cache is unavailable).")

        return self._try(missing, super().incr, key, delta, version)

    def delete(self, key, version=None):
        return self._try(lambda: False, super().delete, key, version)

    def delete_many(self, keys, version=None):
        self._try(lambda: None, super().delete_many, keys, version)

    def clear(self):
        return self._try(lambda: False, super().clear)
