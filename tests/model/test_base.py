"""What the rest of the service knows of the model: `NoModel`, and the message of `ModelLoadError`."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from service.model.base import NO_MODEL, ModelLoadError, NoModel, Scorer


def test_no_model_has_no_categories_and_refuses_to_score() -> None:
    scorer: Scorer = NoModel()  # the protocol is all the pipeline sees

    assert scorer.model_id == NO_MODEL == "none"
    assert scorer.categories == ()
    with pytest.raises(RuntimeError, match="MODERATION_MODEL=none"):
        scorer.score(["a comment"])


def test_the_load_error_names_the_model_the_cause_and_the_remedies() -> None:
    error = ModelLoadError("unbiased", "OSError: no network")

    message = str(error)

    assert message.startswith("Could not load the toxicity model 'unbiased': OSError: no network\n")
    assert "MODERATION_MODEL_PATH" in message  # a local folder, offline
    assert "$TORCH_HOME" in message and "$HF_HOME" in message  # pulled once where there is network
    assert "MODERATION_MODEL=none" in message  # the word list alone
    assert (error.model, error.cause, error.path) == ("unbiased", "OSError: no network", None)


def test_the_load_error_names_the_folder_it_loaded_from(tmp_path: Path) -> None:
    error = ModelLoadError("tiny", "the folder holds no .ckpt or .pt checkpoint file", path=tmp_path)

    assert str(error).startswith(
        f"Could not load the toxicity model 'tiny' from {tmp_path}: the folder holds"
    )
    assert error.path == tmp_path


def test_the_load_error_survives_pickling(tmp_path: Path) -> None:
    # Rescoring workers are processes: an error raised in one reaches the parent pickled.
    error = ModelLoadError("tiny", "ValueError: bad checkpoint", path=tmp_path)

    copy = pickle.loads(pickle.dumps(error))

    assert (copy.model, copy.cause, copy.path) == (error.model, error.cause, error.path)
    assert str(copy) == str(error)


def test_base_imports_no_model_library() -> None:
    # The pipeline and the API import this module whichever backend runs, or none.
    code = (
        "import sys, service.model.base; "
        "print(sorted(m for m in ('torch', 'transformers', 'onnxruntime', 'detoxify') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
