"""The sites' API keys: made, listed and revoked (`moderation keys`), and checked on every scoring request.

    SiteKeys.create(site)      a new key for `site`: shown once (IssuedKey.key), stored as its digest only
    SiteKeys.keys()            every key's record (id, site, created, revoked), never a key
    SiteKeys.revoke(id)        the key stops working at the next request of every process
    SiteKeys.site_of(key)      the site of a live key; None for anything else

Where they are kept (`key_storage`): in the file MODERATION_KEYS_FILE when it is set, else in the deployment's
store (Redis at REDIS_URL under REDIS_PREFIX; without Redis, process memory, where only the process itself can
make keys). Both are read on every check, with no cache, so a revocation holds at once everywhere: the
check is one Redis round trip (HGETALL) or one stat() of the file.

A check looks the key up by its id (public) and then compares the digests with `hmac.compare_digest`, against
a digest no key has when the id is unknown: how long it takes tells nothing about the secret. No web
framework here: the doors (service/api/keys.py) decide what a missing or refused key means for a request.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from service.config import Settings, web_origin
from service.sites.apikey import SITE_RULE, is_key_id, is_site, key_digest, key_id_of, new_key
from service.store.base import ApiKeyRecord, ApiKeyStore
from service.store.keyfile import KeyFile

log = logging.getLogger(__name__)

#: How often `create` draws another id when the one drawn is taken (62 random bits: it never is, in practice).
_ID_ATTEMPTS = 5
#: Compared against when the presented key's id is unknown, so that both paths compare a digest.
_NO_DIGEST = key_digest("no key has this digest").encode("ascii")


class InvalidSite(ValueError):
    """A site name outside SITE_RULE."""


class InvalidOrigin(ValueError):
    """A web origin that is not scheme://host[:port], or too many of them."""


#: Origins one key may name: a site's pages live at a handful (www, the bare domain, a staging host).
MAX_ORIGINS = 20


class UnknownKey(LookupError):
    """No key has that id."""


@dataclass(frozen=True)
class IssuedKey:
    """A key just made: `key` is shown once and kept nowhere."""

    key: str
    record: ApiKeyRecord


class SiteKeys:
    """The sites' API keys on one ApiKeyStore (a Store, or a KeyFile)."""

    def __init__(self, store: ApiKeyStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock

    def describe(self) -> str:
        """Where the keys are kept."""
        return self.store.describe()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def create(self, site: str, origins: Sequence[str] = ()) -> IssuedKey:
        """A new key for `site`, whose pages at `origins` may call the widget's endpoints (CORS). Raises
        InvalidSite, InvalidOrigin, StoreUnavailable."""
        if not is_site(site):
            raise InvalidSite(f"a site's name is {SITE_RULE}, got {site!r}")
        written = []
        for origin in origins:
            normal = web_origin(origin)
            if normal is None:
                raise InvalidOrigin(
                    f"an origin is scheme://host[:port] with no path (e.g. https://news.example), got {origin!r}"
                )
            if normal not in written:
                written.append(normal)
        if len(written) > MAX_ORIGINS:
            raise InvalidOrigin(f"a key takes at most {MAX_ORIGINS} origins, got {len(written)}")
        for _ in range(_ID_ATTEMPTS):
            key_id, key = new_key()
            record = ApiKeyRecord(
                id=key_id,
                site=site,
                digest=key_digest(key),
                created_ms=self._now_ms(),
                origins=tuple(written),
            )
            if await self.store.add_api_key(record):
                log.info("API key %s created for site %s (%s)", key_id, site, self.describe())
                return IssuedKey(key, record)
        raise RuntimeError(f"no free key id after {_ID_ATTEMPTS} random draws; the id space is exhausted")

    async def keys(self) -> list[ApiKeyRecord]:
        """Every key's record, oldest first, revoked ones included."""
        return await self.store.list_api_keys()

    async def sites(self) -> list[str]:
        """The sites that have (or had) a key, sorted."""
        return sorted({record.site for record in await self.store.list_api_keys()})

    async def revoke(self, key_or_id: str) -> tuple[ApiKeyRecord, bool]:
        """Revoke a key, named by its id or by the key itself (what a leak shows): the record afterwards, and
        whether this call revoked it (a key revoked before keeps its first time). Raises UnknownKey,
        StoreUnavailable."""
        key_id = key_id_of(key_or_id) or key_or_id
        if not is_key_id(key_id):
            raise UnknownKey(f"{key_or_id!r} is neither a key id nor a key of this service")
        found = await self.store.get_api_key(key_id)
        if found is not None and found.revoked:
            return found, False
        # The store revokes in one step and keeps a first revocation's time, so two commands at once agree.
        record = await self.store.revoke_api_key(key_id, self._now_ms()) if found is not None else None
        if record is None:
            raise UnknownKey(f"no API key has the id {key_id}")
        log.info("API key %s of site %s revoked (%s)", key_id, record.site, self.describe())
        return record, True

    async def site_of(self, presented: str) -> str | None:
        """The site of `presented` when it is a live key of this service; None when it is not one (another
        form), unknown, wrong or revoked. Raises StoreUnavailable when the keys cannot be read."""
        record = await self.record_of(presented)
        return record.site if record is not None else None

    async def record_of(self, presented: str) -> ApiKeyRecord | None:
        """The record of `presented` when it is a live key of this service, else None (as `site_of`)."""
        key_id = key_id_of(presented)
        if key_id is None:
            return None
        record = await self.store.get_api_key(key_id)
        stored = record.digest.encode("ascii", "replace") if record is not None else _NO_DIGEST
        matches = hmac.compare_digest(key_digest(presented).encode("ascii"), stored)
        if not matches or record is None or record.revoked:
            return None
        return record

    async def live_origins(self) -> frozenset[str]:
        """Every origin a live key names (what a CORS preflight, which carries no key, is answered by).
        Raises StoreUnavailable."""
        return frozenset(
            origin
            for record in await self.store.list_api_keys()
            if not record.revoked
            for origin in record.origins
        )


def key_storage(settings: Settings, store: ApiKeyStore | None) -> ApiKeyStore | None:
    """Where this deployment keeps its keys: the file MODERATION_KEYS_FILE when it is set, else `store` (the
    service's own: Redis or memory; the CLI passes the Redis store when REDIS_URL is set, else None). None:
    nowhere the CLI can reach."""
    if settings.KEYS_FILE is not None:
        return KeyFile(settings.KEYS_FILE)
    return store
