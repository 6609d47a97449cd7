"""API keys for tests of the scoring doors: issue one for a site on a running test app, revoke it.

Both go through the app's own SiteKeys (app.state.site_keys), on the app's event loop, so they work whatever
the app keeps its keys in: process memory (the tests' default), Redis (REDIS_URL) or a key file. The client
must be started (`with TestClient(app)`, or the `make_client` fixture).
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.sites.registry import SiteKeys


def _site_keys(client: TestClient) -> SiteKeys:
    assert client.portal is not None, "start the client first (with TestClient(app) / make_client)"
    keys: SiteKeys = client.app.state.site_keys  # type: ignore[attr-defined]
    return keys


def issue_key(client: TestClient, site: str) -> str:
    """A live API key for `site` on `client`'s app."""
    keys = _site_keys(client)
    assert client.portal is not None
    return client.portal.call(keys.create, site).key


def revoke_key(client: TestClient, key: str) -> None:
    """Revoke `key` on `client`'s app: refused from its next request on."""
    keys = _site_keys(client)
    assert client.portal is not None
    client.portal.call(keys.revoke, key)
