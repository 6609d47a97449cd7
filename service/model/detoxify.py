"""`DetoxifyScorer`: a loaded `detoxify.Detoxify` model scoring batches with PyTorch."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from service.model.windows import DEFAULT_WINDOW_OVERLAP, Logits, ModelInputs, TokenWindows

# torch, transformers and detoxify are imported when a model is loaded, not with this module.
if TYPE_CHECKING:
    import detoxify
    import transformers

# RoBERTa-family models number positions from padding_idx + 1, so of their 514 position embeddings only
# 512 hold tokens; BERT and ALBERT use every one.
_OFFSET_POSITION_MODELS = frozenset({"roberta", "xlm-roberta", "camembert"})


class DetoxifyScorer:
    """A loaded `detoxify.Detoxify`, scoring batches through its model and tokenizer.

    Scores are Detoxify's (sigmoid of the logits), computed the way `Detoxify.predict` does, plus what a
    service needs: an explicit thread count, `torch.inference_mode`, and truncation to what the model can
    take even when the tokenizer files do not say it.
    """

    def __init__(
        self,
        model: detoxify.Detoxify,
        *,
        model_id: str,
        threads: int,
        window_overlap: int = DEFAULT_WINDOW_OVERLAP,
        checkpoint_sha256: str | None = None,
    ) -> None:
        import tokenizers
        import torch

        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
        self.model_id = model_id
        self.checkpoint_sha256 = checkpoint_sha256
        """The whole sha256 of the checkpoint file (the model id keeps 12 digits of it); for exports."""
        self.categories: tuple[str, ...] = tuple(model.class_names)
        self.threads = threads
        # `Detoxify` carries no types; these two attributes are the Hugging Face objects it built.
        self._model: transformers.PreTrainedModel = model.model.eval()
        self._tokenizer: transformers.PreTrainedTokenizerBase = model.tokenizer
        self.max_length = _max_length(self._model.config, self._tokenizer)
        """The most tokens (special tokens included) one model call sees; longer texts are scored in windows."""
        backend = getattr(self._tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise ValueError(f"{type(self._tokenizer).__name__} is not a fast tokenizer (no tokenizer.json?)")
        # A copy: Hugging Face sets truncation and padding on the shared Rust tokenizer per call.
        self.windows = TokenWindows(
            tokenizers.Tokenizer.from_str(backend.to_str()),
            max_length=self.max_length,
            overlap=window_overlap,
            pad_id=self._tokenizer.pad_token_id or 0,
            token_type_ids="token_type_ids" in self._tokenizer.model_input_names,
        )

    @property
    def model(self) -> transformers.PreTrainedModel:
        """The Hugging Face model that scores, in eval mode (what `moderation model export` traces)."""
        return self._model

    def save_config_and_tokenizer(self, folder: Path) -> None:
        """Write the model's Hugging Face `config.json` and tokenizer files (no weights) into `folder`."""
        self._tokenizer.save_pretrained(folder)
        self._model.config.save_pretrained(folder)

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        import torch

        if not texts:
            return []
        # Cheap insurance that the count set at load holds in the worker thread that scores, too.
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        return self.windows.score(texts, self._run, self.categories)

    def _run(self, inputs: ModelInputs) -> Logits:
        import torch

        with torch.inference_mode():
            tensors = {name: torch.from_numpy(array).to(self._model.device) for name, array in inputs.items()}
            logits: torch.Tensor = self._model(**tensors)[0]
            return logits.float().cpu().numpy()

    def check(self) -> None:
        """Raise if the model loaded but cannot score, so it fails at startup rather than on every request."""
        vocabulary = len(self._tokenizer)
        rows = getattr(self._model.config, "vocab_size", None)
        # transformers 5 builds a BERT tokenizer from no vocabulary file at all (five special tokens, every
        # word [UNK]) instead of failing; a tokenizer much smaller than the embedding matrix belongs to
        # another model or lost its files. (Embeddings may have a few more rows than the tokenizer has
        # tokens, never fewer.)
        if rows is not None and not rows // 2 < vocabulary <= rows:
            raise ValueError(
                f"the tokenizer has {vocabulary} tokens for a model with {rows} token embeddings: its files "
                "are missing or belong to another model"
            )
        # One inference now: it proves the whole path works and keeps first-call costs off the first request.
        self.score(["load check"])


def _max_length(
    config: transformers.PretrainedConfig, tokenizer: transformers.PreTrainedTokenizerBase
) -> int:
    # A tokenizer saved without model_max_length reports a huge sentinel; the position embeddings are the
    # real limit, and a text longer than them would make the model raise instead of being truncated.
    limit = int(tokenizer.model_max_length)
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        if getattr(config, "model_type", None) in _OFFSET_POSITION_MODELS:
            pad_token_id = getattr(config, "pad_token_id", None)
            positions -= (1 if pad_token_id is None else pad_token_id) + 1
        limit = min(limit, int(positions))
    return limit
