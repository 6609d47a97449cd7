"""The Ray Data path (`--ray`) on a local Ray runtime gives exactly the local path's output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.rescore.options import Options
from service.rescore.run import rescore_file
from tests.support.rescore import comments, read_jsonl
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings

ray = pytest.importorskip(
    "ray", reason="Ray is not installed: pip install -e '.[ray]' (make test installs it)"
)
pytestmark = [
    pytest.mark.ray,
    pytest.mark.slow,
    # Ray Data (2.60 here) builds its DataContext by setting every field, its own deprecated options
    # included, and warns about each (use_polars, use_arrow_tensor_v2, ...); not our code.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context"),
]


@pytest.fixture(scope="module")
def local_ray(repo_root: Path) -> Iterator[None]:
    # The actors import tests.support.scorers.MarkerScorer, so they need the repository on their path.
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(repo_root)}},
    )
    yield
    ray.shutdown()


def test_ray_data_gives_the_local_verdicts(tmp_path: Path, local_ray: None) -> None:
    rows = comments(300)
    lines = [json.dumps(r) for r in rows]
    lines[5] = "{broken"
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    local = rescore_file(
        make_settings(),
        Options(input=str(src), output=str(tmp_path / "local.jsonl"), batch_size=32, progress=False),
        scorer_factory=MarkerScorer,
    )
    # Two actors, in order: verdicts come back as the driver handed the rows out.
    remote = rescore_file(
        make_settings(),
        Options(
            input=str(src),
            output=str(tmp_path / "ray.jsonl"),
            batch_size=32,
            workers=2,
            ray="auto",
            progress=False,
        ),
        scorer_factory=MarkerScorer,
    )
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert len(read_jsonl(tmp_path / "ray.jsonl")) == 299
    assert {**remote.to_json(), "elapsed_s": 0} == {**local.to_json(), "elapsed_s": 0}
    assert remote.bad == 1 and remote.changed == 120
