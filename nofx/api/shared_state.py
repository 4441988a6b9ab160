"""State that every worker process must agree on: rate-limit buckets, revoked access tokens, login
failures and locks, and the market-data cache.

``MemoryState`` serves a single worker process (no Redis needed). ``RedisState`` serves several: the
token bucket is one Lua script (read, refill, take, write in one atomic step), the rest are plain keys
with expiry. Both implement :class:`SharedState`; ``open_state`` picks one.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from nofx.domain.errors import ConfigError


class SharedState(Protocol):
    def take(self, key: str, burst: int, per_second: float) -> float:
        """Take one token from the bucket ``key``; 0.0 if allowed, else seconds until a token is due."""
        ...

    def revoke(self, jti: str, ttl_s: float) -> None: ...

    def is_revoked(self, jti: str) -> bool: ...

    def add_failure(self, key: str, window_s: float) -> int:
        """Count one failed login for ``key`` within a window; returns the count."""
        ...

    def clear_failures(self, key: str) -> None: ...

    def lock(self, key: str, ttl_s: float) -> None: ...

    def locked_for(self, key: str) -> float:
        """Seconds left on a lock of ``key`` (0.0 if not locked)."""
        ...

    def cache_get(self, key: str) -> bytes | None: ...

    def cache_set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    def close(self) -> None: ...


class MemoryState:
    """In-process state (one worker). Expired entries are dropped when read, and swept when large."""

    _SWEEP_AT = 100_000

    def __init__(self, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)
        self._expiring: dict[str, tuple[float, object]] = {}  # key -> (deadline, value)

    def take(self, key: str, burst: int, per_second: float) -> float:
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * per_second)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / per_second
            if len(self._buckets) > self._SWEEP_AT:  # full buckets carry no information
                self._buckets = {k: v for k, v in self._buckets.items()
                                 if v[0] + (now - v[1]) * per_second < burst}
        return wait

    def _get(self, key: str) -> object | None:
        item = self._expiring.get(key)
        if item is None:
            return None
        if item[0] <= self._clock():
            self._expiring.pop(key, None)
            return None
        return item[1]

    def _set(self, key: str, value: object, ttl_s: float) -> None:
        with self._lock:
            if len(self._expiring) > self._SWEEP_AT:
                now = self._clock()
                self._expiring = {k: v for k, v in self._expiring.items() if v[0] > now}
            self._expiring[key] = (self._clock() + ttl_s, value)

    def revoke(self, jti: str, ttl_s: float) -> None:
        self._set(f"revoked:{jti}", True, max(ttl_s, 1.0))

    def is_revoked(self, jti: str) -> bool:
        return self._get(f"revoked:{jti}") is not None

    def add_failure(self, key: str, window_s: float) -> int:
        with self._lock:
            item = self._expiring.get(f"fail:{key}")
            now = self._clock()
            count = (item[1] if item is not None and item[0] > now else 0) + 1  # type: ignore[operator]
            self._expiring[f"fail:{key}"] = (now + window_s, count)
        return int(count)

    def clear_failures(self, key: str) -> None:
        with self._lock:
            self._expiring.pop(f"fail:{key}", None)

    def lock(self, key: str, ttl_s: float) -> None:
        self._set(f"lock:{key}", True, ttl_s)

    def locked_for(self, key: str) -> float:
        item = self._expiring.get(f"lock:{key}")
        return 0.0 if item is None else max(0.0, item[0] - self._clock())

    def cache_get(self, key: str) -> bytes | None:
        v = self._get(f"cache:{key}")
        return v if isinstance(v, bytes) else None

    def cache_set(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s > 0:
            self._set(f"cache:{key}", value, ttl_s)

    def close(self) -> None:
        pass


# KEYS[1] bucket; ARGV: burst, per_second, now (s). Stores tokens and time; returns ms to wait (0 = taken).
_BUCKET_LUA = """
local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local burst = tonumber(ARGV[1]); local rate = tonumber(ARGV[2]); local now = tonumber(ARGV[3])
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
"""


class RedisState:
    """State in Redis, shared by every worker process (keys under ``nofx:``)."""

    def __init__(self, url: str, prefix: str = "nofx:") -> None:
        import redis

        self._r = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            self._r.ping()
        except redis.RedisError as exc:
            raise ConfigError(f"cannot reach Redis: {exc}", url=_safe(url)) from None
        self._p = prefix
        self._bucket = self._r.register_script(_BUCKET_LUA)

    def take(self, key: str, burst: int, per_second: float) -> float:
        # Redis' clock is the same for every worker; TIME avoids skew between processes
        sec, usec = self._r.time()
        wait_ms = self._bucket(keys=[f"{self._p}rl:{key}"], args=[burst, per_second, sec + usec / 1e6])
        return int(wait_ms) / 1000.0

    def revoke(self, jti: str, ttl_s: float) -> None:
        self._r.set(f"{self._p}revoked:{jti}", 1, px=max(1000, int(ttl_s * 1000)))

    def is_revoked(self, jti: str) -> bool:
        return bool(self._r.exists(f"{self._p}revoked:{jti}"))

    def add_failure(self, key: str, window_s: float) -> int:
        k = f"{self._p}fail:{key}"
        pipe = self._r.pipeline()
        pipe.incr(k)
        pipe.pexpire(k, int(window_s * 1000))
        count, _ = pipe.execute()
        return int(count)

    def clear_failures(self, key: str) -> None:
        self._r.delete(f"{self._p}fail:{key}")

    def lock(self, key: str, ttl_s: float) -> None:
        self._r.set(f"{self._p}lock:{key}", 1, px=int(ttl_s * 1000))

    def locked_for(self, key: str) -> float:
        ms = self._r.pttl(f"{self._p}lock:{key}")
        return max(0.0, ms / 1000.0) if ms and ms > 0 else 0.0

    def cache_get(self, key: str) -> bytes | None:
        return self._r.get(f"{self._p}cache:{key}")  # type: ignore[return-value]

    def cache_set(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s > 0:
            self._r.set(f"{self._p}cache:{key}", value, px=max(1, int(ttl_s * 1000)))

    def close(self) -> None:
        self._r.close()


def _safe(url: str) -> str:
    """A Redis URL without its password (for messages and logs)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def open_state(redis_url: str | None, workers: int = 1) -> SharedState:
    """Redis when a URL is given; in-process state for one worker; several workers without Redis would
    each enforce their own limits and miss each other's revocations, so that is refused."""
    if redis_url:
        return RedisState(redis_url)
    if workers > 1:
        raise ConfigError("more than one worker needs shared state: pass --redis redis://HOST:6379/0",
                          workers=workers)
    return MemoryState()
