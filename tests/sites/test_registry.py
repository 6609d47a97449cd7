"""SiteKeys on each storage: a key made for a site is that site's until revoked, and nothing else is a key."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.sites import registry
from service.sites.registry import InvalidSite, SiteKeys, UnknownKey, key_storage
from service.store import KeyFile, MemoryStore, RedisStore
from service.store.base import ApiKeyStore
from tests.support.fakes import FakeClock
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "redis", "file"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ApiKeyStore]:
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "file":
        yield KeyFile(tmp_path / "keys.json")
    else:
        s = RedisStore.from_url(
            request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("key_prefix")
        )
        yield s
        await s.aclose()


@pytest.fixture
def keys(storage: ApiKeyStore) -> SiteKeys:
    return SiteKeys(storage, clock=FakeClock(1_764_400_000.0))


async def test_a_new_key_speaks_for_its_site_and_only_its_digest_is_kept(keys: SiteKeys) -> None:
    issued = await keys.create("example.org")
    assert await keys.site_of(issued.key) == "example.org"
    (record,) = await keys.keys()
    assert record == issued.record
    assert (record.site, record.created_ms, record.revoked_ms) == ("example.org", 1_764_400_000_000, None)
    assert issued.key not in repr(record) and issued.key.split("_")[2] not in repr(record)


async def test_a_revoked_key_is_refused_at_its_next_check(keys: SiteKeys) -> None:
    issued = await keys.create("example.org")
    other = await keys.create("example.org")
    record, now = await keys.revoke(issued.record.id)
    assert now and record.revoked
    assert await keys.site_of(issued.key) is None
    assert await keys.site_of(other.key) == "example.org"  # the site's other keys keep working
    # Revoking again changes nothing and says so; the key itself names it too (what a leak shows).
    again, now = await keys.revoke(issued.key)
    assert not now and again.revoked_ms == record.revoked_ms


async def test_a_wrong_secret_an_unknown_id_and_foreign_keys_are_no_site(keys: SiteKeys) -> None:
    issued = await keys.create("example.org")
    prefix, key_id, secret = issued.key.split("_")
    wrong_secret = f"{prefix}_{key_id}_{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"
    unknown_id = f"{prefix}_{'0' * 12}_{secret}"
    for presented in (wrong_secret, unknown_id, "AIzaSy-perspective", "sk-openai", "", issued.key + " "):
        assert await keys.site_of(presented) is None, presented


async def test_unknown_ids_and_wrong_secrets_are_both_compared_in_constant_time(
    keys: SiteKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(registry.hmac, "compare_digest", spy)
    issued = await keys.create("example.org")
    prefix, key_id, secret = issued.key.split("_")
    await keys.site_of(f"{prefix}_{'0' * 12}_{secret}")
    await keys.site_of(f"{prefix}_{key_id}_{secret[::-1]}")
    await keys.site_of(issued.key)
    # One digest comparison each, of 64 hex digits either side: whether the id exists changes nothing.
    assert len(compared) == 3 and all(len(a) == len(b) == 64 for a, b in compared)


async def test_sites_are_named_by_the_rule(keys: SiteKeys) -> None:
    for bad in ("", "a b", "../etc", "x" * 65):
        with pytest.raises(InvalidSite, match="1 to 64 characters"):
            await keys.create(bad)
    assert await keys.keys() == []


async def test_revoking_what_is_no_key_says_so(keys: SiteKeys) -> None:
    with pytest.raises(UnknownKey, match="no API key has the id"):
        await keys.revoke("0" * 12)
    with pytest.raises(UnknownKey, match="neither a key id nor a key"):
        await keys.revoke("not an id")


async def test_the_sites_with_keys_are_listed_once_each(keys: SiteKeys) -> None:
    for site in ("b.org", "a.org", "b.org"):
        await keys.create(site)
    assert await keys.sites() == ["a.org", "b.org"]


async def test_a_taken_id_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter(
        [("aaaaaaaaaaaa", "mod_aaaaaaaaaaaa_" + "A" * 43), ("bbbbbbbbbbbb", "mod_bbbbbbbbbbbb_" + "B" * 43)]
    )
    keys = SiteKeys(MemoryStore())
    monkeypatch.setattr(registry, "new_key", lambda: ("aaaaaaaaaaaa", "mod_aaaaaaaaaaaa_" + "C" * 43))
    await keys.create("one.org")
    monkeypatch.setattr(registry, "new_key", lambda: next(draws))
    issued = await keys.create("two.org")
    assert issued.record.id == "bbbbbbbbbbbb" and await keys.site_of(issued.key) == "two.org"


def test_the_key_file_wins_over_the_store_when_set(tmp_path: Path) -> None:
    store = MemoryStore()
    assert key_storage(make_settings(), store) is store
    assert key_storage(make_settings(), None) is None
    chosen = key_storage(make_settings(KEYS_FILE=tmp_path / "k.json"), store)
    assert isinstance(chosen, KeyFile) and chosen.path == tmp_path / "k.json"


# -- origins (the widget's CORS, issue 14) -------------------------------------------------------------------


async def test_a_keys_origins_are_kept_as_browsers_write_them_and_listed_while_it_lives(
    keys: SiteKeys,
) -> None:
    issued = await keys.create(
        "news.example", ["HTTPS://News.Example/", "https://news.example:443", "http://x.test:8080"]
    )
    assert issued.record.origins == ("https://news.example", "http://x.test:8080")
    assert (await keys.record_of(issued.key)) == issued.record
    (record,) = await keys.keys()
    assert record.origins == issued.record.origins  # read back from the storage as written
    other = await keys.create("blog.example", ["https://blog.example"])
    assert await keys.live_origins() == {"https://news.example", "http://x.test:8080", "https://blog.example"}
    await keys.revoke(other.record.id)
    assert await keys.live_origins() == {"https://news.example", "http://x.test:8080"}
    assert await keys.record_of(other.key) is None


async def test_a_key_without_origins_reads_as_before(keys: SiteKeys) -> None:
    issued = await keys.create("example.org")
    assert issued.record.origins == ()
    assert await keys.live_origins() == frozenset()


@pytest.mark.parametrize("bad", ["news.example", "https://news.example/path", "*", "null"])
async def test_what_is_not_an_origin_is_refused_and_nothing_is_kept(keys: SiteKeys, bad: str) -> None:
    with pytest.raises(registry.InvalidOrigin, match="scheme://host"):
        await keys.create("news.example", [bad])
    assert await keys.keys() == []


async def test_a_key_takes_a_bounded_number_of_origins(keys: SiteKeys) -> None:
    many = [f"https://s{i}.example" for i in range(registry.MAX_ORIGINS + 1)]
    with pytest.raises(registry.InvalidOrigin, match="at most"):
        await keys.create("news.example", many)
