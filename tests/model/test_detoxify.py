"""`DetoxifyScorer`: Detoxify's scores through PyTorch, the model's token limit, threads, its public surface.

Scorers are loaded the way the service loads them (`load_scorer` on a tiny checkpoint folder built here);
no test may reach the network (`no_network`, tests/model/conftest.py).
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from service.model.base import Scorer
from service.model.demo import TINY_CHECKPOINT_NAME, UNBIASED_CLASSES, build_tiny_checkpoint
from service.model.detoxify import DetoxifyScorer
from service.model.loader import load_scorer

pytestmark = pytest.mark.usefixtures("no_network")

TEXTS = [
    "Thanks for the thoughtful article about the bridge.",
    "You are an idiot and this rubbish is pathetic.",
    "The council meeting on Tuesday ran late.",
]


@pytest.fixture(scope="module")
def tiny_scorer(tiny_folder: Path) -> Scorer:
    return load_scorer("unbiased", tiny_folder, threads=1)


def _copy(folder: Path, tmp_path: Path, name: str = "copy") -> Path:
    return Path(shutil.copytree(folder, tmp_path / name))


def test_scores_a_batch_within_0_1_and_as_detoxify_predict_does(
    tiny_scorer: Scorer, tiny_folder: Path
) -> None:
    import detoxify

    scores = tiny_scorer.score(TEXTS)

    assert len(scores) == len(TEXTS)
    for row in scores:
        assert set(row) == set(UNBIASED_CLASSES)
        assert all(0.0 <= p <= 1.0 for p in row.values())
    # Random weights, but not a constant model: different texts get different scores.
    assert scores[0] != scores[1]
    reference = detoxify.Detoxify(
        checkpoint=str(tiny_folder / TINY_CHECKPOINT_NAME), huggingface_config_path=str(tiny_folder)
    ).predict(TEXTS)
    for category in UNBIASED_CLASSES:
        for i, expected in enumerate(reference[category]):
            assert scores[i][category] == pytest.approx(expected, abs=1e-5)


def test_scores_a_single_text_and_an_empty_batch(tiny_scorer: Scorer) -> None:
    [one] = tiny_scorer.score(TEXTS[1:2])
    assert one == pytest.approx(tiny_scorer.score(TEXTS)[1], abs=1e-5)
    assert tiny_scorer.score([]) == []


def test_a_text_longer_than_the_model_takes_is_scored_in_windows(tiny_scorer: Scorer) -> None:
    long_text = "you are an idiot and this rubbish is pathetic " * 200  # far beyond 64 positions

    [scores] = tiny_scorer.score([long_text])

    assert isinstance(tiny_scorer, DetoxifyScorer)
    assert tiny_scorer.max_length == 64
    assert all(0.0 <= p <= 1.0 for p in scores.values())


def test_the_position_embeddings_limit_the_window_when_the_tokenizer_does_not_say(
    tiny_folder: Path, tmp_path: Path
) -> None:
    folder = _copy(tiny_folder, tmp_path)
    tokenizer_config = folder / "tokenizer_config.json"
    options = json.loads(tokenizer_config.read_text())
    del options["model_max_length"]
    tokenizer_config.write_text(json.dumps(options))

    scorer = load_scorer("unbiased", folder, threads=1)

    assert isinstance(scorer, DetoxifyScorer)
    assert scorer.max_length == 64
    [scores] = scorer.score(["word " * 500])
    assert len(scores) == len(UNBIASED_CLASSES)


def test_original_class_names_are_standardised(tmp_path: Path) -> None:
    folder = build_tiny_checkpoint(
        tmp_path / "original",
        classes=["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"],
    )
    scorer = load_scorer("original", folder, threads=1)
    assert scorer.categories == (
        "toxicity",
        "severe_toxicity",
        "obscene",
        "threat",
        "insult",
        "identity_attack",
    )


@pytest.mark.parametrize("threads", [1, 2])
def test_sets_the_torch_thread_count(tiny_folder: Path, threads: int) -> None:
    torch.set_num_threads(3 - threads)  # start from the other value

    scorer = load_scorer("unbiased", tiny_folder, threads=threads)

    assert torch.get_num_threads() == threads

    def score_in_worker() -> int:  # as the micro-batcher's worker thread does
        scorer.score(TEXTS)
        return torch.get_num_threads()

    with ThreadPoolExecutor(max_workers=1) as worker:
        assert worker.submit(score_in_worker).result() == threads


def test_the_model_is_public_and_in_eval_mode(tiny_scorer: Scorer) -> None:
    assert isinstance(tiny_scorer, DetoxifyScorer)
    assert isinstance(tiny_scorer.model, torch.nn.Module)
    assert not tiny_scorer.model.training
    assert tiny_scorer.model.config.num_labels == len(UNBIASED_CLASSES)
    with pytest.raises(AttributeError):
        tiny_scorer.model = tiny_scorer.model  # type: ignore[misc]  # read-only


def test_saved_config_and_tokenizer_serve_the_checkpoint_again(
    tiny_scorer: Scorer, tiny_folder: Path, tmp_path: Path
) -> None:
    assert isinstance(tiny_scorer, DetoxifyScorer)
    saved = tmp_path / "saved"
    saved.mkdir()

    tiny_scorer.save_config_and_tokenizer(saved)

    names = {p.name for p in saved.iterdir()}
    assert {"config.json", "tokenizer.json", "tokenizer_config.json"} <= names
    assert not any(name.endswith((".ckpt", ".pt", ".safetensors", ".bin")) for name in names)  # no weights
    assert json.loads((saved / "config.json").read_text())["max_position_embeddings"] == 64
    # With the checkpoint beside them, the saved files are a folder the service loads, scoring as before.
    shutil.copyfile(tiny_folder / TINY_CHECKPOINT_NAME, saved / TINY_CHECKPOINT_NAME)
    again = load_scorer("unbiased", saved, threads=1)
    assert again.model_id == tiny_scorer.model_id
    for got, expected in zip(again.score(TEXTS), tiny_scorer.score(TEXTS), strict=True):
        assert got == pytest.approx(expected, abs=1e-6)
