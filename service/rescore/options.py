"""What a rescoring run was asked to do: the command's options, their defaults, and the formats they imply.

The file run (`service.rescore.run`) and the decision-log run (`service.rescore.from_log`) take the same
`Options`, so it lives under both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service.rescore.errors import RescoreError

DEFAULT_BATCH_SIZE = 256
DEFAULT_EXAMPLES = 3
DEFAULT_RAY_WINDOW = 50_000
FORMATS = ("jsonl", "csv")


@dataclass
class Options:
    input: str = "-"
    output: str | None = None
    input_format: str | None = None
    output_format: str | None = None
    previous_column: str = "verdict"
    errors: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    workers: int = 1
    ray: str | None = None
    ray_window: int = DEFAULT_RAY_WINDOW
    restart: bool = False
    examples: int = DEFAULT_EXAMPLES
    progress: bool = True
    summary_json: str | None = None


def format_of(path: str | None, given: str | None, fallback: str | None) -> str:
    """`given`, else what the file's extension says, else `fallback`. Raises RescoreError when none tells."""
    if given:
        return given
    if path and path != "-":
        suffix = Path(path).suffix.lower()
        if suffix in (".jsonl", ".ndjson", ".json"):
            return "jsonl"
        if suffix == ".csv":
            return "csv"
    if fallback:
        return fallback
    raise RescoreError(f"cannot tell the format of {path or 'stdin'}; pass --format jsonl or csv")
