"""The `moderation` command.

Each subcommand lives in the module that owns it and registers itself through a `register(subparsers)`
function that adds its parser and sets `func` (a callable taking the parsed args, returning an exit status).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _register_serve(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("serve", help="run the HTTP service (uvicorn)")
    p.add_argument("--host", default=None, help="bind address (default: MODERATION_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: MODERATION_PORT or 8000)")
    p.add_argument("--reload", action="store_true", help="restart on code changes (development only)")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from service import runtime
    from service.app import create_app
    from service.config import get_settings
    from service.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.LOG_LEVEL)
    host: str = args.host or settings.HOST
    port: int = args.port or settings.PORT
    log_level = settings.LOG_LEVEL.lower()
    # log_config=None: uvicorn installs no handlers of its own, so its lines (the access log quotes the
    # client's path) go through the service's escaping formatter like every other (service/logs.py).
    if args.reload:
        # The reloader imports the app anew in a child process on every change: it needs the factory.
        uvicorn.run(
            "service.app:create_app",
            factory=True,
            reload=True,
            host=host,
            port=port,
            log_level=log_level,
            log_config=None,
        )
        return 0
    # Loaded here, before the server starts, so that a configuration that cannot run is said in one
    # paragraph with its remedies, not in a server's traceback.
    try:
        components = runtime.load_components(settings)
    except runtime.StartupError as exc:
        logging.getLogger("service").critical("%s", exc)
        logging.getLogger("service").debug("startup failed", exc_info=True)
        return 2
    uvicorn.run(
        create_app(settings, components=components),
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,
    )
    return 0


def _register_probe(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "probe", help="exit 0 when a running service answers ready (container healthcheck)"
    )
    p.add_argument(
        "--url", default="http://127.0.0.1:8000/readyz", help="the endpoint to ask (default: %(default)s)"
    )
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    p.set_defaults(func=_probe)


def _probe(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(args.url, timeout=args.timeout) as response:
            print(response.read().decode("utf-8", "replace"))
            return 0
    except urllib.error.HTTPError as exc:
        print(f"{args.url}: HTTP {exc.code} {exc.read().decode('utf-8', 'replace')}", file=sys.stderr)
    except (urllib.error.URLError, OSError) as exc:
        print(f"{args.url}: no answer ({exc})", file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moderation", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _register_serve(subparsers)
    _register_probe(subparsers)
    from service.model import cli as model_cli
    from service.wordlist import cli as wordlist_cli

    wordlist_cli.register(subparsers)
    model_cli.register(subparsers)
    from service.rescore import cli as rescore_cli

    rescore_cli.register(subparsers)
    from service.sites import cli as keys_cli

    keys_cli.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
