"""service/logs.py: no log line carries a raw control character or a URL's password.

The formatter is tried on records made by real loggers; configure_logging in a fresh interpreter (the test
runner owns this one's root logger), where uvicorn's loggers must reach it too. The served process's own log
is checked in tests/e2e/test_serve.py.
"""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest

from service.logs import LOG_FORMAT, SafeFormatter, escape_controls, mask_secret_params, mask_urls


@pytest.fixture
def log_lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose records go through SafeFormatter into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(SafeFormatter(LOG_FORMAT))
    logger = logging.getLogger("service.test_logging")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield logger, buffer
    logger.removeHandler(handler)


def test_a_client_cannot_start_a_line_of_its_own(log_lines):
    logger, buffer = log_lines
    path = "/v1/nope\r\n2030-01-01 00:00:00,000 CRITICAL service: forged\x1b[2J"
    logger.warning("GET %s: not found", path)
    out = buffer.getvalue()
    assert out.count("\n") == 1 and out.endswith("\n")
    assert "\\r\\n2030-01-01 00:00:00,000 CRITICAL service: forged\\x1b[2J" in out
    assert "\x1b" not in out and "\r" not in out


@pytest.mark.parametrize(
    "char,shown",
    [
        ("\t", "\\t"),
        ("\x00", "\\x00"),
        ("\x7f", "\\x7f"),
        ("\x85", "\\x85"),  # NEL: a line break to some viewers
        ("\x9b", "\\x9b"),  # CSI, the one-byte ESC [
        ("\u202e", "\\u202e"),  # RIGHT-TO-LEFT OVERRIDE
        ("\u2067", "\\u2067"),  # RIGHT-TO-LEFT ISOLATE
        ("\u200f", "\\u200f"),  # RIGHT-TO-LEFT MARK
        ("\u061c", "\\u061c"),  # ARABIC LETTER MARK
        ("\u2028", "\\u2028"),  # LINE SEPARATOR
    ],
)
def test_every_control_character_is_escaped(log_lines, char, shown):
    logger, buffer = log_lines
    logger.info("comment %s: %s", f"id{char}1", "text")
    assert f"comment id{shown}1: text" in buffer.getvalue()
    assert char not in buffer.getvalue()


def test_ordinary_text_is_left_as_it_is():
    text = "Grüße, 日本語, עברית and a path C:\\logs\\x1b (backslashes are text)"
    assert escape_controls(text) == text


def test_a_traceback_keeps_its_lines_but_none_passes_for_a_record(log_lines):
    logger, buffer = log_lines
    try:
        raise ValueError("bad id\n2030-01-01 00:00:00,000 INFO service: forged\x1b")
    except ValueError:
        logger.exception("unhandled error on %s", "/v1/moderate")
    lines = buffer.getvalue().splitlines()
    assert lines[0].endswith("ERROR service.test_logging: unhandled error on /v1/moderate")
    assert lines[1] == "  Traceback (most recent call last):"
    assert all(line.startswith("  ") for line in lines[1:])
    assert "  2030-01-01 00:00:00,000 INFO service: forged\\x1b" in lines


def test_url_passwords_are_masked_in_messages_and_arguments(log_lines):
    logger, buffer = log_lines
    logger.error("webhook %s refused delivery %s", "https://site:hook-s3cret@hooks.example/moderation", "d-1")
    logger.warning("connecting to redis://:redis-s3cret@10.0.0.5:6379/0?password=other-s3cret&db=1")
    out = buffer.getvalue()
    assert "s3cret" not in out
    assert "webhook https://site:***@hooks.example/moderation refused delivery d-1" in out
    assert "redis://:***@10.0.0.5:6379/0?password=***&db=1" in out


def test_credentials_in_a_query_are_masked_with_or_without_a_scheme(log_lines):
    # Before: uvicorn's access line quoted a Perspective client's ?key= as sent.
    logger, buffer = log_lines
    key = "mod_k3f9q0c2m7xa_" + "Q" * 43
    logger.info('127.0.0.1:5000 - "POST /v1alpha1/comments:analyze?key=%s HTTP/1.1" 200', key)
    logger.info("GET /v1/comments/c-1?token=wlgc33ZIsngT-83APKmPQQ&x=1")
    logger.info("https://svc.example/v1alpha1/comments:analyze?alt=json&KEY=%s", key)
    out = buffer.getvalue()
    assert "Q" * 10 not in out and "wlgc33ZIsngT" not in out
    assert '"POST /v1alpha1/comments:analyze?key=*** HTTP/1.1" 200' in out
    assert "/v1/comments/c-1?token=***&x=1" in out and "?alt=json&KEY=***" in out
    assert "?monkey=1" in mask_secret_params("?monkey=1")  # a name ending in "key" is not a key


def test_the_appeal_token_is_masked_in_the_access_line(log_lines):
    # Issue 14: the widget links to the statement page with ?appeal_token=, which uvicorn's access line quotes.
    logger, buffer = log_lines
    logger.info('"GET /v1/comments/c-1/statement.html?appeal_token=Fq2mX9-_zzT0kQ&lang=en HTTP/1.1" 200')
    out = buffer.getvalue()
    assert "Fq2mX9" not in out and "statement.html?appeal_token=***&lang=en" in out


def test_mask_urls_leaves_urls_without_a_password_alone():
    text = "GET https://hooks.example/moderation?x=1 and http://user@host/ and 'ftp://a:b@c/d'"
    assert (
        mask_urls(text)
        == "GET https://hooks.example/moderation?x=1 and http://user@host/ and 'ftp://a:***@c/d'"
    )


_CONFIGURED = """
import logging
from service.logs import configure_logging
configure_logging("INFO")
logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
    "/x\\r\\nforged-access-line", "1.1", 404)
logging.getLogger("uvicorn.error").info("Started %s", "\\x1b[31mred")
logging.getLogger("service.api.errors").warning("webhook %s", "https://u:p4ss@h.example/")
"""


def test_configure_logging_covers_the_service_and_uvicorn(repo_root):
    result = subprocess.run(
        [sys.executable, "-c", _CONFIGURED],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = result.stderr.splitlines()
    assert len(lines) == 3, result.stderr
    assert lines[0].endswith(
        'INFO uvicorn.access: 127.0.0.1:5000 - "GET /x\\r\\nforged-access-line HTTP/1.1" 404'
    )
    assert lines[1].endswith("INFO uvicorn.error: Started \\x1b[31mred")
    assert lines[2].endswith("WARNING service.api.errors: webhook https://u:***@h.example/")
