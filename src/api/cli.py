"""The ``lifecycle`` command."""

from __future__ import annotations

import argparse
import logging
import sys

from api import audit_cli, projections_cli
from api.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.bootstrap import build

    settings = Settings()
    container = build(settings)
    app = create_app(container)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lifecycle",
        description="Event-sourced subscription lifecycle service. Settings come from "
        "LIFECYCLE_* environment variables (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="start the HTTP service, its projections and its time-driven work"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(run=_serve)
    audit_cli.add_commands(commands)
    projections_cli.add_commands(commands)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
