"""How a rescoring run ends: its exit statuses, and the two exceptions that choose between them.

Exit statuses (the `diff` convention, for a policy repository's CI):
    0    done, no verdict changed        (rows without a previous verdict never count as changed)
    1    done, at least one verdict changed
    2    usage or input error: bad arguments, unreadable input, a progress file of another run
    3    the run failed (the model failed on a batch, Redis unavailable for --from-log); resumable
    130  interrupted (Ctrl-C or SIGTERM); resumable
Bad rows do not change the exit status; the summary counts them.

    Exception
     ├── RescoreError    usage or input              → 2
     └── RescoreFailed   the run could not go on     → 3
    KeyboardInterrupt    Ctrl-C, or SIGTERM turned into it by the command  → 130
The command (`service.rescore.cli`) also maps the rules' and the model's loading errors to 2, and an
unavailable Redis to 3.

An interrupt is also recorded (`request_stop`) by the command's signal handler, and the runs raise
KeyboardInterrupt at the next chunk boundary when it is (`raise_if_stopped`): Python drops an exception
raised while it runs a finalizer ("Exception ignored in ... __del__"), so a Ctrl-C that lands there would
otherwise be lost and the run would go on to the end.
"""

from __future__ import annotations

import threading

_STOP = threading.Event()


def request_stop() -> None:
    """Record an interrupt (the command's signal handler)."""
    _STOP.set()


def clear_stop() -> None:
    """Forget a recorded interrupt (the command, before a run)."""
    _STOP.clear()


def raise_if_stopped() -> None:
    """Raise KeyboardInterrupt if an interrupt was recorded: called where the run can stop and resume."""
    if _STOP.is_set():
        raise KeyboardInterrupt


EXIT_SAME, EXIT_CHANGED, EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class RescoreError(Exception):
    """A usage or input problem (exit 2)."""


class RescoreFailed(Exception):
    """The run could not go on (exit 3); what was written so far stays resumable."""
