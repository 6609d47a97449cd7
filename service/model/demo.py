"""Detoxify checkpoints built locally: the DEMO model, and the checkpoints tests and benchmarks load.

A checkpoint here has exactly the shape of Detoxify's released ones:
`{"config": {"arch": {"args": {...}}, "dataset": {"args": {"classes": [...]}}}, "state_dict": ...}`, next to
the Hugging Face files (`config.json`, `vocab.txt`, `tokenizer.json`, `tokenizer_config.json`) that
`transformers` needs to rebuild the model and tokenizer from a local folder. The weights are random: what
these checkpoints exercise is the loading path, the batching and the speed, not the scores.

- `build_demo_model` (`moderation model demo DIR`, `make demo-model`): the tiny checkpoint with its output
  bias set low, so it scores every comment near 0.02 and verdicts come from the word list, which is real.
  It is NOT a toxicity classifier; it exists so the service can be tried end to end where Detoxify's
  weights can't be downloaded.
- `build_tiny_checkpoint`: a 2-layer BERT with hidden size 32, for unit tests (about a second).
- `build_base_checkpoint`: the architecture of Detoxify's `original` (bert-base-uncased, 6 Jigsaw classes),
  for benchmarks; cached in its folder because it is a ~420 MB file.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NotRequired, TypedDict, Unpack

import torch
import transformers
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from service.model.base import UNBIASED_CATEGORIES

UNBIASED_CLASSES: tuple[str, ...] = UNBIASED_CATEGORIES
"""The classes a checkpoint of Detoxify's `unbiased` model holds, in its output order."""

ORIGINAL_CLASSES: tuple[str, ...] = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
"""The Jigsaw classes of Detoxify's `original` model, as its checkpoint spells them (Detoxify renames them)."""

TINY_CHECKPOINT_NAME = "tiny.ckpt"
BASE_CHECKPOINT_NAME = "bert-base.ckpt"

BERT_BASE_VOCAB_SIZE = 30522
"""bert-base-uncased's vocabulary size; the base build pads its trained vocabulary up to it."""


class BertShape(TypedDict):
    """The architecture numbers of a built checkpoint (`transformers.BertConfig` arguments)."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    initializer_range: NotRequired[float]


_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Bump when the base build changes, so a cached base checkpoint from an older builder is rebuilt.
_BASE_BUILD_VERSION = 2
_BASE_MARKER = "BUILD_COMPLETE.json"

# Written for these fixtures: comments of the kind a news site receives, polite and not, so the trained
# WordPiece vocabulary holds real words and sub-words rather than only characters.
_CORPUS = """\
Thanks for the thoughtful article, I learned a lot about the new bridge project.
The mayor should have consulted the neighbourhood before closing the library.
I completely disagree with the author, the numbers in the third paragraph are wrong.
You are an idiot and everyone who reads this rubbish is an idiot too.
This is the stupidest comment I have read all week, go back to school.
Shut up, nobody cares what you think about the football club.
What a wonderful photo of the harbour at sunrise, please publish more of these.
The council meeting on Tuesday ran late because of the parking debate.
Could the newspaper correct the date in the caption? The festival was in June, not July.
I will find where you live and make you regret writing this.
People like you should not be allowed to vote, you are all the same.
My grandmother grew up in this village and she would have loved this story.
The referee was terrible, but the team played badly in the second half anyway.
Interesting point about taxes, although the budget figures deserve a closer look.
Get lost, you pathetic troll, and take your conspiracy theories with you.
Congratulations to the students who won the regional science competition!
The new bus timetable makes it impossible to get to work before nine.
Honestly the comments under this article are worse than the article itself.
Well written and fair to both sides, which is rare these days.
This writer is a disgrace and the editor should be ashamed for printing it.
The weather forecast said rain, yet the market was packed all afternoon.
I appreciate the reporting, but please cite the study you are quoting.
Nobody asked for your opinion, loser.
Local bakery wins award for the best sourdough in the county.
Hospital waiting times keep growing and nobody in charge seems to care.
"""


def _train_wordpiece() -> list[str]:
    """Train a BERT-style (lower-cased) WordPiece vocabulary on the corpus; return its tokens in id order.

    `tokenizers`' trainer breaks ties between equally frequent merges by hash-map order, which Python
    cannot seed, so the intermediate sub-words it keeps differ from run to run (observed: 605 or 606
    tokens). To be deterministic, training runs to saturation and keeps only the part every run agrees on:
    the special tokens, the alphabet (each character, and its `##` continuation form) and the corpus's
    whole words. Special tokens come first (`[PAD]` is id 0, as in BERT), the rest in sorted order.
    """
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=100_000, special_tokens=_SPECIAL_TOKENS, show_progress=False
    )
    lines = _CORPUS.splitlines()
    tokenizer.train_from_iterator(lines, trainer=trainer)
    words = {
        word
        for line in lines
        for word, _span in tokenizer.pre_tokenizer.pre_tokenize_str(tokenizer.normalizer.normalize_str(line))
    }
    learned = {
        token
        for token in tokenizer.get_vocab()
        if token not in _SPECIAL_TOKENS
        and (len(token) == 1 or (token.startswith("##") and len(token) == 3) or token in words)
    }
    return [*_SPECIAL_TOKENS, *sorted(learned)]


def _save_tokenizer(folder: Path, tokens: Sequence[str], model_max_length: int) -> None:
    """Save a BERT tokenizer for `tokens`: `vocab.txt`, `tokenizer.json` and `tokenizer_config.json`."""
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("".join(f"{token}\n" for token in tokens), encoding="utf-8")
    # transformers 5 builds BertTokenizer from a `vocab` mapping (a `vocab_file` argument is silently
    # ignored, leaving only the special tokens); transformers 4 reads `vocab_file`.
    if "vocab" in inspect.signature(transformers.BertTokenizer.__init__).parameters:
        tokenizer = transformers.BertTokenizer(
            vocab={token: i for i, token in enumerate(tokens)},
            do_lower_case=True,
            model_max_length=model_max_length,
        )
    else:
        tokenizer = transformers.BertTokenizerFast(  # type: ignore[attr-defined,unused-ignore]
            vocab_file=str(vocab_file), do_lower_case=True, model_max_length=model_max_length
        )
    tokenizer.save_pretrained(folder)


def _detoxify_checkpoint(
    model: transformers.BertForSequenceClassification, model_type: str, classes: Sequence[str]
) -> dict[str, object]:
    return {
        "config": {
            "arch": {
                "args": {
                    "model_type": model_type,
                    "model_name": "BertForSequenceClassification",
                    "tokenizer_name": "BertTokenizer",
                    "num_classes": len(classes),
                }
            },
            "dataset": {"args": {"classes": list(classes)}},
        },
        "state_dict": model.state_dict(),
    }


def _build(
    folder: Path,
    *,
    checkpoint_name: str,
    tokens: Sequence[str],
    classes: Sequence[str],
    seed: int,
    classifier_bias: float | None = None,
    **shape: Unpack[BertShape],
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _save_tokenizer(folder, tokens, model_max_length=shape["max_position_embeddings"])
    config = transformers.BertConfig(vocab_size=len(tokens), **shape)
    config.num_labels = len(classes)
    config.save_pretrained(folder)
    # fork_rng: seeding must not disturb the random state of whatever test or benchmark calls this.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.BertForSequenceClassification(config)
    if classifier_bias is not None:
        with torch.no_grad():
            model.classifier.bias.fill_(classifier_bias)
    checkpoint = _detoxify_checkpoint(model, str(folder), classes)
    # Written under a temporary name and renamed, so a checkpoint file that exists is a complete one.
    partial = folder / f"{checkpoint_name}.partial"
    torch.save(checkpoint, partial)
    os.replace(partial, folder / checkpoint_name)
    return folder


def build_tiny_checkpoint(
    folder: Path,
    classes: Sequence[str] = UNBIASED_CLASSES,
    seed: int = 0,
    classifier_bias: float | None = None,
) -> Path:
    """Build a tiny BERT Detoxify checkpoint (`tiny.ckpt`) and its Hugging Face files in `folder`.

    `classifier_bias` sets every class's output bias: a strongly negative one (the demo model uses -4) makes
    the random model score every text low, so a demo shows accepts instead of coin-flip reviews.

    Deterministic given `seed` and `folder` (the folder's path is written into the checkpoint's
    `model_type`, as Detoxify's loader expects). Returns `folder`.
    """
    return _build(
        folder,
        checkpoint_name=TINY_CHECKPOINT_NAME,
        tokens=_train_wordpiece(),
        classes=classes,
        seed=seed,
        classifier_bias=classifier_bias,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        # Wider than BERT's 0.02 so that random weights give scores that differ between texts.
        initializer_range=0.2,
    )


DEMO_BIAS = -4.0
"""The demo model's output bias: sigmoid(-4) is about 0.02 for every category, whatever the text."""


def build_demo_model(folder: Path) -> Path:
    """The demo model in `folder` (see the module's docstring). Returns `folder`."""
    return build_tiny_checkpoint(folder, classifier_bias=DEMO_BIAS)


def build_base_checkpoint(folder: Path) -> Path:
    """Build (once) a checkpoint with the architecture of Detoxify's `original` in `folder`.

    bert-base-uncased's shape: 12 layers, hidden 768, 12 heads, intermediate 3072, 512 positions, and the 6
    Jigsaw classes. The WordPiece vocabulary is trained on the small corpus above (a few hundred tokens, all
    the corpus allows) and padded with `[unusedN]` tokens, as BERT's own vocabulary is, up to 30522 entries,
    so the embedding matrix, the file size (~420 MB) and the load time are those of the real model. The
    weights are random: inference speed does not depend on them. If `folder` already holds a complete
    build from this builder version, returns at once.
    """
    marker = folder / _BASE_MARKER
    if marker.is_file() and (folder / BASE_CHECKPOINT_NAME).is_file():
        try:
            if json.loads(marker.read_text(encoding="utf-8")).get("version") == _BASE_BUILD_VERSION:
                return folder
        except ValueError:
            pass  # a damaged marker: rebuild
    trained = _train_wordpiece()
    filler = [f"[unused{i}]" for i in range(BERT_BASE_VOCAB_SIZE - len(trained))]
    _build(
        folder,
        checkpoint_name=BASE_CHECKPOINT_NAME,
        tokens=[*trained, *filler],
        classes=ORIGINAL_CLASSES,
        seed=0,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
    )
    marker.write_text(
        json.dumps({"version": _BASE_BUILD_VERSION, "trained_vocab": len(trained)}), encoding="utf-8"
    )
    return folder
