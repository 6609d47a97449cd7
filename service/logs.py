"""What every log line goes through: control characters escaped, credentials in URLs masked.

A log line is one record only if nothing a client sent can end it. Request paths reach the log percent-decoded
(uvicorn's access line, our own error lines), comment ids and header values are the client's, and an
exception's message may quote any of them; a raw CR or LF there starts a line that looks like another
record, an ESC drives the terminal that shows the log, and a bidi override reorders what the reader sees.
So `SafeFormatter` escapes, in the message and in its arguments as formatted:

    CR LF TAB          \\r \\n \\t
    other C0, DEL, C1  \\xNN          (NEL, U+0085, included: some viewers break lines on it)
    bidi controls      \\uNNNN        (U+061C, U+200E-200F, U+202A-202E, U+2066-2069)
    line separators    \\u2028 \\u2029

and masks the password of every URL in the line with `service.store.redis.mask_url` (the one masking
function: the webhook URL, a Redis URL, whatever a message quotes), and the value of every secret-bearing
query parameter (`?key=`: Perspective's clients send their API key there, and uvicorn's access line quotes the
request's path and query; `?token=`: a comment's status token; `?appeal_token=`: its appeal token), with or
without a scheme in front. A traceback keeps its line breaks, every line of it indented, so that only a
record's first line starts at column 0.

`configure_logging` installs the formatter on the root logger's handler when the service sets up logging
itself (`moderation serve`, or an app created where nothing has configured logging yet). uvicorn's loggers
(`uvicorn.error`, `uvicorn.access`) reach that handler too: `moderation serve` starts uvicorn with
`log_config=None`, so uvicorn installs no handlers of its own and its records propagate to the root.
"""

from __future__ import annotations

import logging
import re
import sys

from service.store.redis import mask_url

#: The records' layout (the one `logging.basicConfig` used before this module).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# A scheme, "://", then everything up to a character a URL in a log line does not hold; mask_url decides what
# in it is a password.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>`]+")
# The query parameters that carry a credential, wherever a line quotes a query.
_SECRET_PARAM = re.compile(
    r"(?i)([?&](?:key|api[_-]?key|token|access_token|appeal_token|password|secret)=)[^&#\s\"'<>`]*"
)


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """`text` with every control character (C0, DEL, C1, bidi controls, line separators) escaped."""
    return _CONTROLS.sub(_escape_one, text)


def mask_urls(text: str) -> str:
    """`text` with the password of every URL in it replaced by *** (see `mask_url`)."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: mask_url(m.group()), text)


def mask_secret_params(text: str) -> str:
    """`text` with the value of every credential query parameter (`?key=`, `&token=`, ...) replaced by ***."""
    if "=" not in text:
        return text
    return _SECRET_PARAM.sub(r"\1***", text)


def safe_text(text: str) -> str:
    """One log line's worth of `text`: URLs and credential parameters masked, control characters escaped."""
    return escape_controls(mask_secret_params(mask_urls(text)))


class SafeFormatter(logging.Formatter):
    """A Formatter whose records cannot carry raw control characters or URL passwords into the log."""

    def format(self, record: logging.LogRecord) -> str:
        # The record itself is left alone: other handlers (and uvicorn's access formatter) read msg and args.
        record.message = safe_text(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + _indented(record.exc_text)
        if record.stack_info:
            line += "\n" + _indented(self.formatStack(record.stack_info))
        return line


def _indented(block: str) -> str:
    # Line by line: each escaped (an exception's message may hold a CR, an ESC...) and indented, so the
    # block's own lines stay readable and none of them can pass for a record of its own.
    return "\n".join("  " + safe_text(line) for line in block.split("\n"))


def configure_logging(level: str) -> None:
    """Log at `level` through a `SafeFormatter` on stderr, unless logging is configured already (a host
    application, or the test runner, owns the root logger then)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(SafeFormatter(LOG_FORMAT))
        root.addHandler(handler)
        root.setLevel(level)
    logging.getLogger("service").setLevel(level)
