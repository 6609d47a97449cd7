"""API keys for tests of the scoring doors: issue one for a site on a running test app, revoke it.

Not built yet (issue 13, part 1): until the keys exist, tests that need one are skipped, saying so.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def issue_key(client: TestClient, site: str) -> str:
    """A live API key for `site` on `client`'s app."""
    pytest.skip("API keys are not built yet")


def revoke_key(client: TestClient, key: str) -> None:
    """Revoke `key` on `client`'s app."""
    pytest.skip("API keys are not built yet")
