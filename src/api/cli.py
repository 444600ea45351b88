"""The ``lifecycle`` command."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import signal
import socket
import sys
import tempfile

from api import audit_cli, cli_setup, projections_cli
from api.logs import configure_logging
from api.settings import LOG_LEVELS, Settings

WORKER_HEALTHCHECK_SECONDS = 30
"""How long a worker may leave its supervisor's ping unanswered before it is replaced."""


def _serve(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    workers = args.workers if args.workers is not None else settings.workers
    if workers > 1:
        return _serve_workers(args, settings, workers)

    import uvicorn

    from api.app import create_app
    from api.bootstrap import build
    from api.connections import ConnectionLimits, LimitedConfig, fit_file_limit

    container = build(settings)
    app = create_app(container)
    # log_config=None: uvicorn's loggers propagate to the root's JSON handler. Its own
    # access log stays off: it would show raw paths (the email-preferences link's token);
    # api.observability logs each request with its route template instead.
    server = uvicorn.Server(
        LimitedConfig(
            app,
            limits=fit_file_limit(ConnectionLimits.of(settings)),
            keep_alive_seconds=settings.keep_alive_seconds,
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


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound for uvicorn's worker processes to accept on.

    Made here rather than by uvicorn's ``Config.bind_socket``, which creates it with
    protocol 0: asyncio sets ``TCP_NODELAY`` only on connections accepted from a socket
    whose protocol is TCP, and without it an answer written in two parts (head, then
    body) waits for the client's delayed acknowledgement, about 40 ms a request."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.set_inheritable(True)
    return sock


def _serve_workers(args: argparse.Namespace, settings: Settings, workers: int) -> int:
    """``workers`` HTTP processes on one socket (uvicorn's supervisor), and in this
    process the projections and the time-driven work. Request threads then never
    share an interpreter lock with the projections, whose batches would otherwise hold
    it for milliseconds at a time while requests queue behind them."""
    if settings.clock == "manual":
        print(
            "lifecycle serve: the manual clock lives in one process (it moves only by"
            " POST /v1/ops/clock/advance); serve it with --workers 1",
            file=sys.stderr,
        )
        return 2
    # Each process counts its requests and its time-driven work in files here, and a
    # scrape of any worker reads them all (prometheus_client's multiprocess mode). It
    # is chosen before prometheus_client is first imported, here and in the workers.
    metrics_dir = tempfile.mkdtemp(prefix="lifecycle-metrics.")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    if args.log_level:
        os.environ["LIFECYCLE_LOG_LEVEL"] = args.log_level  # the workers read it too
    from api.app import SUPERVISOR_PID_VARIABLE

    os.environ[SUPERVISOR_PID_VARIABLE] = str(os.getpid())  # the workers stop with it
    try:
        from uvicorn.config import STARTUP_FAILURE
        from uvicorn.supervisors import Multiprocess

        from api.bootstrap import build
        from api.connections import ConnectionLimits, LimitedConfig, fit_file_limit

        container = build(settings)  # the tables exist before any worker starts
        config = LimitedConfig(
            "api.app:worker_app",
            # The workers inherit this process's open-file limit, raised here if need be.
            limits=fit_file_limit(ConnectionLimits.of(settings)),
            keep_alive_seconds=settings.keep_alive_seconds,
            factory=True,
            host=args.host,
            port=args.port,
            workers=workers,
            # The supervisor pings each worker and replaces one that does not answer in
            # time; uvicorn's 5 s has been seen to replace a worker that was only slow on
            # a loaded machine, dropping its requests in flight.
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
            log_config=None,
            log_level=(args.log_level or settings.log_level).lower(),
            access_log=False,
        )
        try:
            sock = listening_socket(args.host, args.port)
        except BaseException:  # the port is taken, say: close the store, then re-raise
            container.close()
            raise
        # The supervisor takes SIGINT and SIGTERM from here on: it stops the workers
        # (each finishes its requests in flight) and returns.
        supervisor = Multiprocess(config, sockets=[sock])
        try:
            container.start()
            supervisor.run()
        finally:
            container.close()
            sock.close()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    failed = any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes)
    return 3 if failed else 0


def _erase(args: argparse.Namespace) -> int:
    from uuid import UUID

    from api.representations import instant
    from commands.context import Caller
    from commands.personal_data.erasure import erase_personal_data
    from lifecycle.errors import NotFound

    try:
        organisation_id = UUID(args.organisation_id)
    except ValueError:
        print(f"lifecycle erase: not an organisation id: {args.organisation_id!r}", file=sys.stderr)
        return 2
    container = cli_setup.open_existing(args.settings)
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


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"a number of processes from 1 to 64, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lifecycle",
        description="Event-sourced subscription lifecycle service. Settings come from "
        "LIFECYCLE_* environment variables (see README); a setting that cannot be used "
        "is named on stderr and the command exits 2. The commands other than serve work "
        "on an existing event log: they never create a database, and say on stderr "
        "which one they read.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="start the HTTP service, its projections and its time-driven work",
        description="Serve the HTTP API on HOST:PORT, follow the event log with the "
        "projections and run the time-driven work. Creates the database (LIFECYCLE_DATABASE_URL) "
        "and its tables if need be. Stops gracefully on SIGTERM.",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="TCP port to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--log-level",
        default=None,
        type=str.upper,
        choices=LOG_LEVELS,
        metavar="LEVEL",
        help=f"{', '.join(LOG_LEVELS)} (overrides LIFECYCLE_LOG_LEVEL)",
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        default=None,
        metavar="N",
        help="HTTP worker processes on the one port (overrides LIFECYCLE_WORKERS, default 1);"
        " with more than one, the projections and the time-driven work run in a process of"
        " their own beside them",
    )
    serve.set_defaults(run=_serve, prog=serve.prog)
    erase = commands.add_parser(
        "erase",
        help="make an organisation's personal data unreadable for good (deletes its data key)",
        description="Deletes the organisation's data key for good and records who asked and "
        "when. Its subscriptions and contracts carry on; its personal fields read '[erased]'; "
        "the audit chain still verifies. Repeating it changes nothing.",
    )
    erase.add_argument(
        "organisation_id", metavar="ORGANISATION_ID", help="the organisation's id (a UUID)"
    )
    erase.set_defaults(run=_erase, prog=erase.prog)
    audit_cli.add_commands(commands)
    projections_cli.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.settings = cli_setup.settings()
    except cli_setup.Refused as refused:
        return refused.report("lifecycle")
    configure_logging(
        args.settings.log_format, getattr(args, "log_level", None) or args.settings.log_level
    )
    try:
        return int(args.run(args))
    except cli_setup.Refused as refused:
        return refused.report(args.prog)


if __name__ == "__main__":
    sys.exit(main())
