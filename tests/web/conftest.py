"""The dashboard's tests run against a started app with a known admin password and the marker scorer."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.support.admin import ADMIN_PASSWORD
from tests.support.scorers import MarkerScorer


@pytest.fixture
def app(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(MarkerScorer(), ADMIN_PASSWORD=ADMIN_PASSWORD)
