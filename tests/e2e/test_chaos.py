"""The fault run's and the soak's own checks: that the records check sees each kind of loss in what the
service really writes to Redis, and that both scripts run end to end (briefly, without faults: `make chaos`
is the real run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.store.keys import Keys
from tests.e2e.faults import Answered, CommentMaker, check_records, journal_depth, percentile

REPO = Path(__file__).resolve().parents[2]


def _moderate(client, maker: CommentMaker, kinds: list[str]) -> dict[str, Answered]:
    answered: dict[str, Answered] = {}
    wanted = list(kinds)
    while wanted:
        kind, comment = maker.next()
        if kind not in wanted:
            continue
        wanted.remove(kind)
        answer = client.post("/v1/moderate", json=comment)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["verdict"] == kind, (comment, body["verdict"])
        answered[comment["id"]] = Answered(body["verdict"], body["status_token"])
    return answered


def test_records_check_passes_what_the_service_wrote_and_names_each_loss(
    make_client, redis_url, key_prefix, raw_redis
):
    client = make_client(REDIS_URL=redis_url, REDIS_PREFIX=key_prefix)
    keys = Keys(key_prefix)
    answered = _moderate(
        client, CommentMaker("t"), ["accept", "accept", "reject", "reject", "review", "review"]
    )

    clean = check_records(raw_redis, keys, answered)
    assert clean.violations() == {}
    assert (clean.statuses_found, clean.log_entries_found, clean.queue_length, clean.pending_statuses) == (
        6,
        4,
        2,
        2,
    )

    by_kind: dict[str, list[str]] = {}
    for comment_id, a in answered.items():
        by_kind.setdefault(a.verdict, []).append(comment_id)
    # Each loss the issue describes, made by hand in what the service wrote:
    raw_redis.delete(keys.comment(by_kind["accept"][0]))  # a status that never reached Redis
    log = raw_redis.xrange(keys.decision_log())
    reject_entry = next(i for i, f in log if f["comment_id"] == by_kind["reject"][0])
    raw_redis.xdel(keys.decision_log(), reject_entry)  # a rejection's log entry lost
    raw_redis.zrem(keys.review_queue(), by_kind["review"][0])  # pending_review without its queue entry
    raw_redis.zadd(keys.review_queue(), {"stranger": 1})  # a queue entry without a status
    answered["never-recorded"] = Answered("review", None)  # answered, then nothing written at all

    found = check_records(raw_redis, keys, answered)
    assert found.lost == sorted([by_kind["accept"][0], "never-recorded"])
    assert found.log_missing == [by_kind["reject"][0]]
    assert found.reviews_not_queued == [by_kind["review"][0]]
    assert found.pending_not_queued == [by_kind["review"][0]]
    assert found.queued_not_pending == ["stranger"]
    assert found.without_token == 1
    assert set(found.violations()) == {
        "lost records (no status, no log entry)",
        "log entries missing (review/reject with a status only)",
        "answered reviews not in the queue",
        "queued ids not pending_review",
        "pending_review statuses not queued",
    }


def test_a_review_the_overflow_lost_is_not_a_queue_violation(make_client, redis_url, key_prefix, raw_redis):
    """The service marks what fell out of the full overflow (queue=lost): counted by the service, still
    pending_review and never published, so not an inconsistency of the queue."""
    client = make_client(
        REDIS_URL=redis_url, REDIS_PREFIX=key_prefix, REVIEW_QUEUE_MAX=1, REVIEW_OVERFLOW_MAX=0
    )
    answered = _moderate(client, CommentMaker("o"), ["review", "review"])
    check = check_records(raw_redis, Keys(key_prefix), answered)
    assert check.queue_length == 1 and check.pending_statuses == 2
    assert check.violations() == {}


def test_journal_depth_reads_the_journal_records_gauge_and_says_when_there_is_none():
    assert journal_depth("# HELP x\nmoderation_verdicts_total 3\n") is None
    text = (
        "moderation_journal_records_total 9\nmoderation_journal_records 4.0\nmoderation_journal_bytes 900\n"
    )
    assert journal_depth(text) == 4.0


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
    assert percentile([], 99) == 0.0


def _script(module: str, tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    run_env = {**os.environ, "CHAOS_RESULTS_DIR": str(tmp_path), **env}
    done = subprocess.run(
        [sys.executable, "-m", module], cwd=REPO, env=run_env, capture_output=True, text=True, timeout=300
    )
    name = module.rsplit(".", 1)[1]
    summary = (
        json.loads((tmp_path / f"{name}.json").read_text()) if (tmp_path / f"{name}.json").exists() else {}
    )
    return done, summary


@pytest.mark.slow
def test_fault_run_without_faults_passes_and_accounts_for_every_comment(tmp_path):
    done, summary = _script("tests.e2e.chaos", tmp_path, CHAOS_FAULTS="0", CHAOS_SECONDS="6", CHAOS_RATE="30")
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary["violations"] == {} and summary["failed_outside_restart"] == 0
    assert summary["comments_answered"] > 50
    assert summary["records"]["statuses_found"] == summary["comments_answered"]
    assert set(summary["verdicts"]) == {"accept", "review", "reject"}
    assert "| lost records (no status, no log entry) | 0" in done.stdout


@pytest.mark.slow
def test_soak_runs_end_to_end_and_reports_every_slice(tmp_path):
    # Judged leniently here (a few seconds on a shared machine prove nothing about stability): this checks
    # that the ramp, the open loop, the RSS samples and the table work; `make soak` is the real run.
    done, summary = _script(
        "tests.e2e.soak",
        tmp_path,
        SOAK_SECONDS="10",
        SOAK_RAMP_STEP_S="1",
        SOAK_P99_FLOOR_MS="60000",
        SOAK_RSS_GROWTH_MAX="5",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary["capacity_rps"] > 0 and len(summary["slices"]) == 10
    assert summary["rss_baseline_mb"] and summary["rss_end_mb"]
    assert sum(s["answered"] for s in summary["slices"]) > 0
    assert "| RSS slice 2 -> slice 10 (median) |" in done.stdout
