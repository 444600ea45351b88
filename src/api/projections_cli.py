"""``lifecycle projections status`` and ``lifecycle projections rebuild NAME``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO


PROJECTIONS = ("due_work", "notifications", "audit_chain", "profiles", "contracts")
"""The projections' names, as ``api.bootstrap.build`` makes them (a test holds the two
together)."""


def _container(args: argparse.Namespace) -> Any:
    from api.cli_setup import open_existing

    return open_existing(args.settings)


def progress_bar(stream: TextIO, width: int = 40) -> Any:
    """A one-line progress bar on ``stream`` (stderr): position / head."""

    def show(position: int, head: int) -> None:
        done = 1.0 if head <= 0 else min(1.0, position / head)
        filled = int(done * width)
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {position}/{head} {done:6.1%}")
        if position >= head:
            stream.write("\n")
        stream.flush()

    return show


def _status(args: argparse.Namespace) -> int:
    from api.routes.ops import projection_status

    container = _container(args)
    try:
        rows = projection_status(container)
    finally:
        container.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<16}{'status':<12}{'position':>10}{'head':>10}{'lag':>8}")
    for row in rows:
        print(f"{row['name']:<16}{row['status']:<12}{row['position']:>10}{row['head']:>10}{row['lag']:>8}")
        if row.get("error"):
            print(f"    error at {row.get('failed_position')}: {row['error']}")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    from projections.rebuild import RebuildFailed

    if args.name not in PROJECTIONS:
        print(
            f"{args.prog}: unknown projection {args.name!r}; one of {', '.join(PROJECTIONS)}",
            file=sys.stderr,
        )
        return 2
    container = _container(args)
    try:
        generation = container.rebuilder(args.name).run(progress_bar(sys.stderr))
    except RebuildFailed as error:
        print(f"\n{error}; the previous copy keeps serving", file=sys.stderr)
        return 1
    finally:
        container.close()
    print(f"{args.name} rebuilt: generation {generation}")
    return 0


def add_commands(commands: Any) -> None:
    projections = commands.add_parser(
        "projections",
        help="projection status and rebuilds",
        description="The read models that follow the event log: their status, and "
        "rebuilds from the log beside the serving copy (docs/operations.md).",
    )
    sub = projections.add_subparsers(
        dest="projections_command", required=True, metavar="SUBCOMMAND"
    )
    status = sub.add_parser(
        "status",
        help="each projection's position, head, lag and status",
        description="Each projection's position, the log's head, the lag between them, "
        "its status (live, rebuilding, failed) and its last error.",
    )
    status.add_argument(
        "--json", action="store_true", help="print the rows as JSON instead of a table"
    )
    status.set_defaults(run=_status, prog=status.prog)
    rebuild = sub.add_parser(
        "rebuild",
        help="rebuild a projection from the event log beside the serving copy",
        description="Fill a new copy of the projection from position 0 beside the serving "
        "one and swap it in when it has caught up; a progress bar on stderr. Exit 1 if it "
        "fails (the previous copy keeps serving).",
    )
    rebuild.add_argument(
        "name", metavar="NAME", help=f"the projection: one of {', '.join(PROJECTIONS)}"
    )
    rebuild.set_defaults(run=_rebuild, prog=rebuild.prog)
