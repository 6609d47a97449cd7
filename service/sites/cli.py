"""`moderation keys create SITE | list | revoke KEY_ID`: the sites' API keys, where the service reads them.

The keys are kept where the service looks for them: the file MODERATION_KEYS_FILE when it is set, else Redis
at REDIS_URL under MODERATION_REDIS_PREFIX (the same environment as `moderation serve`). With neither, there is
nowhere a running service could read a key from, and the command says so.

`create` prints the new key alone on stdout (so `KEY=$(moderation keys create example.org)` works) and what it
did on stderr; the key is shown this once, as only its digest is kept. `list` never shows a key.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from service.config import Settings
from service.sites.apikey import SITE_RULE
from service.sites.registry import InvalidOrigin, InvalidSite, SiteKeys, UnknownKey, key_storage
from service.store.base import ApiKeyRecord, ApiKeyStore, StoreUnavailable
from service.store.redis import RedisStore

T = TypeVar("T")

NOWHERE = (
    "moderation keys: no place to keep API keys. Set REDIS_URL (the service's Redis; every process shares "
    "the keys) or MODERATION_KEYS_FILE (a file, for a service run without Redis), as for `moderation serve`."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "keys",
        help="make, list and revoke the sites' API keys",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    actions = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="make a key for SITE and print it (once)")
    create.add_argument("site", metavar="SITE", help=f"the site the key speaks for: {SITE_RULE}")
    create.add_argument(
        "--origin",
        dest="origins",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a web origin (https://news.example) whose pages may call the widget's endpoints with this key "
        "(CORS); repeat for several",
    )
    create.set_defaults(func=_create)
    listing = actions.add_parser("list", help="every key: id, site, created, revoked (never the key)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=_list)
    revoke = actions.add_parser("revoke", help="revoke a key: refused from the next request on")
    revoke.add_argument("key_id", metavar="KEY_ID", help="the key's id (from `list`), or the key itself")
    revoke.set_defaults(func=_revoke)


def _run(action: Callable[[SiteKeys], Awaitable[T]]) -> tuple[int, T | None, str]:
    """Run `action` on the deployment's keys: (0, its result, where the keys are), or (exit status, None, ...)
    after saying why not."""
    settings = Settings()
    store: ApiKeyStore | None = None
    if settings.KEYS_FILE is None and settings.REDIS_URL:
        # Not `open_store`: that one would also announce a verdict cache this command does not use.
        store = RedisStore.from_url(settings.REDIS_URL, prefix=settings.REDIS_PREFIX)
    storage = key_storage(settings, store)
    if storage is None:
        print(NOWHERE, file=sys.stderr)
        return 2, None, ""

    async def run() -> T:
        try:
            return await action(SiteKeys(storage))
        finally:
            await storage.aclose()

    try:
        return 0, asyncio.run(run()), storage.describe()
    except StoreUnavailable as exc:
        print(f"moderation keys: the keys cannot be reached ({storage.describe()}): {exc}", file=sys.stderr)
    except (InvalidSite, InvalidOrigin, UnknownKey) as exc:
        print(f"moderation keys: {exc.args[0]}", file=sys.stderr)
    return 1, None, storage.describe()


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _create(args: argparse.Namespace) -> int:
    status, issued, where = _run(lambda keys: keys.create(args.site, args.origins))
    if issued is None:
        return status
    print(issued.key)
    print(
        f"Created API key {issued.record.id} for site {issued.record.site}"
        f"{' (origins: ' + ', '.join(issued.record.origins) + ')' if issued.record.origins else ''}"
        f" (kept in {where}). The key is "
        "shown this once, above: only its SHA-256 is kept. Clients send it in X-API-Key (our API), "
        "?key= (Perspective) or Authorization: Bearer (OpenAI).",
        file=sys.stderr,
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    status, records, _ = _run(lambda keys: keys.keys())
    if records is None:
        return status
    if args.json:
        for r in records:
            print(json.dumps(_json(r)))
        return 0
    rows = [("ID", "SITE", "CREATED", "REVOKED")] + [
        (r.id, r.site, _when(r.created_ms), _when(r.revoked_ms)) for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[3]]))
    if not records:
        print("(no keys yet: `moderation keys create SITE` makes one)", file=sys.stderr)
    return 0


def _json(record: ApiKeyRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "site": record.site,
        "created": _when(record.created_ms),
        "revoked": None if record.revoked_ms is None else _when(record.revoked_ms),
        "origins": list(record.origins),
    }


def _revoke(args: argparse.Namespace) -> int:
    status, revoked, _ = _run(lambda keys: keys.revoke(args.key_id))
    if revoked is None:
        return status
    record, now = revoked
    if now:
        print(f"Revoked API key {record.id} (site {record.site}): refused from the next request on.")
    else:
        print(f"API key {record.id} (site {record.site}) was already revoked at {_when(record.revoked_ms)}.")
    return 0
