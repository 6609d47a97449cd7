"""`python -m service` is `moderation`; with no subcommand it serves, as `moderation serve` does."""

import sys

from service.cli import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:] or ["serve"]))
