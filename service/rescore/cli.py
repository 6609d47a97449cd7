"""`moderation rescore`: re-judge comments in bulk on the API's own pipeline, and say which verdicts change.

The command: its arguments, its exit statuses (service.rescore.errors), and SIGTERM handled like Ctrl-C. A
file or stdin is rescored by `service.rescore.run`, the decision log by `service.rescore.from_log`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from types import FrameType

from service.config import get_settings
from service.model.base import ModelLoadError
from service.moderation.policy import PolicyError
from service.rescore.errors import (
    EXIT_CHANGED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_SAME,
    EXIT_USAGE,
    RescoreError,
    RescoreFailed,
    clear_stop,
    request_stop,
)
from service.rescore.options import DEFAULT_BATCH_SIZE, DEFAULT_EXAMPLES, DEFAULT_RAY_WINDOW, FORMATS, Options
from service.store.base import StoreUnavailable
from service.wordlist.rules import WordListError

#: The rules or the model cannot be loaded as configured: a usage error, like a bad argument.
_CONFIGURATION_ERRORS = (PolicyError, WordListError, ModelLoadError)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "rescore",
        help="re-judge comments in bulk (a JSONL/CSV file or the decision log) and report what changes",
        description=__doc__.split("\n\n")[0],
        epilog=(
            "exit status: 0 no verdict changed, 1 some verdict changed, 2 usage or input error, "
            "3 the run failed (resumable), 130 interrupted (resumable). Bad rows go to the errors file and "
            "do not change the exit status. An interrupted run with an output file resumes when run again "
            "with the same arguments; stdin input or stdout output cannot be resumed."
        ),
    )
    p.add_argument(
        "input",
        nargs="?",
        default="-",
        metavar="INPUT",
        help="JSONL or CSV file of comments (id, text, optionally a previous verdict); - for stdin",
    )
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="output file (JSONL or CSV, by its extension); default stdout (not resumable)",
    )
    p.add_argument(
        "--format",
        dest="input_format",
        choices=FORMATS,
        default=None,
        help="input format (default: from the extension; jsonl for stdin)",
    )
    p.add_argument(
        "--output-format",
        choices=FORMATS,
        default=None,
        help="output format (default: from the output's extension, else the input's)",
    )
    p.add_argument(
        "--previous-column",
        default="verdict",
        help="the input column holding the previous verdict (default: %(default)s); accept, "
        "review, reject or a comment status (accepted, rejected, approved, ...)",
    )
    p.add_argument(
        "--errors", default=None, help="errors file (default: OUTPUT.errors.jsonl; stderr without -o)"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help="comments per chunk handed to the pipeline, and per checkpoint (default: %(default)s)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each with its own model (default 1: in this process); with --ray, "
        "the number of Ray actors",
    )
    p.add_argument(
        "--ray",
        default=None,
        metavar="ADDRESS",
        help="score on a Ray cluster through Ray Data (ADDRESS, or 'auto' for a local runtime); "
        "needs the 'ray' extra: pip install 'comment-moderation[ray]'",
    )
    p.add_argument(
        "--ray-window",
        type=int,
        default=DEFAULT_RAY_WINDOW,
        help="rows handed to Ray Data at a time (bounds the driver's memory; default %(default)s)",
    )
    p.add_argument(
        "--restart", action="store_true", help="discard an interrupted run's progress and start over"
    )
    p.add_argument(
        "--examples", type=int, default=DEFAULT_EXAMPLES, help="examples per change in the summary"
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar or lines")
    p.add_argument("--summary-json", default=None, metavar="PATH", help="also write the summary as JSON")
    p.add_argument(
        "--from-log",
        action="store_true",
        help="re-judge the Redis decision log (REDIS_URL) instead of a file; writes nothing to Redis",
    )
    p.add_argument(
        "--apply",
        action="store_true",
        help="with --from-log: record the changed verdicts (never over a moderator's decision)",
    )
    p.add_argument("--limit", type=int, default=None, help="with --from-log: at most this many comments")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # The runs build the whole pipeline (model, word lists, Redis client: about half a second of imports).
    # Imported when the command runs, so the other commands - `moderation probe`, the container's health
    # check every 30 s - don't pay for it.
    from service.rescore.from_log import rescore_log
    from service.rescore.run import rescore_file

    settings = get_settings()
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=settings.LOG_LEVEL,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
    opts = Options(**{k: getattr(args, k) for k in Options.__dataclass_fields__})
    # SIGTERM (a scheduler stopping the job) is handled like Ctrl-C: the run stops between writes, resumable.
    # Both are also recorded, for the runs to stop at their next chunk should the KeyboardInterrupt be lost
    # (service.rescore.errors). (SIGINT keeps asyncio's own handling for --from-log: its runner takes SIGINT
    # only while the default handler is installed.)
    clear_stop()
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    previous_int = None if args.from_log else signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        if args.apply and not args.from_log:
            raise RescoreError("--apply goes with --from-log")
        if args.from_log:
            summary = asyncio.run(rescore_log(settings, opts, apply=args.apply, limit=args.limit))
        else:
            summary = rescore_file(settings, opts)
    except RescoreError as exc:
        print(f"moderation rescore: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RescoreFailed as exc:
        print(f"moderation rescore: {exc}; run the same command again to resume", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("moderation rescore: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _CONFIGURATION_ERRORS as exc:
        print(f"moderation rescore: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreUnavailable as exc:
        print(f"moderation rescore: Redis unavailable: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        if previous_int is not None:
            signal.signal(signal.SIGINT, previous_int)
    return EXIT_CHANGED if summary.changed else EXIT_SAME


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    request_stop()
    raise KeyboardInterrupt
