"""OpenAI's Python client with its own HTTP stack, over real HTTP, against `moderation serve` running the real
Detoxify loader on a checkpoint built here: what a site that only changed its base URL does."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from service.model.demo import build_tiny_checkpoint
from tests.e2e.test_serve import Server, _env, _start, _stop, _wait_ready
from tests.support.redis_server import free_port


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-model"))


def test_a_site_that_changed_only_its_base_url(tiny_model: Path, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    server = Server(_start(["serve"], _env(MODERATION_MODEL_PATH=str(tiny_model)), log, port), port, log)
    try:
        _wait_ready(server)
        _, ready = server.request("GET", "/readyz")
        client = openai.OpenAI(
            base_url=f"{server.base}/v1", api_key="sk-any", max_retries=0, _strict_response_validation=True
        )
        with client:
            answer = client.moderations.create(
                model="omni-moderation-latest", input=["What a fucking mess.", "A kind word, thank you."]
            )
            assert answer.model == ready["checks"]["model"]["detail"]  # the checkpoint that ran, tiny:<hash>
            assert len(answer.results) == 2
            assert answer.results[0].flagged is True  # an obscene word: the word list rejects it
            assert all(
                0.0 <= s <= 1.0 for r in answer.results for s in r.category_scores.model_dump().values()
            )
            with pytest.raises(openai.BadRequestError) as raised:
                client.moderations.create(
                    input=[{"type": "image_url", "image_url": {"url": "https://example.org/cat.png"}}]
                )
            assert raised.value.code == "image_input_unsupported" and raised.value.param == "input[0]"
    finally:
        _stop(server)
