"""Everything a deployment wrote to Redis, read back whatever its type: for tests that must prove what was
not stored (Perspective's doNotStore)."""

from __future__ import annotations

import redis


def contents_under(client: redis.Redis, prefix: str) -> dict[str, str]:
    """Every key under `prefix` (SCAN) with its whole content as text: a string's value, a hash's fields and
    values, a stream's entries, a set's or sorted set's members, a list's items."""
    found: dict[str, str] = {}
    for raw_key in client.scan_iter(match=f"{prefix}*", count=1000):
        key = raw_key.decode("utf-8", "replace") if isinstance(raw_key, bytes) else str(raw_key)
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "string":
            value: object = client.get(key)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "stream":
            value = client.xrange(key)
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            value = client.smembers(key)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        else:
            value = f"<{kind}>"
        found[key] = str(value)
    return found
