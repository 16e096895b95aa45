"""A Redis cache that degrades to a miss when Redis is down.

The cache only speeds things up (throttle counters, debounce flags); a dead Redis must not turn every page
and API call into a 500. Django's RedisCache raises on a lost connection, so errors become misses here.
"""
from __future__ import annotations

import logging

from django.core.cache.backends.redis import RedisCache

log = logging.getLogger(__name__)


def _tolerant(name: str, fallback):
    method = getattr(RedisCache, name)

    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as error:  # redis.ConnectionError, TimeoutError, ...
            if isinstance(error, ValueError):  # incr of a missing key: the caller's business
                raise
            log.warning("cache %s failed, treated as a miss: %s", name, error)
            return fallback() if callable(fallback) else fallback

    wrapper.__name__ = name
    return wrapper


class TolerantRedisCache(RedisCache):
    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except Exception as error:
            log.warning("cache get failed, treated as a miss: %s", error)
            return default

    set = _tolerant("set", None)
    add = _tolerant("add", False)
    delete = _tolerant("delete", False)
    touch = _tolerant("touch", False)
    has_key = _tolerant("has_key", False)
    incr = _tolerant("incr", 0)
    get_many = _tolerant("get_many", dict)
    set_many = _tolerant("set_many", list)
    delete_many = _tolerant("delete_many", None)
    clear = _tolerant("clear", None)
