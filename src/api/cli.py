"""The ``lifecycle`` command."""

from __future__ import annotations

import argparse
import getpass
import json
import signal
import sys

from api import audit_cli, projections_cli
from api.logs import configure_logging
from api.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.bootstrap import build

    settings = Settings()
    container = build(settings)
    app = create_app(container)
    # log_config=None: uvicorn's loggers propagate to the root's JSON handler. Its own
    # access log stays off: it would show raw paths (the email-preferences link's token);
    # api.observability logs each request with its route template instead.
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_config=None,
            log_level=(args.log_level or settings.log_level).lower(),
            access_log=False,
        )
    )
    # uvicorn stops gracefully on SIGTERM, then raises the signal again once its own
    # handler is gone, so that the default action ends the process (status 143). With
    # the server's handler in place of the default, that second delivery only asks an
    # already stopped server to stop, and a graceful stop exits 0. A SIGTERM that
    # arrives before uvicorn takes over the signal stops the server as it starts.
    signal.signal(signal.SIGTERM, server.handle_exit)
    server.run()
    return 0 if server.started else 3  # 3: uvicorn's status when the server cannot start


def _erase(args: argparse.Namespace) -> int:
    from uuid import UUID

    from api.bootstrap import build
    from api.representations import instant
    from commands.context import Caller
    from commands.personal_data.erasure import erase_personal_data
    from lifecycle.errors import NotFound

    try:
        organisation_id = UUID(args.organisation_id)
    except ValueError:
        print(f"lifecycle erase: not an organisation id: {args.organisation_id!r}", file=sys.stderr)
        return 2
    container = build(Settings())
    try:
        caller = Caller.of(f"cli:{getpass.getuser()}")
        outcome = erase_personal_data(container.services, caller, organisation_id)
    except NotFound as error:
        print(f"lifecycle erase: {error.detail}", file=sys.stderr)
        return 1
    finally:
        container.close()
    erased_at = outcome.value.personal_data_erased_at
    assert erased_at is not None
    print(
        json.dumps(
            {
                "organisation_id": str(organisation_id),
                "personal_data_erased_at": instant(erased_at),
                "position": outcome.position,
            }
        )
    )
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
    serve.add_argument("--log-level", default=None, help="overrides LIFECYCLE_LOG_LEVEL")
    serve.set_defaults(run=_serve)
    erase = commands.add_parser(
        "erase",
        help="make an organisation's personal data unreadable for good (deletes its data key)",
        description="Deletes the organisation's data key for good and records who asked and "
        "when. Its subscriptions and contracts carry on; its personal fields read '[erased]'; "
        "the audit chain still verifies. Repeating it changes nothing.",
    )
    erase.add_argument("organisation_id", metavar="ORGANISATION_ID")
    erase.set_defaults(run=_erase)
    audit_cli.add_commands(commands)
    projections_cli.add_commands(commands)
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_format, getattr(args, "log_level", None) or settings.log_level)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
