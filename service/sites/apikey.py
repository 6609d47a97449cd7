"""What an API key looks like, how one is made, and what is kept of it.

    mod_<id>_<secret>        e.g. mod_k3f9q0c2m7xa_Q2xv...   (60 characters)

- `mod_`: a fixed prefix, so that secret scanners (GitHub's, gitleaks, trufflehog) can be taught to find our
  keys in code and logs with one rule, and a person can tell what leaked;
- `<id>`: 12 characters of a-z 0-9 (62 bits), random; public: `moderation keys list` shows it, `revoke` takes
  it, and the service looks a key up by it;
- `<secret>`: 43 characters of A-Z a-z 0-9 (256 bits), from `secrets`.
Letters and digits only, joined by "_": a double click selects the whole key, and no URL, header or shell
needs it quoted.

The service keeps the SHA-256 of the whole key (`key_digest`), never the key. A fast hash is enough: the
secret is 256 random bits, so no dictionary or brute force gets anywhere near it (slow hashes exist for
passwords people choose), and every request pays for the hash.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string

KEY_PREFIX = "mod_"
KEY_ID_CHARS = 12
SECRET_CHARS = 43
_ID_ALPHABET = string.ascii_lowercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
_KEY = re.compile(rf"{KEY_PREFIX}([a-z0-9]{{{KEY_ID_CHARS}}})_[A-Za-z0-9]{{{SECRET_CHARS}}}", re.ASCII)
_KEY_ID = re.compile(rf"[a-z0-9]{{{KEY_ID_CHARS}}}", re.ASCII)

#: A site's name: what the log, the dashboard's filter and each decision carry.
SITE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
SITE_RULE = "1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or a digit"
_SITE = re.compile(SITE_PATTERN, re.ASCII)


def new_key() -> tuple[str, str]:
    """A new random key and its id: (id, key)."""
    key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(KEY_ID_CHARS))
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_CHARS))
    return key_id, f"{KEY_PREFIX}{key_id}_{secret}"


def key_id_of(text: str) -> str | None:
    """The id of `text` when it has the form of one of our keys, else None (says nothing of whether it is
    valid)."""
    found = _KEY.fullmatch(text) if isinstance(text, str) else None
    return found.group(1) if found else None


def is_key_id(text: str) -> bool:
    return isinstance(text, str) and _KEY_ID.fullmatch(text) is not None


def key_digest(key: str) -> str:
    """What the store keeps of a key: its SHA-256, hex."""
    # surrogatepass: anything a client sends has bytes (our keys are ASCII; this never raises on the others).
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def is_site(name: str) -> bool:
    return isinstance(name, str) and _SITE.fullmatch(name) is not None
