"""`moderation keys create | list | revoke`, run in process through `main()`, on Redis and on a key file: the key
it prints is the one a service on the same storage accepts, and a revocation holds at the service's next
check."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import pytest

from service.cli import main
from service.sites.registry import SiteKeys
from service.store import KeyFile, RedisStore
from service.store.base import ApiKeyStore
from tests.support.redis_server import free_port

KEY = re.compile(r"mod_[a-z0-9]{12}_[A-Za-z0-9]{43}")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("MODERATION_") or name == "REDIS_URL":
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture(params=["redis", "file"])
def storage(request: pytest.FixtureRequest, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Points the command's environment at a Redis prefix or a key file of this test's own; says which."""
    if request.param == "redis":
        clean_env.setenv("REDIS_URL", request.getfixturevalue("redis_url"))
        clean_env.setenv("MODERATION_REDIS_PREFIX", request.getfixturevalue("key_prefix"))
    else:
        clean_env.setenv("MODERATION_KEYS_FILE", str(tmp_path / "keys.json"))
    return str(request.param)


def _service_keys() -> ApiKeyStore:
    """What a service process started in the same environment reads its keys from."""
    if os.environ.get("MODERATION_KEYS_FILE"):
        return KeyFile(Path(os.environ["MODERATION_KEYS_FILE"]))
    return RedisStore.from_url(os.environ["REDIS_URL"], prefix=os.environ["MODERATION_REDIS_PREFIX"])


def _site_of(key: str) -> str | None:
    async def check() -> str | None:
        store = _service_keys()
        try:
            return await SiteKeys(store).site_of(key)
        finally:
            await store.aclose()

    return asyncio.run(check())


def test_create_prints_the_key_once_list_never_shows_it_revoke_ends_it(storage, capsys) -> None:
    assert main(["keys", "create", "example.org"]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert KEY.fullmatch(key), out  # stdout is the key alone: KEY=$(moderation keys create SITE)
    key_id = key.split("_")[1]
    assert f"Created API key {key_id} for site example.org" in err and "shown this once" in err
    assert ("file" if storage == "file" else "redis://") in err
    assert _site_of(key) == "example.org"

    assert main(["keys", "create", "other.org"]) == 0
    other = capsys.readouterr().out.strip()

    assert main(["keys", "list"]) == 0
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "SITE", "CREATED", "REVOKED"]
    assert lines[1].split()[:2] == [key_id, "example.org"] and lines[1].split()[3] == "-"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", lines[1].split()[2])
    assert len(lines) == 3 and key not in out and key.split("_")[2] not in out

    assert main(["keys", "revoke", key_id]) == 0
    assert f"Revoked API key {key_id} (site example.org)" in capsys.readouterr().out
    assert _site_of(key) is None  # the service's next check refuses it
    assert _site_of(other) == "other.org"

    assert main(["keys", "list", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(k["id"], k["site"], k["revoked"] is not None) for k in listed] == [
        (key_id, "example.org", True),
        (other.split("_")[1], "other.org", False),
    ]

    # Revoking again is harmless and says when it was done; the leaked key itself names it too.
    assert main(["keys", "revoke", key]) == 0
    assert f"API key {key_id} (site example.org) was already revoked at" in capsys.readouterr().out


def test_mistakes_are_explained_with_a_failing_status(storage, capsys) -> None:
    assert main(["keys", "revoke", "000000000000"]) == 1
    assert "no API key has the id 000000000000" in capsys.readouterr().err
    assert main(["keys", "revoke", "not-a-key"]) == 1
    assert "neither a key id nor a key" in capsys.readouterr().err
    assert main(["keys", "create", "no spaces please"]) == 1
    assert "1 to 64 characters" in capsys.readouterr().err
    assert main(["keys", "list"]) == 0
    out, err = capsys.readouterr()
    assert out.split() == ["ID", "SITE", "CREATED", "REVOKED"] and "no keys yet" in err
    with pytest.raises(SystemExit) as exited:
        main(["keys"])
    assert exited.value.code == 2  # an action is required


def test_without_redis_or_a_key_file_there_is_nowhere_to_keep_keys(clean_env, capsys) -> None:
    assert main(["keys", "create", "example.org"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "set REDIS_URL" in err.replace("Set", "set") and "MODERATION_KEYS_FILE" in err


def test_a_redis_that_does_not_answer_is_said_plainly(clean_env, capsys) -> None:
    clean_env.setenv("REDIS_URL", f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    assert main(["keys", "list"]) == 1
    err = capsys.readouterr().err
    assert "the keys cannot be reached" in err and "hunter2" not in err


def test_a_key_file_others_may_write_is_refused(clean_env, capsys, tmp_path) -> None:
    path = tmp_path / "keys.json"
    clean_env.setenv("MODERATION_KEYS_FILE", str(path))
    assert main(["keys", "create", "example.org"]) == 0
    capsys.readouterr()
    path.chmod(0o666)
    assert main(["keys", "list"]) == 1
    assert "chmod 600" in capsys.readouterr().err


def test_create_takes_origins_for_the_widgets_cors(storage, capsys) -> None:
    assert (
        main(
            [
                "keys",
                "create",
                "news.example",
                "--origin",
                "https://news.example",
                "--origin",
                "https://www.news.example",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "(origins: https://news.example, https://www.news.example)" in captured.err
    assert main(["keys", "list", "--json"]) == 0
    (listed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed["origins"] == ["https://news.example", "https://www.news.example"]


def test_an_origin_that_is_not_one_fails_saying_why(storage, capsys) -> None:
    assert main(["keys", "create", "news.example", "--origin", "news.example"]) == 1
    assert "an origin is scheme://host[:port]" in capsys.readouterr().err
